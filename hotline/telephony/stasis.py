"""The Stasis controller: one :class:`CallRunner` (task + event queue) per call.

ARI events are translated into session events and queued on the owning call, so each
call's events are handled in order without a global lock. Any exception in a call's
handling is logged with its channel id and the call goes back to the dialplan fallback
queue (``continueInDialplan``) — never to silence.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..ivr.runtime import IvrRuntime

if TYPE_CHECKING:
    from ..surveys.calls import SurveyScheduler
from ..metrics import Metrics
from ..queue.models import Operator
from ..queue.router import Router
from . import events as ev
from . import session as s
from .ari import AriClient
from .coaching import Coaching
from .desk_controls import DeskControls
from .exceptions import AriError, CallControlRefused
from .hooks import CallHooks
from .reconcile import reconcile, restore
from .records import COACH_PREFIX, TAP_PREFIXES
from .runner import CallRunner, LatencyLog

log = logging.getLogger(__name__)

FAILED_DIAL = {"BUSY", "NOANSWER", "CHANUNAVAIL", "CONGESTION", "CANCEL"}


# States a stopping server hands back to the dialplan (the rest talk on, or have no channel).
HAND_BACK = frozenset(
    {s.CallState.NEW, s.CallState.GREETING, s.CallState.QUEUED, s.CallState.RINGING}
)


def call_config(settings: Settings) -> s.CallConfig:
    """The call machine's settings, from the server's."""
    return s.CallConfig(
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
        own_lines=frozenset(line.number for line in settings.lines),
    )


class StasisController:
    """Routes ARI events to call runners and rebuilds its view after reconnects."""

    def __init__(
        self,
        ari: AriClient,
        router: Router,
        settings: Settings,
        metrics: Metrics,
        instance_id: str,
        hooks: CallHooks | None = None,
        ivr: IvrRuntime | None = None,
        surveys: SurveyScheduler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ari = ari
        self.router = router
        self.settings = settings
        self.metrics = metrics
        self.instance_id = instance_id
        self.hooks = hooks or CallHooks()
        self.ivr = ivr
        self.surveys = surveys
        self.clock = clock
        self.calls: dict[str, CallRunner] = {}
        self.channel_owner: dict[str, str] = {}
        self.recording_owner: dict[str, str] = {}
        self.control_replies: dict[str, asyncio.Future[s.ControlReply]] = {}
        self.coaching = Coaching(
            ari, self.calls, router.store.publish, clock, settings.ring_timeout_s
        )
        self.desk = DeskControls(
            self.calls, self.control_replies, router.store, instance_id, clock, self._coach_here
        )
        self.latency = LatencyLog(metrics)
        self.resyncs = 0
        self.draining = False  # stopping: new and waiting callers go to the dialplan
        self._pending: set[asyncio.Future[Any]] = set()
        self.config = call_config(settings)
        self._subscribe()

    def _subscribe(self) -> None:
        """Every ARI and router callback of the call side, registered in one place."""
        self.ari.on_event = self.on_event
        self.ari.on_connected = self.resync
        self._offers = asyncio.create_task(self._take_offers(), name="offers")
        self._controls = asyncio.create_task(self.desk.serve(), name="desk-controls")

    async def _take_offers(self) -> None:
        while True:
            call_id, op = await self.router.offers.get()
            try:
                await self.on_offer(call_id, op)
            except Exception:
                log.exception("offer of call %s to %s failed; releasing", call_id, op.id)
                await self.router.offer_failed(call_id, op.id, missed=False)

    # -- router → calls --------------------------------------------------------------------

    async def on_offer(self, call_id: str, op: Operator) -> None:
        runner = self.calls.get(call_id)
        if runner is None:
            log.warning("offer of unknown call %s to %s; releasing", call_id, op.id)
            await self.router.offer_failed(call_id, op.id, missed=False)
            return
        runner.put(s.Offered(op.id, op.endpoint, self.clock()))

    # -- desk → calls ----------------------------------------------------------------------

    async def desk_control(self, call_id: str, operator_id: str, action: str, target: str) -> str:
        """An operator's control of their own connected call (from the desk): decided by the
        call's machine on the instance that owns it (forwarded there if need be)."""
        return await self.desk.control(call_id, operator_id, action, target)

    async def coach(
        self, call_id: str, supervisor: str, mode: str, seat: str = ""
    ) -> dict[str, Any]:
        """Start (``listen``, ``whisper``, ``barge``) or ``stop`` a supervisor's coaching of a
        call, on the instance that owns it (forwarded there like the desk's controls)."""
        return dict(json.loads(await self.desk.control(call_id, supervisor, f"coach:{mode}", seat)))

    async def _coach_here(self, call_id: str, supervisor: str, action: str, seat: str) -> str:
        mode = action.removeprefix("coach:")
        if mode == "stop":
            stopped = await self.coaching.stop(call_id)
            return json.dumps({"call_id": call_id, "stopped": stopped})
        allowed = {
            *self.settings.supervisor_endpoints,
            *(o.endpoint for o in self.settings.operators),
        }
        if seat not in allowed:
            raise CallControlRefused(
                "that phone is not a supervisor's or an operator's seat here "
                "(HOTLINE_SUPERVISOR_ENDPOINTS lists the supervisors' phones)",
                seat=seat,
            )
        sess = await self.coaching.start(call_id, mode, seat, supervisor)
        return json.dumps(sess.describe())

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
                if event.playback.state == "failed":
                    self._playback_failed(event.playback, target)
                if target in self.calls:
                    self.calls[target].put(s.PlaybackDone(event.playback.id), received)
                return
            case ev.Dial() if event.dialstatus in FAILED_DIAL:
                peer, status = event.peer.id, event.dialstatus.lower()
                failed: s.Event = s.AgentFailed(peer, status)
                if self._is_third_leg(peer):
                    failed = s.ThirdFailed(peer, status)
                self._to_owner(peer, failed, received, event)
                return
            case ev.StasisEnd() | ev.ChannelHangupRequest() | ev.ChannelDestroyed():
                ch = event.channel.id
                if ch.startswith((*TAP_PREFIXES, COACH_PREFIX)):
                    return  # the speech taps end with their call; coaching.py watches its own
                if ch in self.calls:
                    self.calls[ch].put(s.CallerHungUp(self.clock()), received)
                elif self._is_citizen_leg(ch):
                    self._to_owner(ch, s.CallerHungUp(self.clock()), received, event)
                elif self._is_third_leg(ch):
                    self._to_owner(ch, s.ThirdLeft(ch), received, event)
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

    def _playback_failed(self, playback: ev.Playback, channel: str | None) -> None:
        """A prompt with no sound file in the channel's language: the caller heard nothing.
        The call goes on as if it had played (no one is left waiting on it)."""
        media = re.sub(r"(number|digits):[^,]*", r"\1:N", playback.media_uri)
        self.metrics.playbacks_failed.labels(media=media[:120]).inc()
        log.warning(
            "call %s: playback %s of %s failed (no sound file in the channel's language?)",
            channel,
            playback.id,
            playback.media_uri,
        )

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

    def _is_third_leg(self, channel_id: str) -> bool:
        """The third party of a three-way call."""
        owner = self.channel_owner.get(channel_id)
        runner = self.calls.get(owner) if owner else None
        return runner is not None and runner.call.third_channel == channel_id

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
        if ch.id.startswith(TAP_PREFIXES) or ch.name.startswith(("UnicastRTP/", "Snoop/")):
            return  # speech-recognition taps (their StasisStart carries no arguments)
        kind = event.args[0] if event.args else "inbound"
        if kind in ("agent", "callback", "third") and len(event.args) >= 2:
            # An operator's phone, the citizen rung back, a three-way call's third party.
            runner = self.calls.get(event.args[1])
            if runner is None or self.channel_owner.get(ch.id) != runner.call_id:
                log.warning("%s channel %s for unknown call; hanging up", kind, ch.id)
                self.background(self._quiet_hangup(ch.id))
                return
            leg: s.Event = s.CitizenAnswered(ch.id)
            if kind == "agent":
                leg = s.AgentAnswered(ch.id, self.clock())
            elif kind == "third":
                leg = s.ThirdAnswered(ch.id)
            runner.put(leg, received)
            return
        if kind != "inbound":
            return
        if ch.id in self.calls:
            return  # a repeated StasisStart (e.g. after a reconnect) changes nothing
        line = event.args[1] if len(event.args) >= 2 else str(ch.dialplan.get("exten", "12345"))
        if self.draining:
            self.background(self._hand_back_new(ch.id, line))
            return
        flow = self.ivr.flow_for(line) if self.ivr else None
        self.calls[ch.id] = CallRunner(
            self, s.Call(ch.id, line, config=self.config, flow=flow), ch.caller.number
        )
        arrived = s.CallerArrived(self.clock())
        if self.ivr is not None:
            arrived = s.CallerArrived(self.clock(), self.ivr.now(), self.ivr.flags)
        self.calls[ch.id].put(arrived, received)

    def background(self, coro: Any) -> None:
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
        adopted: set[str] = set()
        for ch_id in sorted(in_app - set(self.calls) - set(self.channel_owner)):
            ch = channels[ch_id]
            if ch_id.startswith(
                ("agent-", "third-", COACH_PREFIX, *TAP_PREFIXES)
            ) or ch.name.startswith(("UnicastRTP/", "Snoop/")):
                continue
            await self._adopt(ch, bridged.get(ch_id), now)
            adopted.add(ch_id)
        try:
            await reconcile(self, present, in_app, bridges, adopted)
        except Exception as exc:  # Redis down: calls still flow; the next resync tries again
            log.warning("resync #%d: reconciling with Redis failed: %r", self.resyncs, exc)
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
        try:
            saved = await self.router.store.live_call(ch.id)
        except Exception as exc:
            log.warning("call %s: saved progress unreadable: %r", ch.id, exc)
            saved = {}
        agent = next((c for c in (bridge.channels if bridge else ()) if c != ch.id), "")
        if agent:
            op_id = saved.get("operator_id", "")
            for op in [] if op_id else await self.router.store.operators():
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
        restore(runner.summary, saved)
        runner.book.save_progress()  # this instance owns the call now (desk controls)
        self.calls[ch.id] = runner
        log.info("call %s adopted after restart in state %s", ch.id, call.state.value)

    async def _hand_back_new(self, channel_id: str, line: str) -> None:
        """A caller arriving while the server stops goes straight to the fallback queue."""
        skill = self.settings.line(line).skill
        self.metrics.calls_fallback.labels(queue=skill, line=line, reason="shutdown").inc()
        try:
            await self.ari.continue_in_dialplan(
                channel_id, self.settings.fallback_context, self.settings.fallback_extension, 1
            )
        except AriError as exc:
            log.warning("call %s: not handed to the dialplan: %s", channel_id, exc)

    async def drain(self, timeout_s: float = 3.0) -> None:
        """Stop taking calls: callers still in the IVR or the queue are handed to the
        dialplan's fallback queue (with nobody to serve them in Stasis they would wait in
        silence), new callers follow them, and connected calls talk on."""
        self.draining = True
        waiting = [r for r in self.calls.values() if r.call.state in HAND_BACK]
        for runner in waiting:
            runner.hand_back()
        if waiting:
            await asyncio.wait([r.task for r in waiting], timeout=timeout_s)
        log.info("stopping: %d waiting caller(s) handed to the dialplan", len(waiting))

    def adopt_callback(self, call_id: str, saved: dict[str, str]) -> None:
        """A caller who asked to be rung back while the previous server ran: their task
        keeps its place and they are rung once an operator answers, as promised."""
        call = s.Call(call_id, saved.get("line", "12345"), s.CallState.CALLBACK, config=self.config)
        call = replace(call, callback=True, described=True, callback_offered=True)
        runner = CallRunner(self, call, saved.get("caller", ""))
        restore(runner.summary, saved)
        self.calls[call_id] = runner
        log.info("call %s: callback adopted after restart", call_id)

    async def close(self) -> None:
        """Stop handling calls (the process is shutting down). The callers stay with
        Asterisk; a restarted server adopts them in :meth:`resync`."""
        self._offers.cancel()
        self.desk.stop()
        await self.coaching.close()  # the supervisors' phones are hung up, not left bridged
        self._controls.cancel()
        runners = list(self.calls.values())
        for runner in runners:
            runner.closed = True
            runner.queue.put_nowait(None)
            runner.task.cancel()
        if runners:
            await asyncio.wait([r.task for r in runners], timeout=2.0)
