"""One call's runner: applies events to the pure call machine and executes its commands.

Each call has its own task and queue, so a call's events are handled in order without a
global lock; any exception sends the caller to the dialplan's fallback queue.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..metrics import Metrics
from ..queue.models import Task
from . import session as s
from .exceptions import AriError, AriNotFound
from .records import CallSummary

if TYPE_CHECKING:
    from .stasis import StasisController

log = logging.getLogger(__name__)


@dataclass
class Queued:
    event: s.Event
    received: float  # perf_counter when the ARI frame arrived


HAND_BACK = Queued(s.CallerHungUp(0.0), 0.0)  # marker: the server is stopping


class LatencyLog:
    """Raw samples of the controller's added latency, for benchmarks and /api/debug."""

    def __init__(self, metrics: Metrics, size: int = 200_000) -> None:
        self.metrics = metrics
        self.samples: dict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=size)
        )

    def observe(self, step: str, seconds: float) -> None:
        self.samples[step].append(seconds)
        self.metrics.controller_latency.labels(step=step).observe(seconds)


class CallRunner:
    """Runs one call: applies events to the pure machine and executes the commands."""

    def __init__(self, ctl: StasisController, call: s.Call, caller_number: str) -> None:
        self.ctl = ctl
        self.call = call
        self.caller_number = caller_number
        self.queue: asyncio.Queue[Queued | None] = asyncio.Queue()
        self.closed = False
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.enqueued_at = 0.0
        self.summary = CallSummary(call.call_id, call.line, caller_number, time.time())
        self.task: asyncio.Task[None] = asyncio.create_task(self._run(), name=call.call_id)

    @property
    def call_id(self) -> str:
        return self.call.call_id

    def put(self, event: s.Event, received: float | None = None) -> None:
        self.queue.put_nowait(Queued(event, received or time.perf_counter()))

    def hand_back(self) -> None:
        """The server is stopping: after what is queued, hand the caller to the dialplan."""
        self.queue.put_nowait(HAND_BACK)

    async def _run(self) -> None:
        while self.call.state not in (s.CallState.ENDED, s.CallState.FALLBACK):
            item = await self.queue.get()
            if item is None or self.closed:
                break
            if item is HAND_BACK:
                await self._fallback("shutdown")
                break
            before = self.call.state
            try:
                self.call, commands = s.step(self.call, item.event)
                if self.call.state is s.CallState.CALLBACK and before is not s.CallState.CALLBACK:
                    self._save_progress(callback=1)  # the task waits with no channel
                if self.call.state is not before:
                    log.info(
                        "call %s: %s -> %s on %s",
                        self.call_id,
                        before.value,
                        self.call.state.value,
                        type(item.event).__name__,
                    )
                await self._execute(commands, item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "call %s: error in state %s; falling back to the dialplan",
                    self.call_id,
                    before.value,
                )
                self.ctl.metrics.session_errors.labels(state=before.value).inc()
                await self._fallback("error")
        for h in self.timers.values():
            h.cancel()
        self.summary.ended_at = time.time()
        if self.call.state is s.CallState.FALLBACK and self.summary.outcome == "ended":
            self.summary.outcome = "fallback"
        self.ctl.forget(self)
        if self.closed:
            # The server is stopping and the call goes on in Asterisk: its record is written
            # by whichever server adopts it, from the progress saved in Redis.
            return
        if self.ctl.on_call_end is not None:
            self.ctl.on_call_end(self.summary)
        self.ctl._background(self.ctl.router.store.drop_call(self.call_id))

    async def _execute(self, commands: list[s.Command], item: Queued) -> None:
        first = True
        for cmd in commands:
            if first and not isinstance(cmd, (s.StartTimer, s.CancelTimer)):
                first = False
                if isinstance(item.event, s.CallerArrived):
                    self.ctl.latency.observe(
                        "stasis_start_to_first_command", time.perf_counter() - item.received
                    )
            try:
                await self._do(cmd)
            except AriNotFound as exc:
                # The channel or bridge went away under us (it raced a hangup); the
                # hangup event that follows decides what happens next.
                log.debug("call %s: %s: %s", self.call_id, type(cmd).__name__, exc)
            if isinstance(cmd, s.JoinBridge):
                self.ctl.latency.observe(
                    "agent_answer_to_bridged", time.perf_counter() - item.received
                )
            elif isinstance(cmd, s.Enqueue):
                # The IVR flow's last event (end of the greeting) → the call is in the queue.
                self.ctl.latency.observe("flow_to_queued", time.perf_counter() - item.received)

    async def _do(self, cmd: s.Command) -> None:
        ari, router, cfg = self.ctl.ari, self.ctl.router, self.ctl.settings
        m = self.ctl.metrics
        match cmd:
            case s.Answer(channel):
                m.calls_received.labels(line=self.call.line).inc()
                await ari.answer(channel)
                await self._set_language(channel)
            case s.Play(channel, media, playback_id):
                await ari.play(channel, media, playback_id=playback_id)
            case s.StartMoh(channel):
                await ari.start_moh(channel, cfg.moh_class)
            case s.StopMoh(channel):
                await ari.stop_moh(channel)
            case s.StartTimer(name, seconds, token):
                self._start_timer(name, seconds, token)
            case s.CancelTimer(name):
                h = self.timers.pop(name, None)
                if h:
                    h.cancel()
            case s.Enqueue(call_id, skill_override, priority_override, language_override):
                line = cfg.line(self.call.line)
                skill = skill_override or line.skill
                skills = (skill,) if skill == "general" else (skill, "general")
                task = Task(
                    call_id=call_id,
                    queue=skill,
                    skills=skills,
                    language=language_override or line.language,
                    priority=line.priority if priority_override is None else priority_override,
                    enqueued_at=self.ctl.clock(),
                    line=self.call.line,
                    owner=self.ctl.instance_id,
                )
                kept = await router.enqueue(task)
                self.enqueued_at = kept.enqueued_at
                self.summary.queue = kept.queue
                self._save_progress(queue=kept.queue, enqueued_at=kept.enqueued_at)
                if kept.enqueued_at == task.enqueued_at:
                    m.calls_offered.labels(**self._labels()).inc()
            case s.LeaveQueue(call_id, reason):
                await self._leave_queue(call_id, reason)
            case s.Originate(endpoint, agent_channel, call_id, operator_id):
                await self._originate(endpoint, agent_channel, call_id)
            case s.CreateBridge(bridge_id):
                await ari.create_bridge(bridge_id, "mixing", name=bridge_id)
            case s.JoinBridge(bridge_id, channels):
                await self._join(bridge_id, channels)
            case s.RecordBridge(bridge_id, name):
                self.summary.recording = name
                try:
                    await ari.record_bridge(bridge_id, name)
                except AriError as exc:
                    # A failed recording must not cost the caller the conversation.
                    log.warning("call %s: recording failed: %s", self.call_id, exc)
            case s.MarkAnswered(call_id, operator_id):
                wait = await router.answered(call_id, operator_id)
                if wait is None:
                    wait = self.ctl.clock() - self.enqueued_at
                self.summary.answered_at, self.summary.wait_s = time.time(), wait
                self.summary.operator_id, self.summary.outcome = operator_id, "answered"
                self._save_progress(
                    answered_at=self.summary.answered_at, operator_id=operator_id, wait_s=wait
                )
                labels = self._labels()
                m.calls_answered.labels(**labels).inc()
                if wait <= cfg.sla_seconds:
                    m.calls_answered_within_sla.labels(**labels).inc()
                m.queue_wait.labels(**labels).observe(wait)
                if self.ctl.on_connected is not None:
                    self.ctl.on_connected(
                        call_id, self.call.chan, self.call.agent_channel, operator_id
                    )
            case s.Hangup(channel):
                await ari.hangup(channel)
            case s.StopPlayback(playback_id):
                await ari.stop_playback(playback_id)
            case s.QueryPosition(call_id, purpose):
                ahead, eta, offer = await router.waiting_info(call_id)
                self.put(s.PositionInfo(purpose, ahead, eta, offer))
            case s.RecordCaller(channel, name, max_s):
                self.ctl.recording_owner[name] = self.call_id
                try:
                    await ari.record_channel(channel, name, max_duration_s=int(max_s))
                except AriError as exc:
                    log.warning("call %s: cannot record the description: %s", self.call_id, exc)
                    self.put(s.RecordingDone(name, ok=False))
            case s.StopRecording(name):
                await ari.stop_recording(name)
            case s.DescriptionRecorded(call_id, name):
                self.summary.description = name
                await router.store.publish(
                    "call.description",
                    self.ctl.clock(),
                    call_id=call_id,
                    recording=name,
                    draft="pending",
                )
                if self.ctl.on_description is not None:
                    self.ctl.on_description(call_id, name)
            case s.SaveRating(call_id, stars):
                self.summary.stars = stars
                log.info("call %s rated %d by the caller", call_id, stars)
                if self.ctl.on_rating is not None:
                    self.ctl._background(self.ctl.on_rating(self.summary))
            case s.DialCitizen(call_id, channel):
                self.summary.callback = True
                self.ctl.channel_owner[channel] = self.call_id
                try:
                    await ari.originate(
                        cfg.callback_endpoint.format(number=self.caller_number),
                        app_args=f"callback,{call_id}",
                        channel_id=channel,
                        caller_id=cfg.callback_caller_id,
                        timeout=int(self.call.config.dial_timeout_s),
                        variables={"CHANNEL(language)": "zh"},
                    )
                except AriError as exc:
                    log.warning(
                        "call %s: callback to %s failed: %s", call_id, self.caller_number, exc
                    )
                    self.put(s.CitizenFailed(channel, "unreachable"))
            case s.LookupTicket(call_id, number):
                self.ctl._background(self._lookup(number))
            case s.Transfer(channel, number):
                log.info("call %s transferred to %s", self.call_id, number)
                self.summary.outcome = "transferred"
                await ari.continue_in_dialplan(channel, cfg.transfer_context, number, 1)
            case s.DestroyBridge(bridge_id):
                await ari.destroy_bridge(bridge_id)
            case s.OfferFailed(call_id, operator_id, missed):
                if missed:
                    m.offers_missed.inc()
                await router.offer_failed(call_id, operator_id, missed)
            case s.CallFinished(call_id, operator_id, talk, outcome):
                self.summary.talk_s = talk
                if outcome != "answered":
                    self.summary.outcome = outcome
                await router.call_ended(operator_id, talk)
                log.info(
                    "call %s finished (%s) with %s after %.1fs", call_id, outcome, operator_id, talk
                )

    async def _set_language(self, channel: str) -> None:
        """Prompts are looked up in the channel's language: set it from the line, whatever
        the caller's endpoint says (a channel left in ``en`` hears nothing)."""
        language = self.ctl.settings.line(self.call.line).language
        if not language:
            return
        try:
            await self.ctl.ari.set_variable(channel, "CHANNEL(language)", language)
        except AriError as exc:
            log.warning("call %s: cannot set language %s: %s", self.call_id, language, exc)

    async def _join(self, bridge_id: str, channels: tuple[str, ...]) -> None:
        """Bridge the caller and the operator. A slow or failed add is checked against
        the bridge and tried once more: an answered call never falls back over it."""
        ari = self.ctl.ari
        stop_moh = asyncio.ensure_future(ari.stop_moh(self.call_id))
        try:
            await ari.add_channels(bridge_id, *channels)
        except AriNotFound:
            raise
        except AriError as exc:
            log.warning("call %s: bridge add failed (%s); checking the bridge", self.call_id, exc)
            bridge = await ari.get_bridge(bridge_id)
            missing = [c for c in channels if c not in bridge.channels]
            if missing:
                await ari.add_channels(bridge_id, *missing)
        finally:
            with contextlib.suppress(AriError):
                await stop_moh

    def _save_progress(self, **fields: str | float) -> None:
        """What the record needs if this process dies before the call ends: kept in Redis
        so whichever instance reconciles the call can close its record truthfully."""
        base: dict[str, str | float] = {
            "app": self.ctl.settings.ari_app,
            "line": self.call.line,
            "caller": self.caller_number,
            "started_at": self.summary.started_at,
        }
        self.ctl._background(self.ctl.router.store.save_call(self.call_id, **base, **fields))

    def _labels(self) -> dict[str, str]:
        """Metric labels: the queue the call actually waited in (the IVR may have chosen
        it), else the line's."""
        queue = self.summary.queue or self.ctl.settings.line(self.call.line).skill
        return {"queue": queue, "line": self.call.line}

    async def _lookup(self, number: str) -> None:
        status = None
        try:
            if self.ctl.ivr is not None:
                status = await asyncio.wait_for(self.ctl.ivr.ticket_status(number), 5.0)
        except Exception as exc:  # a dead database: the caller hears "not found" and goes on
            log.warning("call %s: ticket lookup %s failed: %s", self.call_id, number, exc)
        self.put(s.TicketLookedUp(status is not None, status or ""))

    async def _leave_queue(self, call_id: str, reason: str) -> None:
        removed = await self.ctl.router.leave(call_id, reason)
        if reason != "abandon":
            return
        wait = self.ctl.clock() - (removed[2] if removed else self.enqueued_at)
        labels = self._labels()
        self.ctl.metrics.calls_abandoned.labels(**labels).inc()
        if wait < self.ctl.settings.short_abandon_seconds:
            self.ctl.metrics.calls_short_abandoned.labels(**labels).inc()
        self.summary.outcome, self.summary.wait_s = "abandoned", wait
        log.info("call %s abandoned after %.1fs in queue", call_id, wait)

    async def _originate(self, endpoint: str, agent_channel: str, call_id: str) -> None:
        self.ctl.channel_owner[agent_channel] = call_id
        try:
            await self.ctl.ari.originate(
                endpoint,
                app_args=f"agent,{call_id}",
                channel_id=agent_channel,
                caller_id=f'"{self.caller_number}" <{self.caller_number}>',
                timeout=int(self.ctl.settings.ring_timeout_s),
                originator=call_id,
            )
        except AriError as exc:
            log.warning("call %s: cannot ring %s: %s", call_id, endpoint, exc)
            self.put(s.AgentFailed(agent_channel, "unreachable"))

    def _start_timer(self, name: str, seconds: float, token: str) -> None:
        old = self.timers.pop(name, None)
        if old:
            old.cancel()
        loop = asyncio.get_running_loop()
        self.timers[name] = loop.call_later(seconds, self.put, s.TimerFired(name, token))

    async def _fallback(self, reason: str) -> None:
        """Hand the caller to the dialplan's fallback queue; never leave them in silence."""
        ctl = self.ctl
        ctl.metrics.calls_fallback.labels(**self._labels(), reason=reason).inc()
        playing = [
            pb
            for pb in (
                self.call.playback_id,
                self.call.activity_pb if self.call.activity != "recording" else "",
                self.call.ivr.playback_id if self.call.ivr else "",
            )
            if pb
        ]
        recording = self.call.activity_pb if self.call.activity == "recording" else ""
        self.call = replace(self.call, state=s.CallState.FALLBACK)
        steps: list[Callable[[], Awaitable[Any]]] = [
            # Asterisk would run the continue only after a prompt still playing.
            *(functools.partial(ctl.ari.stop_playback, pb) for pb in playing),
            *([functools.partial(ctl.ari.stop_recording, recording)] if recording else []),
        ]
        for step in (
            *steps,
            lambda: ctl.router.leave(self.call_id, "fallback"),
            lambda: (
                ctl.ari.destroy_bridge(self.call.bridge_id)
                if self.call.bridge_id
                else asyncio.sleep(0)
            ),
            lambda: (
                ctl.ari.hangup(self.call.agent_channel)
                if self.call.agent_channel
                else asyncio.sleep(0)
            ),
            lambda: ctl.ari.continue_in_dialplan(
                self.call_id, ctl.settings.fallback_context, ctl.settings.fallback_extension, 1
            ),
        ):
            try:
                await step()
            except Exception as exc:
                log.warning("call %s: fallback step failed: %r", self.call_id, exc)
