"""The Stasis controller: one :class:`CallRunner` (task + event queue) per call.

ARI events are translated into session events and queued on the owning call, so each
call's events are handled in order without a global lock. Any exception in a call's
handling is logged with its channel id and the call goes back to the dialplan fallback
queue (``continueInDialplan``) — never to silence.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..ivr.runtime import IvrRuntime

if TYPE_CHECKING:
    from ..ivr.survey import SurveyScheduler
from ..metrics import Metrics
from ..queue.models import Operator, Task
from ..queue.router import Router
from . import events as ev
from . import session as s
from .ari import AriClient
from .exceptions import AriError, AriNotFound

log = logging.getLogger(__name__)

FAILED_DIAL = {"BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION", "CANCEL"}


@dataclass
class Queued:
    event: s.Event
    received: float  # perf_counter when the ARI frame arrived


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


@dataclass
class CallSummary:
    """What the records keep of a finished call (written to SQL off the call path)."""

    call_id: str
    line: str
    caller: str
    started_at: float  # epoch seconds
    ended_at: float = 0.0
    answered_at: float | None = None
    operator_id: str = ""
    outcome: str = "ended"  # answered, abandoned, fallback, ended
    wait_s: float | None = None
    talk_s: float | None = None
    recording: str = ""
    description: str = ""  # the caller's own words recorded while waiting (for ASR)
    stars: int | None = None  # post-call rating, 5 very satisfied … 1 very unsatisfied
    callback: bool = False


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

    async def _run(self) -> None:
        while self.call.state not in (s.CallState.ENDED, s.CallState.FALLBACK):
            item = await self.queue.get()
            if item is None or self.closed:
                break
            before = self.call.state
            try:
                self.call, commands = s.step(self.call, item.event)
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
        if self.ctl.on_call_end is not None:
            self.ctl.on_call_end(self.summary)

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
                if kept.enqueued_at == task.enqueued_at:
                    m.calls_offered.labels(queue=line.skill, line=self.call.line).inc()
            case s.LeaveQueue(call_id, reason):
                await self._leave_queue(call_id, reason)
            case s.Originate(endpoint, agent_channel, call_id, operator_id):
                await self._originate(endpoint, agent_channel, call_id)
            case s.CreateBridge(bridge_id):
                await ari.create_bridge(bridge_id, "mixing", name=bridge_id)
            case s.JoinBridge(bridge_id, channels):
                _, join = await asyncio.gather(
                    ari.stop_moh(self.call_id),
                    ari.add_channels(bridge_id, *channels),
                    return_exceptions=True,
                )
                if isinstance(join, BaseException):
                    raise join
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
                line = cfg.line(self.call.line)
                labels = {"queue": line.skill, "line": self.call.line}
                m.calls_answered.labels(**labels).inc()
                if wait <= cfg.sla_seconds:
                    m.calls_answered_within_sla.labels(**labels).inc()
                m.queue_wait.labels(**labels).observe(wait)
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
        line = self.ctl.settings.line(self.call.line)
        labels = {"queue": line.skill, "line": self.call.line}
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
        ctl.metrics.calls_fallback.labels(reason=reason).inc()
        self.call = replace(self.call, state=s.CallState.FALLBACK)
        for step in (
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


class StasisController:
    """Routes ARI events to call runners and rebuilds its view after reconnects."""

    def __init__(
        self,
        ari: AriClient,
        router: Router,
        settings: Settings,
        metrics: Metrics,
        instance_id: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ari = ari
        self.router = router
        self.settings = settings
        self.metrics = metrics
        self.instance_id = instance_id
        self.clock = clock
        self.calls: dict[str, CallRunner] = {}
        self.channel_owner: dict[str, str] = {}
        self.latency = LatencyLog(metrics)
        self.on_call_end: Callable[[CallSummary], None] | None = None
        self.resyncs = 0
        self._pending: set[asyncio.Future[Any]] = set()
        self.config = s.CallConfig(
            greeting=settings.greeting_sound,
            greeting_max_s=settings.ivr_max_s,
            ring_timeout_s=settings.ring_timeout_s,
            record=settings.record_calls,
            announce_first_s=settings.announce_first_s,
            announce_every_s=settings.announce_every_s,
            describe_after_s=settings.describe_after_s,
            describe_min_wait_s=settings.describe_min_wait_s,
            describe_max_s=settings.describe_max_s,
            callback=settings.callback_offer,
            rating=settings.post_call_rating,
            rating_timeout_s=settings.rating_timeout_s,
        )
        self.recording_owner: dict[str, str] = {}
        self.surveys: SurveyScheduler | None = None
        self.on_rating: Callable[[CallSummary], Awaitable[None]] | None = None
        self.ivr: IvrRuntime | None = None
        ari.on_event = self.on_event
        ari.on_connected = self.resync

    # -- router → calls --------------------------------------------------------------------

    async def on_offer(self, call_id: str, op: Operator) -> None:
        runner = self.calls.get(call_id)
        if runner is None:
            log.warning("offer of unknown call %s to %s; releasing", call_id, op.id)
            await self.router.offer_failed(call_id, op.id, missed=False)
            return
        runner.put(s.Offered(op.id, op.endpoint, self.clock()))

    # -- ARI → calls -----------------------------------------------------------------------

    def on_event(self, event: ev.AriEvent) -> None:
        received = time.perf_counter()
        if self.surveys is not None and self._is_survey(event):
            self.surveys.on_event(event)
            return
        match event:
            case ev.StasisStart():
                self._on_stasis_start(event, received)
                return
            case ev.PlaybackFinished():
                target = event.target_channel()
                if target in self.calls:
                    self.calls[target].put(s.PlaybackDone(event.playback.id), received)
                return
            case ev.Dial() if event.dialstatus in FAILED_DIAL:
                failed = s.AgentFailed(event.peer.id, event.dialstatus.lower())
                self._to_owner(event.peer.id, failed, received, event)
                return
            case ev.StasisEnd() | ev.ChannelHangupRequest() | ev.ChannelDestroyed():
                ch = event.channel.id
                if ch in self.calls:
                    self.calls[ch].put(s.CallerHungUp(self.clock()), received)
                elif self._is_citizen_leg(ch):
                    self._to_owner(ch, s.CallerHungUp(self.clock()), received, event)
                else:
                    self._to_owner(ch, s.AgentHungUp(ch, self.clock()), received, event)
                return
            case ev.ChannelDtmfReceived():
                ch = event.channel.id
                if ch in self.calls:
                    self.calls[ch].put(s.Dtmf(event.digit), received)
                elif self._is_citizen_leg(ch):
                    self._to_owner(ch, s.Dtmf(event.digit), received, event)
                return
            case ev.RecordingFinished() | ev.RecordingFailed():
                name = event.recording.name
                owner = self.recording_owner.pop(name, None)
                if owner in self.calls:
                    ok = isinstance(event, ev.RecordingFinished)
                    self.calls[owner].put(s.RecordingDone(name, ok), received)
                return
            case _:
                return

    def _is_survey(self, event: ev.AriEvent) -> bool:
        assert self.surveys is not None
        if isinstance(event, ev.PlaybackFinished):
            return self.surveys.owns(event.target_channel() or "")
        channel = getattr(event, "channel", None)
        return channel is not None and self.surveys.owns(channel.id)

    def _is_citizen_leg(self, channel_id: str) -> bool:
        """The citizen's leg of a callback (it stands in for the caller's channel)."""
        owner = self.channel_owner.get(channel_id)
        runner = self.calls.get(owner) if owner else None
        return runner is not None and runner.call.caller_channel == channel_id

    def _to_owner(
        self, channel_id: str, event: s.Event, received: float, source: ev.AriEvent
    ) -> None:
        owner = self.channel_owner.get(channel_id)
        runner = self.calls.get(owner) if owner else None
        if runner is None:
            self.metrics.unknown_channel_events.labels(type=source.type).inc()
            return
        runner.put(event, received)

    def _on_stasis_start(self, event: ev.StasisStart, received: float) -> None:
        ch = event.channel
        kind = event.args[0] if event.args else "inbound"
        if kind == "agent" and len(event.args) >= 2:
            runner = self.calls.get(event.args[1])
            if runner is None or self.channel_owner.get(ch.id) != runner.call_id:
                log.warning("agent channel %s for unknown call; hanging up", ch.id)
                self._background(self._quiet_hangup(ch.id))
                return
            runner.put(s.AgentAnswered(ch.id, self.clock()), received)
            return
        if kind == "callback" and len(event.args) >= 2:
            runner = self.calls.get(event.args[1])
            if runner is None or self.channel_owner.get(ch.id) != runner.call_id:
                log.warning("callback channel %s for unknown call; hanging up", ch.id)
                self._background(self._quiet_hangup(ch.id))
                return
            runner.put(s.CitizenAnswered(ch.id), received)
            return
        if kind != "inbound":
            return  # snoop / externalMedia legs belong to the ASR pipeline
        if ch.id in self.calls:
            return  # a repeated StasisStart (e.g. after a reconnect) changes nothing
        line = event.args[1] if len(event.args) >= 2 else str(ch.dialplan.get("exten", "12345"))
        flow = self.ivr.flow_for(line) if self.ivr else None
        self.calls[ch.id] = CallRunner(
            self, s.Call(ch.id, line, config=self.config, flow=flow), ch.caller.number
        )
        arrived = s.CallerArrived(self.clock())
        if self.ivr is not None:
            arrived = s.CallerArrived(self.clock(), self.ivr.now(), self.ivr.flags)
        self.calls[ch.id].put(arrived, received)

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _quiet_hangup(self, channel_id: str) -> None:
        try:
            await self.ari.hangup(channel_id)
        except AriError:
            pass

    def forget(self, runner: CallRunner) -> None:
        self.calls.pop(runner.call_id, None)
        for ch in [c for c, owner in self.channel_owner.items() if owner == runner.call_id]:
            del self.channel_owner[ch]

    # -- resync --------------------------------------------------------------------------

    async def resync(self) -> None:
        """Rebuild the view from Asterisk: the truth about channels and bridges."""
        self.resyncs += 1
        app = await self.ari.get_application()
        channels = {c.id: c for c in await self.ari.list_channels()}
        bridges = await self.ari.list_bridges()
        in_app = set(app.get("channel_ids") or []) & set(channels)
        present = frozenset(channels)
        bridged = {c: b for b in bridges for c in b.channels}
        now = self.clock()
        for call_id, runner in list(self.calls.items()):
            b = bridged.get(call_id)
            with_agent = b is not None and runner.call.agent_channel in b.channels
            runner.put(s.Resynced(present, with_agent, now))
        for ch_id in sorted(in_app - set(self.calls) - set(self.channel_owner)):
            ch = channels[ch_id]
            if ch_id.startswith("agent-") or ch.name.startswith(("UnicastRTP/", "Snoop/")):
                continue
            await self._adopt(ch, bridged.get(ch_id), now)
        log.info(
            "resync #%d: %d channels, %d bridges, %d calls",
            self.resyncs,
            len(channels),
            len(bridges),
            len(self.calls),
        )

    async def _adopt(self, ch: ev.Channel, bridge: ev.Bridge | None, now: float) -> None:
        """A call this process has not seen (it restarted): take it over where it stands."""
        line = str(ch.dialplan.get("app_data", "")).split(",")
        line_no = line[2] if len(line) >= 3 else str(ch.dialplan.get("exten", "12345"))
        call = s.Call(ch.id, line_no, config=self.config)
        agent = next((c for c in (bridge.channels if bridge else ()) if c != ch.id), "")
        if agent:
            op_id = ""
            for op in await self.router.store.operators():
                if op.call_id == ch.id:
                    op_id = op.id
            call = replace(
                call,
                state=s.CallState.CONNECTED,
                agent_channel=agent,
                operator_id=op_id,
                bridge_id=bridge.id if bridge else "",
                answered_at=now,
            )
            runner = CallRunner(self, call, ch.caller.number)
            self.channel_owner[agent] = ch.id
        elif ch.state != "Up":
            # Not answered yet: its StasisStart may still be queued behind this resync.
            runner = CallRunner(self, call, ch.caller.number)
            runner.put(s.CallerArrived(now))
        else:
            call = replace(call, state=s.CallState.GREETING, playback_id="lost")
            runner = CallRunner(self, call, ch.caller.number)
            runner.put(s.TimerFired("greeting"))
        self.calls[ch.id] = runner
        log.info("call %s adopted after restart in state %s", ch.id, call.state.value)

    async def close(self) -> None:
        """Stop handling calls (the process is shutting down). The callers stay with
        Asterisk; a restarted server adopts them in :meth:`resync`."""
        runners = list(self.calls.values())
        for runner in runners:
            runner.closed = True
            runner.queue.put_nowait(None)
            runner.task.cancel()
        if runners:
            await asyncio.wait([r.task for r in runners], timeout=2.0)
