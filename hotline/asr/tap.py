"""Live transcription of answered calls: the ARI side.

When an operator is bridged, each side of the call gets a snoop channel (``spy=in``: what
that party says) and an externalMedia channel, joined in a small mixing bridge of their own,
so Asterisk sends that side's audio to our RTP receiver. Results become ``transcript.partial``
and ``transcript.final`` events; when the call ends everything is torn down and the
transcript and ticket draft go with the call record. Nothing here can delay or break the
call: it runs beside it, and every failure leaves the call to post-call transcription.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..telephony.exceptions import AriError
from ..telephony.records import TAP_PREFIXES
from .draft import Draft, DraftRules, Utterance, make_draft
from .engine import EnginePool
from .receiver import RtpReceiver, RtpStream
from .transcript import CallTranscript, Segment, draft_json, shift
from .worker import Result

log = logging.getLogger(__name__)
DRAFT_EVERY_S = 2.0  # live drafts for the desk: the whole transcript is drafted each time

Publish = Callable[..., Awaitable[None]]
OnDescriptionDraft = Callable[[str, dict[str, Any]], Awaitable[object]]
TAP_STASIS_WAIT_S = 3.0  # a tap channel not in Stasis by then is given up (post-call)
DESCRIPTION_KEEP_S = 3 * 3600.0  # a description waits this long for its call to be answered


@dataclass
class _Side:
    side: str
    key: str
    snoop: str
    media: str  # the externalMedia channel; its bridge has the same id
    live: bool = False
    failed: bool = False  # the tap could not be set up (not a capacity refusal)
    stream: RtpStream | None = None


@dataclass
class _CallTap:
    call_id: str
    operator_id: str
    answered_at: float
    transcript: CallTranscript
    sides: dict[str, _Side] = field(default_factory=dict)
    starting: asyncio.Task[None] | None = None
    last_draft: str = ""  # the draft last sent to the desk (JSON), to send only changes
    draft_at: float = float("-inf")  # loop time of the last live draft
    draft_timer: asyncio.TimerHandle | None = None


@dataclass(frozen=True)
class Finished:
    transcript: CallTranscript
    draft: Draft | None


class LiveTranscriber:
    """Opens, feeds and closes the two ASR streams of each answered call."""

    def __init__(
        self,
        ari: Any,
        pool: EnginePool,
        receiver: RtpReceiver,
        external_host: str,
        publish: Publish,
        rules: DraftRules,
        metrics: Any = None,
        recordings: Path | None = None,
        on_description_draft: OnDescriptionDraft | None = None,
    ) -> None:
        self.ari = ari
        self.pool = pool
        self.receiver = receiver
        self.external_host = external_host  # where Asterisk sends RTP (our receiver)
        self.publish = publish
        self.rules = rules
        self.metrics = metrics
        self.calls: dict[str, _CallTap] = {}
        self.recordings = recordings  # where Asterisk's recordings can be read, if anywhere
        self.on_description_draft = on_description_draft  # the queue re-queues by it
        self.descriptions: dict[str, list[Segment]] = {}  # call id → the caller's own words
        self._described_at: dict[str, float] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=10_000)
        self._publisher = asyncio.create_task(self._publish_loop(), name="transcript-events")
        self._gauges = asyncio.create_task(self._watch(), name="asr-gauges")
        self.events_dropped = 0

    def connected(self, call_id: str, caller_chan: str, agent_chan: str, operator: str) -> None:
        """The operator is bridged: start both sides (in the background)."""
        if call_id in self.calls:
            return
        tap = _CallTap(call_id, operator, time.time(), transcript=CallTranscript(call_id))
        self.calls[call_id] = tap
        tap.starting = asyncio.create_task(
            self._start(tap, {"caller": caller_chan, "operator": agent_chan}),
            name=f"asr-{call_id}",
        )

    async def _start(self, tap: _CallTap, channels: dict[str, str]) -> None:
        for side, channel in channels.items():
            snoop, media = (f"{p}{side[0]}-{tap.call_id}" for p in TAP_PREFIXES)
            s = _Side(side, f"{tap.call_id}/{side}", snoop, media)
            tap.sides[side] = s
            try:
                await self._start_side(tap, s, channel)
            except Exception as exc:  # a failed tap costs the live transcript, never the call
                log.warning(
                    "call %s: live transcript of the %s side failed: %r", tap.call_id, side, exc
                )
                await self._stop_side(s)
                s.live, s.failed = False, True
        self._count_status(tap)

    async def _start_side(self, tap: _CallTap, s: _Side, channel: str) -> None:
        if not self.pool.open(s.key, lambda r: self._on_result(tap, s, r)):
            log.info("call %s: no ASR capacity for the %s side; post-call", tap.call_id, s.side)
            return
        s.live = True
        # Both channels must be in Stasis before they can be bridged; a snoop channel gets
        # there from its own thread, often after the REST reply.
        entered = [self.ari.expect_stasis(s.snoop), self.ari.expect_stasis(s.media)]
        try:
            await self._open_taps(tap, s, channel, entered)
        finally:
            for fut in entered:
                fut.cancel()

    async def _open_taps(
        self, tap: _CallTap, s: _Side, channel: str, entered: list[asyncio.Future[None]]
    ) -> None:
        await self.ari.snoop(channel, s.snoop, spy="in", app_args=f"asr,{tap.call_id},{s.side}")
        media = await self.ari.external_media(self.external_host, channel_id=s.media)
        host = media.channelvars.get("UNICASTRTP_LOCAL_ADDRESS", "")
        port = media.channelvars.get("UNICASTRTP_LOCAL_PORT", "")
        if not port:
            port = await self.ari.get_variable(s.media, "UNICASTRTP_LOCAL_PORT")
            host = await self.ari.get_variable(s.media, "UNICASTRTP_LOCAL_ADDRESS")
        s.stream = RtpStream(s.key, lambda pcm: self._feed(s, pcm), lambda: self.pool.finish(s.key))
        self.receiver.expect(host, int(port), s.stream)
        await self.ari.create_bridge(s.media, "mixing", name=s.media)
        await asyncio.wait_for(asyncio.gather(*entered), TAP_STASIS_WAIT_S)
        await self.ari.add_channels(s.media, s.snoop, s.media)

    def _feed(self, s: _Side, pcm: bytes) -> None:
        if s.live and not self.pool.feed(s.key, pcm):
            s.live = False

    def _on_result(self, tap: _CallTap, s: _Side, r: Result) -> None:
        if r["type"] == "degraded":
            s.live = False
            return
        offset = s.stream.first_at - tap.answered_at if s.stream and s.stream.first_at else 0.0
        start, end = shift(r, max(offset, 0.0))
        if r["type"] == "final":
            tap.transcript.add(Segment(s.side, start, end, r["text"]))
        if self.metrics is not None:
            self.metrics.asr_segments.labels(kind=r["type"]).inc()
        event = {
            "call_id": tap.call_id,
            "operator_id": tap.operator_id,
            "side": s.side,
            "text": r["text"],
            "start": start,
            "end": end,
        }
        try:
            self._events.put_nowait((f"transcript.{r['type']}", event))
            if r["type"] == "final":
                self._live_draft(tap)
        except asyncio.QueueFull:
            self.events_dropped += 1

    def _live_draft(self, tap: _CallTap) -> None:
        """The draft as the conversation stands, for the desk's form: at most one every
        ``DRAFT_EVERY_S`` (a trailing one catches the last words), and only when it changed."""
        loop = asyncio.get_running_loop()
        wait = tap.draft_at + DRAFT_EVERY_S - loop.time()
        if wait > 0:
            if tap.draft_timer is None:
                tap.draft_timer = loop.call_later(wait, self._draft_now, tap)
            return
        self._draft_now(tap)

    def _draft_now(self, tap: _CallTap) -> None:
        tap.draft_timer = None
        if self.calls.get(tap.call_id) is not tap:
            return  # the call has ended: transcript.done carries the last draft
        tap.draft_at = asyncio.get_running_loop().time()
        draft = draft_json(make_draft(tap.transcript.utterances(), self.rules))
        key = json.dumps(draft, ensure_ascii=False, sort_keys=True)
        if key == tap.last_draft:
            return
        data = {"call_id": tap.call_id, "operator_id": tap.operator_id, "draft": draft}
        try:
            self._events.put_nowait(("transcript.draft", data))
            tap.last_draft = key
        except asyncio.QueueFull:
            self.events_dropped += 1

    async def _publish_loop(self) -> None:
        while True:
            name, data = await self._events.get()
            try:
                await self.publish(name, time.time(), **data)
            except Exception as exc:  # Redis down: the desk misses it, the record keeps it
                self.events_dropped += 1
                log.debug("transcript event not published: %r", exc)

    def describe(self, call_id: str, recording: str) -> None:
        """The caller recorded a description while waiting: transcribe it now (a batch
        stream, so live calls keep priority) for the desk and the draft."""
        if self.recordings is None:
            return
        task = asyncio.create_task(self._describe(call_id, recording), name=f"describe-{call_id}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _describe(self, call_id: str, recording: str) -> None:
        from .batch import BadRecording, read_recording, transcribe

        assert self.recordings is not None
        path = self.recordings / f"{recording}.wav"
        try:
            audio = await asyncio.to_thread(read_recording, path)
            done = await asyncio.wait_for(transcribe(self.pool, f"describe-{call_id}", audio), 60)
        except (BadRecording, OSError, TimeoutError) as exc:
            log.warning("call %s: description %s not transcribed: %r", call_id, recording, exc)
            return
        segs = [replace(s, side="caller", source="description") for s in done.ordered()]
        now = time.monotonic()
        for old in [c for c, at in self._described_at.items() if now - at > DESCRIPTION_KEEP_S]:
            self.descriptions.pop(old, None)  # callers who hung up before an answer
            del self._described_at[old]
        self.descriptions[call_id], self._described_at[call_id] = segs, now
        text = "".join(s.text for s in segs)
        draft = make_draft([Utterance("caller", text)], self.rules) if text else None
        data: dict[str, Any] = {"call_id": call_id, "recording": recording, "text": text}
        if draft is not None:
            data["draft"] = draft_json(draft)
        try:
            await self.publish("transcript.description", time.time(), **data)
        except Exception as exc:
            log.warning("call %s: transcript.description not published: %r", call_id, exc)
        if draft is not None and self.on_description_draft is not None:
            try:
                await self.on_description_draft(call_id, data["draft"])
            except Exception:
                log.exception("call %s: the queue could not act on the description", call_id)

    async def finish(self, call_id: str) -> Finished | None:
        """The call ended: tear down its taps, collect the last words, make the draft."""
        tap = self.calls.pop(call_id, None)
        if tap is None:
            return None
        if tap.draft_timer is not None:
            tap.draft_timer.cancel()
        if tap.starting is not None:
            with contextlib.suppress(Exception):
                await tap.starting
        was_live = [s.live for s in tap.sides.values()]
        await asyncio.gather(*(self._stop_side(s) for s in tap.sides.values()))
        closes = await asyncio.gather(*(self.pool.close(s.key) for s in tap.sides.values()))
        complete = [
            live and c is not None and c.get("type") == "closed"
            for live, c in zip(was_live, closes, strict=True)
        ]
        t = tap.transcript
        t.status = "done" if all(complete) else "partial" if any(complete) else "pending"
        t.description = self.descriptions.pop(call_id, [])
        self._described_at.pop(call_id, None)
        draft = make_draft(t.utterances(), self.rules) if t.segments else None
        await self._publish_end(tap, draft)
        return Finished(t, draft)

    async def _publish_end(self, tap: _CallTap, draft: Draft | None) -> None:
        data: dict[str, Any] = {
            "call_id": tap.call_id,
            "operator_id": tap.operator_id,
            "status": tap.transcript.status,
        }
        if draft is not None:
            data["draft"] = draft_json(draft)
        try:
            await self.publish("transcript.done", time.time(), **data)
        except Exception as exc:
            log.warning("call %s: transcript.done not published: %r", tap.call_id, exc)

    async def _stop_side(self, s: _Side) -> None:
        self.receiver.forget(s.key)
        for step in (
            lambda: self.ari.hangup(s.snoop),
            lambda: self.ari.hangup(s.media),
            lambda: self.ari.destroy_bridge(s.media),
        ):
            with contextlib.suppress(AriError, ConnectionError, asyncio.TimeoutError):
                await step()

    def _count_status(self, tap: _CallTap) -> None:
        if self.metrics is None:
            return
        for s in tap.sides.values():
            outcome = "live" if s.live else "failed" if s.failed else "refused"
            self.metrics.asr_streams_total.labels(outcome=outcome).inc()

    async def _watch(self) -> None:
        while self.metrics is not None:
            self.metrics.asr_streams.set(len(self.pool.streams))
            lags = [w.backlog_s() for w in self.pool.workers if w.alive]
            self.metrics.asr_backlog.set(max(lags, default=0.0))
            await asyncio.sleep(1.0)

    async def close(self) -> None:
        for call_id in list(self.calls):
            await self.finish(call_id)
        self._publisher.cancel()
        self._gauges.cancel()
