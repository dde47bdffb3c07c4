"""The UDP receiver for externalMedia RTP: one port for every stream.

Asterisk sends each externalMedia channel's audio from the address it reports in the
channel variables ``UNICASTRTP_LOCAL_ADDRESS`` / ``UNICASTRTP_LOCAL_PORT``; that source
address tells the streams apart. Datagrams from any other source are dropped and counted.
A stream that stops sending for ``idle_s`` is flushed and told so (its current utterance is
finalised); if it starts again it simply continues.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .rtp import BadPacket, JitterBuffer, parse, to_little_endian

log = logging.getLogger(__name__)

WILDCARD = ("", "0.0.0.0", "::")


@dataclass
class RtpStream:
    key: str
    sink: Callable[[bytes], None]  # 16-bit little-endian audio, in order, gaps filled
    on_idle: Callable[[], None]
    jitter: JitterBuffer = field(default_factory=JitterBuffer)
    first_at: float = 0.0  # wall clock of the first packet
    last_at: float = 0.0  # monotonic clock of the last packet
    idle: bool = False


class RtpReceiver(asyncio.DatagramProtocol):
    """Demultiplexes RTP by source address into per-stream jitter buffers."""

    def __init__(self, metrics: Any = None, idle_s: float = 1.0) -> None:
        self.metrics = metrics
        self.idle_s = idle_s
        self.by_source: dict[tuple[str, int], RtpStream] = {}
        self.by_port: dict[int, RtpStream] = {}
        self.dropped: Counter[str] = Counter()
        self.packets = 0
        self.transport: asyncio.DatagramTransport | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, port))
        self.transport = transport
        self._watch = asyncio.create_task(self._watch_idle(), name="rtp-idle")
        return int(transport.get_extra_info("sockname")[1])

    def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.transport is not None:
            self.transport.close()

    def expect(self, source_host: str, source_port: int, stream: RtpStream) -> None:
        """Accept ``stream``'s packets from this source (a wildcard host: any host)."""
        if source_host in WILDCARD:
            self.by_port[source_port] = stream
        else:
            self.by_source[(source_host, source_port)] = stream

    def forget(self, key: str) -> RtpStream | None:
        found = None
        for table in (self.by_source, self.by_port):
            for k, st in list(table.items()):
                if st.key == key:
                    del table[k]  # type: ignore[arg-type]
                    found = st
        if found is not None:
            rest = found.jitter.flush()
            if rest:
                found.sink(b"".join(to_little_endian(p) for p in rest))
        return found

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        host, port = str(addr[0]), int(addr[1])
        st = self.by_source.get((host, port)) or self.by_port.get(port)
        if st is None:
            self._drop("unknown_source")
            return
        try:
            packet = parse(data)
        except BadPacket as exc:
            self._drop(exc.reason)
            return
        self.packets += 1
        if self.metrics is not None:
            self.metrics.rtp_packets.inc()
        now = time.monotonic()
        if not st.first_at:
            st.first_at = time.time()
        st.last_at, st.idle = now, False
        j = st.jitter.stats
        before = (j.late, j.duplicate, j.lost)
        ready = st.jitter.push(packet)
        if (j.late, j.duplicate, j.lost) != before:
            self._jitter_counts(before, (j.late, j.duplicate, j.lost))
        if ready:
            st.sink(b"".join(to_little_endian(p) for p in ready))

    def _jitter_counts(self, before: tuple[int, int, int], after: tuple[int, int, int]) -> None:
        late, dup, lost = (a - b for a, b in zip(after, before, strict=True))
        if late:
            self._drop("late", late)
        if dup:
            self._drop("duplicate", dup)
        if lost and self.metrics is not None:
            self.metrics.rtp_lost.inc(lost)

    def _drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n
        if self.metrics is not None:
            self.metrics.rtp_dropped.labels(reason=reason).inc(n)

    async def _watch_idle(self) -> None:
        while True:
            await asyncio.sleep(self.idle_s / 4)
            now = time.monotonic()
            streams = {id(s): s for s in (*self.by_source.values(), *self.by_port.values())}
            for st in streams.values():
                if st.last_at and not st.idle and now - st.last_at > self.idle_s:
                    st.idle = True
                    rest = st.jitter.flush()
                    try:
                        if rest:
                            st.sink(b"".join(to_little_endian(p) for p in rest))
                        st.on_idle()
                    except Exception:
                        log.exception("RTP stream %s: idle handler failed", st.key)
