"""The server's side of the ASR workers: admission, streams, back-pressure, recovery.

Each worker is a process holding recognisers (see :mod:`hotline.asr.worker`). A stream is
pinned to the worker with the fewest streams when it opens. The pool never blocks a caller:
``open`` refuses a stream when every worker is full or behind, and a stream whose worker
falls more than ``max_backlog_s`` behind real time is cut off live ("degraded"); both
cases leave the call to post-call transcription of its recording. A worker that dies
degrades its streams and is replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .worker import AUDIO_MSG, CLOSE, FINISH, FRAME, OPEN, Result

log = logging.getLogger(__name__)

OnResult = Callable[[Result], None]


@dataclass
class _Stream:
    key: str
    sid: int
    worker: _Worker
    rate: int
    on_result: OnResult
    degraded: str = ""  # why live decoding stopped, if it did
    batch: bool = False  # a recording: paced by the caller, never shed
    sent: int = 0  # bytes of audio sent to the worker
    acked: int = 0  # ... and decoded (or gated) by it
    closed: asyncio.Future[Result] | None = None

    def lag_s(self) -> float:
        """How far the worker is behind this stream, in seconds of its audio."""
        return (self.sent - self.acked) / (2 * self.rate)


@dataclass
class _Worker:
    index: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    proc: asyncio.subprocess.Process
    streams: dict[int, _Stream] = field(default_factory=dict)
    alive: bool = True
    task: asyncio.Task[None] | None = None
    progress: asyncio.Event = field(default_factory=asyncio.Event)  # set on each ack
    shed_at: float = -1e9  # monotonic time it last cut a stream off

    def backlog_s(self) -> float:
        """The worst lag among its streams: how far behind real time it runs."""
        return max((s.lag_s() for s in self.streams.values()), default=0.0)


@dataclass(frozen=True)
class PoolConfig:
    model: str
    workers: int = 2
    share: str = "fork"  # fork after loading the model once, or "none": one model each
    max_streams: int = 6  # per worker
    max_backlog_s: float = 3.0  # a worker this far behind sheds its newest live stream
    start_timeout_s: float = 60.0


class EnginePool:
    """Vosk worker processes and the streams they decode."""

    def __init__(self, cfg: PoolConfig, metrics: Any = None) -> None:
        self.cfg = cfg
        self.metrics = metrics
        self.workers: list[_Worker] = []
        self.streams: dict[str, _Stream] = {}
        self._sids = itertools.count(1)
        self._closing = False
        self.refused = 0
        self._room = asyncio.Event()  # set whenever a stream ends

    async def start(self) -> None:
        if not await asyncio.to_thread(Path(self.cfg.model, "am", "final.mdl").exists):
            raise FileNotFoundError(f"no Vosk model at {self.cfg.model}")
        self.workers = await self._spawn(list(range(self.cfg.workers)))

    async def _spawn(self, indexes: list[int]) -> list[_Worker]:
        pairs = [socket.socketpair() for _ in indexes]
        fds = [child.fileno() for _, child in pairs]
        args = ["--model", self.cfg.model, "--fds", ",".join(map(str, fds))]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hotline.asr.worker",
            *args,
            "--share",
            self.cfg.share,
            pass_fds=fds,
        )
        workers = []
        for index, (mine, child) in zip(indexes, pairs, strict=True):
            child.close()
            reader, writer = await asyncio.open_unix_connection(sock=mine, limit=1 << 22)
            workers.append(_Worker(index, reader, writer, proc))
        for w in workers:
            try:  # wait until the model is loaded, so no audio queues up behind the load
                hello = await asyncio.wait_for(w.reader.readline(), self.cfg.start_timeout_s)
            except TimeoutError:
                hello = b""
            if not hello.startswith(b'{"ready"'):
                proc.kill()
                for x in workers:
                    x.writer.close()
                raise RuntimeError(f"ASR worker did not start with model {self.cfg.model}")
        for w in workers:
            w.task = asyncio.create_task(self._read(w), name=f"asr-worker-{w.index}")
        log.info("ASR: %d worker(s) in pid %d, model %s", len(indexes), proc.pid, self.cfg.model)
        return workers

    # -- streams ---------------------------------------------------------------------------

    def capacity(self) -> int:
        """Streams that could open now."""
        return sum(self.cfg.max_streams - len(w.streams) for w in self._ready())

    def _ready(self) -> list[_Worker]:
        """Workers that can take another stream: alive, not full, not behind."""
        return [
            w
            for w in self.workers
            if w.alive
            and len(w.streams) < self.cfg.max_streams
            and w.backlog_s() < self.cfg.max_backlog_s / 2
        ]

    def open(
        self,
        key: str,
        on_result: OnResult,
        rate: int = 16000,
        grammar: list[str] | None = None,
        batch: bool = False,
    ) -> bool:
        """Start decoding a stream; False when no worker can take it now. A ``batch``
        stream (a recording) is fed through :meth:`feed_paced` instead of in real time."""
        w = self._admit(key)
        if w is None:
            self.refused += 1
            return False
        self._open_on(w, key, on_result, rate, grammar, batch)
        return True

    async def open_when_free(self, key: str, on_result: OnResult, rate: int = 16000) -> None:
        """Open a batch stream as soon as a worker has room."""
        while (w := self._admit(key)) is None:
            self._room.clear()
            await self._room.wait()
        self._open_on(w, key, on_result, rate, None, True)

    def _admit(self, key: str) -> _Worker | None:
        ready = self._ready()
        if not ready or self._closing or key in self.streams:
            return None
        return min(ready, key=lambda x: (len(x.streams), x.backlog_s()))

    def _open_on(
        self,
        w: _Worker,
        key: str,
        on_result: OnResult,
        rate: int,
        grammar: list[str] | None,
        batch: bool,
    ) -> None:
        st = _Stream(key, next(self._sids), w, rate, on_result, batch=batch)
        w.streams[st.sid] = st
        self.streams[key] = st
        opts: dict[str, Any] = {"rate": rate}
        if grammar:
            opts["phrases"] = grammar  # names; the worker spells them in the model's words
        self._send(w, OPEN, st.sid, json.dumps(opts, ensure_ascii=False).encode())

    def feed(self, key: str, pcm: bytes) -> bool:
        """Queue audio (16-bit little-endian) for a stream; False if it is not decoded live."""
        st = self.streams.get(key)
        if st is None or st.degraded:
            return False
        w = st.worker
        now = time.monotonic()
        # Too far behind: cut off the newest live stream, then give the worker as long to
        # catch up before cutting again (its streams all lag alike; without the pause one
        # slow second would shed every stream on it).
        if not st.batch and st.lag_s() > self.cfg.max_backlog_s:
            if now - w.shed_at > self.cfg.max_backlog_s:
                w.shed_at = now
                newest = max(w.streams.values(), key=lambda s: (not s.batch, s.sid))
                self._degrade(newest, "overloaded")
                if newest is st:
                    return False
        self._send(w, AUDIO_MSG, st.sid, pcm)
        st.sent += len(pcm)
        return True

    async def feed_paced(self, key: str, pcm: bytes, ahead_s: float = 1.0) -> bool:
        """Feed a recording no faster than its worker decodes, keeping at most ``ahead_s``
        queued so live streams on the same worker are not pushed behind."""
        st = self.streams.get(key)
        while st is not None and st.worker.alive and st.lag_s() > ahead_s:
            st.worker.progress.clear()
            await st.worker.progress.wait()
        return self.feed(key, pcm)

    def finish(self, key: str) -> None:
        """The stream went quiet: finalise its current utterance now."""
        st = self.streams.get(key)
        if st is not None and not st.degraded:
            self._send(st.worker, FINISH, st.sid, b"")

    async def close(self, key: str, timeout: float = 10.0) -> Result | None:
        """End a stream; waits (up to ``timeout``) for its last results. Returns the
        worker's closing figures, or None if it was degraded or did not answer."""
        st = self.streams.get(key)
        if st is None:
            return None
        if st.degraded:
            self._forget(st)
            return None
        st.closed = asyncio.get_running_loop().create_future()
        self._send(st.worker, CLOSE, st.sid, b"")
        try:
            return await asyncio.wait_for(asyncio.shield(st.closed), timeout)
        except TimeoutError:
            self._degrade(st, "timeout")
            return None
        finally:
            self._forget(st)

    def abandon(self, key: str) -> None:
        """Drop a stream without waiting for its last words (its reader was cancelled)."""
        st = self.streams.get(key)
        if st is not None:
            if not st.degraded:
                self._send(st.worker, CLOSE, st.sid, b"")
            self._forget(st)

    # -- internals -------------------------------------------------------------------------

    def _send(self, w: _Worker, kind: int, sid: int, payload: bytes) -> None:
        if not w.alive:
            return
        w.writer.write(FRAME.pack(kind, sid, len(payload)) + payload)

    def _degrade(self, st: _Stream, reason: str) -> None:
        if st.degraded:
            return
        st.degraded = reason
        if self.metrics is not None:
            self.metrics.asr_streams_total.labels(outcome="degraded").inc()
        log.warning("ASR stream %s degraded to post-call transcription: %s", st.key, reason)
        if st.worker.alive:
            self._send(st.worker, CLOSE, st.sid, b"")
        st.worker.streams.pop(st.sid, None)
        if st.closed is not None and not st.closed.done():
            st.closed.set_result({"type": "degraded", "reason": reason})
        with contextlib.suppress(Exception):
            st.on_result({"type": "degraded", "reason": reason, "sid": st.sid})

    def _forget(self, st: _Stream) -> None:
        st.worker.streams.pop(st.sid, None)
        if self.streams.get(st.key) is st:
            del self.streams[st.key]
        self._room.set()

    async def _read(self, w: _Worker) -> None:
        try:
            while line := await w.reader.readline():
                msg = json.loads(line)
                for sid, n in (msg.get("ack") or {}).items():
                    st = w.streams.get(int(sid))
                    if st is not None:
                        st.acked += int(n)
                w.progress.set()
                for r in msg.get("r", ()):
                    self._deliver(w, r)
        except (ConnectionError, ValueError) as exc:
            log.warning("ASR worker %d: %r", w.index, exc)
        finally:
            w.alive = False
            w.progress.set()
        if not self._closing:
            await self._replace(w)

    def _deliver(self, w: _Worker, r: Result) -> None:
        st = w.streams.get(r.get("sid", -1))
        if st is None:
            return
        if r["type"] == "closed":
            if st.closed is not None and not st.closed.done():
                st.closed.set_result(r)
            return
        if r["type"] == "vocabulary":
            log.warning("ASR stream %s: the model cannot spell %s", st.key, r.get("missing"))
            return
        if r["type"] == "error":
            log.warning("ASR stream %s: worker error %s", st.key, r.get("error"))
            self._degrade(st, "error")
            return
        try:
            st.on_result(r)
        except Exception:
            log.exception("ASR stream %s: result handler failed", st.key)

    async def _replace(self, dead: _Worker) -> None:
        log.error("ASR worker %d died; %d stream(s) go post-call", dead.index, len(dead.streams))
        for st in list(dead.streams.values()):
            self._degrade(st, "worker died")
        with contextlib.suppress(Exception):
            dead.writer.close()
        try:
            (fresh,) = await self._spawn([dead.index])
        except Exception:
            log.exception("ASR worker %d could not be restarted", dead.index)
            return
        self.workers[self.workers.index(dead)] = fresh
        self._room.set()

    async def stop(self) -> None:
        self._closing = True
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.writer.close()
        for w in self.workers:
            if w.task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(w.task, 5.0)
        for proc in {id(w.proc): w.proc for w in self.workers}.values():
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                proc.kill()
