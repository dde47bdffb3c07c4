"""RTP from Asterisk's externalMedia channels, as pure pieces: the packet parser and a
per-stream jitter buffer.

Asterisk sends slin16 as payload type 118, 640-byte big-endian payloads every 20 ms (see
``../shared/asterisk/captures/external_media_rtp_summary.json``). The jitter buffer puts
packets back in order within a short window, drops duplicates and late packets, fills lost
packets with silence so the stream's clock keeps time, and starts over when the sender jumps
(a new SSRC, or a sequence number far from the expected one).
"""

from __future__ import annotations

import collections
import struct
import sys
from array import array
from dataclasses import dataclass, field

PAYLOAD_TYPE = 118
SAMPLE_RATE = 16000
FRAME_SAMPLES = 320
FRAME_BYTES = 2 * FRAME_SAMPLES
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
_HEADER = struct.Struct("!BBHII")


@dataclass(frozen=True)
class RtpPacket:
    seq: int
    timestamp: int
    ssrc: int
    payload_type: int
    payload: bytes  # as sent: big-endian samples for slin16


class BadPacket(ValueError):
    """A datagram that is not an RTP packet we can use; ``reason`` names the counter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse(data: bytes, frame_bytes: int = FRAME_BYTES) -> RtpPacket:
    """One datagram → packet (RFC 3550 §5.1), or :class:`BadPacket` saying why not.

    Payloads must be ``frame_bytes`` long: 20 ms of slin16. A channel set to another format
    (8 kHz slin sends 320 bytes under the same payload type) is refused here rather than
    decoded at the wrong speed."""
    if len(data) < _HEADER.size:
        raise BadPacket("short")
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 >> 6 != 2:
        raise BadPacket("version")
    offset = _HEADER.size + 4 * (b0 & 0x0F)
    if b0 & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            raise BadPacket("short")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if b0 & 0x20:  # padding: the last byte says how much
        end -= data[-1] if data else 0
    if offset > end:
        raise BadPacket("short")
    pt = b1 & 0x7F
    if pt != PAYLOAD_TYPE:
        raise BadPacket("payload_type")
    payload = data[offset:end]
    if len(payload) != frame_bytes:
        raise BadPacket("payload_size")
    return RtpPacket(seq, ts, ssrc, pt, payload)


def to_little_endian(payload: bytes) -> bytes:
    """Big-endian slin (network order) → the machine's 16-bit samples for the recogniser."""
    samples = array("h", payload)
    if sys.byteorder == "little":
        samples.byteswap()
    return samples.tobytes()


@dataclass
class JitterStats:
    received: int = 0
    released: int = 0
    duplicate: int = 0
    late: int = 0
    lost: int = 0  # frames filled with silence
    resets: int = 0


@dataclass
class JitterBuffer:
    """Reorders packets of one stream within ``depth`` frames.

    ``push`` returns the payloads now ready, in order, with lost frames replaced by
    silence of the same length; ``flush`` releases whatever is held (the stream went
    quiet). Sequence numbers wrap at 2**16.
    """

    depth: int = 4
    max_jump: int = 250  # frames (5 s): a bigger jump is a new stream, not a loss
    stats: JitterStats = field(default_factory=JitterStats)
    _next: int | None = None
    _ssrc: int | None = None
    _held: dict[int, bytes] = field(default_factory=dict)
    _frame_len: int = FRAME_BYTES
    _recent: collections.deque[int] = field(default_factory=lambda: collections.deque(maxlen=64))

    def push(self, packet: RtpPacket) -> list[bytes]:
        self.stats.received += 1
        out: list[bytes] = []
        if self._next is None or packet.ssrc != self._ssrc:
            if self._next is not None:
                out += self._drain()
                self.stats.resets += 1
            self._restart(packet)
        delta = _seq_delta(packet.seq, self._next or 0)
        if delta < 0:
            if -delta > self.max_jump:
                out += self._drain()
                self.stats.resets += 1
                self._restart(packet)
                delta = 0
            else:
                if packet.seq in self._recent:
                    self.stats.duplicate += 1
                else:
                    self.stats.late += 1
                return out
        elif delta > self.max_jump:
            out += self._drain()
            self.stats.resets += 1
            self._restart(packet)
            delta = 0
        key = packet.seq & 0xFFFF
        if key in self._held:
            self.stats.duplicate += 1
            return out
        self._held[key] = packet.payload
        self._frame_len = len(packet.payload)
        out += self._release(force=False)
        return out

    def flush(self) -> list[bytes]:
        """Everything held, gaps filled: the sender stopped or the call ended."""
        out = self._drain()
        self._next = None
        return out

    def _restart(self, packet: RtpPacket) -> None:
        self._next = packet.seq
        self._ssrc = packet.ssrc
        self._held.clear()

    def _release(self, force: bool) -> list[bytes]:
        out: list[bytes] = []
        assert self._next is not None
        while self._held:
            payload = self._held.pop(self._next, None)
            if payload is None:
                if not force and len(self._held) < self.depth:
                    break
                payload = b"\x00" * self._frame_len
                self.stats.lost += 1
            else:
                self._recent.append(self._next)
            out.append(payload)
            self.stats.released += 1
            self._next = (self._next + 1) & 0xFFFF
        return out

    def _drain(self) -> list[bytes]:
        return self._release(force=True) if self._next is not None else []


def _seq_delta(seq: int, expected: int) -> int:
    """Signed distance from ``expected`` to ``seq`` modulo 2**16."""
    d = (seq - expected) & 0xFFFF
    return d - 0x10000 if d >= 0x8000 else d
