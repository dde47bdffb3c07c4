"""The call as a state machine: ``step(call, event) -> (call, commands)``. No I/O.

States: NEW → GREETING → QUEUED → RINGING → CONNECTED → ENDED, with RINGING → QUEUED when
the offered seat does not answer, and FALLBACK when something broke and the call was handed
back to the dialplan. GREETING is the time in the line's IVR flow (``hotline/ivr``; the
default flow is a greeting and straight into the queue); a guard timer sends the caller to
the queue if the flow ever stalls. The runner (:mod:`.stasis`) turns ARI events into these
events and executes the returned commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from hotline.ivr import engine as ivr

from . import controls, waiting
from .model import (  # the vocabulary, re-exported: callers use session.Answer etc.
    AddToBridge,
    AgentAnswered,
    AgentFailed,
    AgentHungUp,
    Answer,
    Call,
    CallConfig,
    CallerArrived,
    CallerHungUp,
    CallFinished,
    CallState,
    CancelTimer,
    CitizenAnswered,
    CitizenFailed,
    Command,
    Control,
    ControlReply,
    CreateBridge,
    DescriptionRecorded,
    DeskEvent,
    DestroyBridge,
    DialCitizen,
    DialThird,
    Dtmf,
    Enqueue,
    Event,
    Hangup,
    HoldCaller,
    JoinBridge,
    LeaveQueue,
    LookupTicket,
    MarkAnswered,
    Offered,
    OfferFailed,
    Originate,
    Play,
    PlaybackDone,
    PositionInfo,
    QueryPosition,
    RecordBridge,
    RecordCaller,
    RecordingDone,
    ResumeCaller,
    Resynced,
    SaveRating,
    StartMoh,
    StartTimer,
    Step,
    StopMoh,
    StopPlayback,
    StopRecording,
    ThirdAnswered,
    ThirdFailed,
    ThirdLeft,
    TicketLookedUp,
    TimerFired,
    Transfer,
)


def step(call: Call, event: Event) -> Step:
    """Apply one event. Events that do not concern the current state change nothing."""
    handler = _HANDLERS.get((call.state, type(event)))
    if handler is None:
        return call, []
    return handler(call, event)


def _arrive(call: Call, ev: CallerArrived) -> Step:
    if call.flow is not None:
        at = ev.at or datetime.fromtimestamp(ev.now)
        state, actions = ivr.start(call.flow, call.call_id, at, ev.flags)
        call = replace(call, state=CallState.GREETING, ivr=state)
        head: list[Command] = [Answer(call.call_id)]
        call, cmds = _ivr_commands(call, actions)
        if call.state is CallState.GREETING:
            cmds.append(StartTimer("greeting", call.config.greeting_max_s))
        return call, head + cmds
    pb = f"pb-{call.call_id}-greet"
    return replace(call, state=CallState.GREETING, playback_id=pb), [
        Answer(call.call_id),
        Play(call.call_id, call.config.greeting, pb),
        StartTimer("greeting", call.config.greeting_max_s),
    ]


def _to_queue(call: Call, q: ivr.Queue | None = None) -> Step:
    cmds: list[Command] = [CancelTimer("greeting")]
    if call.ivr is not None:
        cmds.append(CancelTimer(ivr.TIMER))
        if call.ivr.playback_id:
            cmds.append(StopPlayback(call.ivr.playback_id))
    enqueue = Enqueue(call.call_id)
    if q is not None:
        enqueue = Enqueue(call.call_id, q.skill, q.priority, q.language)
    done = replace(call.ivr, phase="done", playback_id="") if call.ivr else None
    call = replace(call, state=CallState.QUEUED, playback_id="", ivr=done)
    # Into the queue first, then the music: routing starts one Asterisk round trip sooner.
    return call, [*cmds, enqueue, StartMoh(call.call_id), *waiting.queue_timers(call)]


def _ivr_commands(call: Call, actions: list[ivr.IvrAction]) -> Step:
    """Turn the flow's actions into ARI commands; leaving the flow changes the call state."""
    cmds: list[Command] = []
    for a in actions:
        if isinstance(a, ivr.Say):
            cmds.append(Play(call.call_id, ",".join(a.media), a.playback_id))
        elif isinstance(a, ivr.Silence):
            cmds.append(StopPlayback(a.playback_id))
        elif isinstance(a, ivr.Arm):
            cmds.append(StartTimer(ivr.TIMER, a.seconds, a.token))
        elif isinstance(a, ivr.Disarm):
            cmds.append(CancelTimer(ivr.TIMER))
        elif isinstance(a, ivr.Lookup):
            cmds.append(LookupTicket(call.call_id, a.number))
        elif isinstance(a, ivr.Queue):
            call, more = _to_queue(call, a)
            return call, cmds + more
        elif isinstance(a, ivr.Transfer):
            done = [CancelTimer("greeting"), CancelTimer(ivr.TIMER)]
            return replace(call, state=CallState.ENDED), [
                *cmds,
                *done,
                Transfer(call.call_id, a.number),
            ]
        elif isinstance(a, ivr.Hangup):
            done = [CancelTimer("greeting"), CancelTimer(ivr.TIMER)]
            return replace(call, state=CallState.ENDED), [*cmds, *done, Hangup(call.call_id)]
    return call, cmds


def _ivr_event(call: Call, event: ivr.IvrEvent) -> Step:
    assert call.flow is not None and call.ivr is not None
    state, actions = ivr.step(call.flow, call.ivr, event)
    return _ivr_commands(replace(call, ivr=state), actions)


def _greeting_done(call: Call, ev: PlaybackDone) -> Step:
    if call.ivr is not None:
        return _ivr_event(call, ivr.PromptDone(ev.playback_id))
    return _to_queue(call) if ev.playback_id == call.playback_id else (call, [])


def _greeting_timeout(call: Call, ev: TimerFired) -> Step:
    if ev.name == ivr.TIMER and call.ivr is not None:
        return _ivr_event(call, ivr.Timeout(ev.token))
    return _to_queue(call) if ev.name == "greeting" else (call, [])


def _greeting_dtmf(call: Call, ev: Dtmf) -> Step:
    call, _ = _dtmf(call, ev)
    if call.ivr is not None:
        return _ivr_event(call, ivr.Digit(ev.digit))
    return call, []


def _looked_up(call: Call, ev: TicketLookedUp) -> Step:
    if call.ivr is None:
        return call, []
    return _ivr_event(call, ivr.LookupDone(ev.found, ev.status))


def _offered(call: Call, ev: Offered) -> Step:
    n = call.offers + 1
    agent = f"agent-{call.call_id}-{n}"
    cmds: list[Command] = []
    bridge = call.bridge_id
    if not bridge:
        bridge = f"call-{call.call_id}"
        cmds.append(CreateBridge(bridge))
    return replace(
        call,
        state=CallState.RINGING,
        operator_id=ev.operator_id,
        agent_channel=agent,
        offers=n,
        bridge_id=bridge,
    ), [
        *cmds,
        Originate(ev.endpoint, agent, call.call_id, ev.operator_id),
        StartTimer("ring", call.config.ring_timeout_s + 2.0, token=agent),
    ]


def _offered_while_busy(call: Call, ev: Offered) -> Step:
    # A second offer can only come from a lost race; give the seat back at once.
    if ev.operator_id == call.operator_id:
        return call, []
    return call, [OfferFailed(call.call_id, ev.operator_id, missed=False)]


def _ring_failed(call: Call, agent_channel: str, missed: bool) -> Step:
    if agent_channel != call.agent_channel:
        return call, []
    back = CallState.CALLBACK if call.callback else CallState.QUEUED
    cmds: list[Command] = [
        CancelTimer("ring"),
        Hangup(agent_channel),
        OfferFailed(call.call_id, call.operator_id, missed=missed),
    ]
    if back is CallState.QUEUED and call.config.announce_first_s > 0:
        cmds.append(StartTimer("announce", call.config.announce_every_s))
    return replace(call, state=back, operator_id="", agent_channel=""), cmds


def _agent_failed(call: Call, ev: AgentFailed) -> Step:
    return _ring_failed(call, ev.agent_channel, missed=ev.reason != "unreachable")


def _ring_timeout(call: Call, ev: TimerFired) -> Step:
    if ev.name != "ring":
        return call, []
    return _ring_failed(call, ev.token, missed=True)


def _agent_answered(call: Call, ev: AgentAnswered) -> Step:
    if ev.agent_channel != call.agent_channel:
        return call, [Hangup(ev.agent_channel)]
    if call.callback:
        return waiting.callback_agent_answered(call, ev.agent_channel, ev.now)
    # What the caller hears stops first: the bridge add would wait behind it on Asterisk.
    call, stops, after = waiting.stop_activity(call)
    cmds: list[Command] = [
        CancelTimer("ring"),
        *stops,
        JoinBridge(call.bridge_id, (call.call_id, ev.agent_channel)),
        MarkAnswered(call.call_id, call.operator_id),
        *after,
    ]
    if call.config.record:
        cmds.append(RecordBridge(call.bridge_id, f"call-{call.call_id}"))
    return replace(call, state=CallState.CONNECTED, answered_at=ev.now), cmds


def _stray_agent(call: Call, ev: AgentAnswered) -> Step:
    return call, [Hangup(ev.agent_channel)]


def _hangup_before_queue(call: Call, ev: CallerHungUp) -> Step:
    if call.ivr is not None:
        return replace(call, state=CallState.ENDED), [
            CancelTimer("greeting"),
            CancelTimer(ivr.TIMER),
        ]
    return replace(call, state=CallState.ENDED), [CancelTimer("greeting")]


def _abandon(call: Call, ev: CallerHungUp) -> Step:
    cmds: list[Command] = [CancelTimer("ring")]
    if call.state is CallState.RINGING and call.agent_channel:
        cmds.append(Hangup(call.agent_channel))
    cmds.append(LeaveQueue(call.call_id, "abandon"))
    if call.bridge_id:
        cmds.append(DestroyBridge(call.bridge_id))
    return replace(call, state=CallState.ENDED), cmds


def _end_connected(call: Call, now: float, hangup: str) -> Step:
    talk = max(0.0, now - call.answered_at)
    return replace(call, state=CallState.ENDED), [
        Hangup(hangup),
        DestroyBridge(call.bridge_id),
        CallFinished(call.call_id, call.operator_id, talk, "answered"),
    ]


def _caller_left_connected(call: Call, ev: CallerHungUp) -> Step:
    return _end_connected(call, ev.now, call.agent_channel)


def _agent_left_connected(call: Call, ev: AgentHungUp) -> Step:
    if ev.agent_channel != call.agent_channel:
        return call, []
    if call.config.rating:
        return waiting.start_rating(call, ev.now)
    return _end_connected(call, ev.now, call.chan)


def _operator_left_dialing(call: Call, ev: AgentHungUp) -> Step:
    if ev.agent_channel != call.agent_channel:
        return call, []
    return replace(call, state=CallState.ENDED), [
        CancelTimer("dial"),
        Hangup(call.chan),
        DestroyBridge(call.bridge_id),
        CallFinished(call.call_id, call.operator_id, 0.0, "callback_failed"),
    ]


def _citizen_left_dialing(call: Call, ev: CallerHungUp) -> Step:
    return waiting.citizen_failed(call, CitizenFailed(call.chan, "hangup"))


def _left_rating(call: Call, ev: CallerHungUp) -> Step:
    return replace(call, state=CallState.ENDED), [CancelTimer("rating")]


def _agent_hung_up_ringing(call: Call, ev: AgentHungUp) -> Step:
    return _ring_failed(call, ev.agent_channel, missed=True)


def _dtmf(call: Call, ev: Dtmf) -> Step:
    # Digits are kept (bounded) for the IVR; they never hold up the queue.
    return replace(call, digits=(call.digits + ev.digit)[-32:]), []


def _resync(call: Call, ev: Resynced) -> Step:
    """Reconcile with what Asterisk reports after events may have been lost."""
    if call.state is CallState.CALLBACK:
        return call, []  # the caller hung up on purpose; the task waits in the queue
    if call.chan not in ev.channels:
        return step(call, CallerHungUp(ev.now))
    if call.state is CallState.GREETING:
        return _to_queue(call)
    if call.state is CallState.RINGING:
        if call.agent_channel not in ev.channels:
            return _ring_failed(call, call.agent_channel, missed=True)
        if ev.bridged_with_agent:
            return replace(call, state=CallState.CONNECTED, answered_at=ev.now), [
                CancelTimer("ring"),
                MarkAnswered(call.call_id, call.operator_id),
            ]
    if call.state is CallState.CONNECTED and call.agent_channel not in ev.channels:
        return _end_connected(call, ev.now, call.chan)
    return call, []


C = CallState
_HANDLERS: dict[tuple[CallState, type], Callable[[Call, Any], Step]] = {
    (C.NEW, CallerArrived): _arrive,
    (C.NEW, CallerHungUp): _hangup_before_queue,
    (C.GREETING, PlaybackDone): _greeting_done,
    (C.GREETING, TimerFired): _greeting_timeout,
    (C.GREETING, CallerHungUp): _hangup_before_queue,
    (C.GREETING, Offered): _offered_while_busy,
    (C.GREETING, Dtmf): _greeting_dtmf,
    (C.GREETING, TicketLookedUp): _looked_up,
    (C.GREETING, AgentAnswered): _stray_agent,
    (C.QUEUED, Offered): _offered,
    (C.QUEUED, CallerHungUp): _abandon,
    (C.QUEUED, Dtmf): waiting.queued_dtmf,
    (C.QUEUED, TimerFired): waiting.queued_timer,
    (C.QUEUED, PositionInfo): waiting.position,
    (C.QUEUED, PlaybackDone): waiting.queued_playback,
    (C.QUEUED, RecordingDone): waiting.recorded,
    (C.RINGING, PlaybackDone): waiting.queued_playback,
    (C.RINGING, RecordingDone): waiting.recorded,
    (C.CALLBACK, Offered): _offered,
    (C.CALLBACK, AgentAnswered): _stray_agent,
    (C.DIALING, CitizenAnswered): waiting.citizen_answered,
    (C.DIALING, CitizenFailed): waiting.citizen_failed,
    (C.DIALING, TimerFired): waiting.dial_timeout,
    (C.DIALING, AgentHungUp): _operator_left_dialing,
    (C.DIALING, CallerHungUp): _citizen_left_dialing,
    (C.DIALING, Offered): _offered_while_busy,
    (C.DIALING, AgentAnswered): _stray_agent,
    (C.RATING, PlaybackDone): waiting.rating_playback,
    (C.RATING, Dtmf): waiting.rating_dtmf,
    (C.RATING, TimerFired): waiting.rating_timeout,
    (C.RATING, CallerHungUp): _left_rating,
    (C.RATING, Offered): _offered_while_busy,
    (C.RATING, AgentAnswered): _stray_agent,
    (C.QUEUED, AgentAnswered): _stray_agent,
    (C.RINGING, AgentAnswered): _agent_answered,
    (C.RINGING, AgentFailed): _agent_failed,
    (C.RINGING, AgentHungUp): _agent_hung_up_ringing,
    (C.RINGING, TimerFired): _ring_timeout,
    (C.RINGING, CallerHungUp): _abandon,
    (C.RINGING, Offered): _offered_while_busy,
    (C.RINGING, Dtmf): _dtmf,
    (C.CONNECTED, CallerHungUp): _caller_left_connected,
    (C.CONNECTED, AgentHungUp): _agent_left_connected,
    (C.CONNECTED, AgentAnswered): _stray_agent,
    (C.CONNECTED, Offered): _offered_while_busy,
    (C.CONNECTED, Dtmf): _dtmf,
    (C.ENDED, Offered): _offered_while_busy,
    (C.ENDED, AgentAnswered): _stray_agent,
    (C.FALLBACK, Offered): _offered_while_busy,
    (C.FALLBACK, AgentAnswered): _stray_agent,
}
for _s in (C.GREETING, C.QUEUED, C.RINGING, C.CONNECTED):
    _HANDLERS[(_s, Resynced)] = _resync
# The desk's call controls (``controls.py``): taken when connected, refused otherwise.
for _s in C:
    _HANDLERS[(_s, Control)] = controls.refuse
    _HANDLERS[(_s, ThirdAnswered)] = controls.stray_third
_HANDLERS[(C.CONNECTED, Control)] = controls.control
_HANDLERS[(C.CONNECTED, ThirdAnswered)] = controls.third_answered
_HANDLERS[(C.CONNECTED, ThirdFailed)] = controls.third_failed
_HANDLERS[(C.CONNECTED, ThirdLeft)] = controls.third_left
for _e in (CallerHungUp, AgentHungUp, Resynced):
    _HANDLERS[(C.CONNECTED, _e)] = controls.ending(_HANDLERS[(C.CONNECTED, _e)])


__all__ = [
    "AddToBridge",
    "AgentAnswered",
    "AgentFailed",
    "AgentHungUp",
    "Answer",
    "Call",
    "CallConfig",
    "CallFinished",
    "CallState",
    "CallerArrived",
    "CallerHungUp",
    "CancelTimer",
    "CitizenAnswered",
    "CitizenFailed",
    "Command",
    "Control",
    "ControlReply",
    "CreateBridge",
    "DescriptionRecorded",
    "DeskEvent",
    "DestroyBridge",
    "DialCitizen",
    "DialThird",
    "Dtmf",
    "Enqueue",
    "Event",
    "Hangup",
    "HoldCaller",
    "JoinBridge",
    "LeaveQueue",
    "LookupTicket",
    "MarkAnswered",
    "OfferFailed",
    "Offered",
    "Originate",
    "Play",
    "PlaybackDone",
    "PositionInfo",
    "QueryPosition",
    "RecordBridge",
    "RecordCaller",
    "RecordingDone",
    "ResumeCaller",
    "Resynced",
    "SaveRating",
    "StartMoh",
    "StartTimer",
    "Step",
    "StopMoh",
    "StopPlayback",
    "StopRecording",
    "ThirdAnswered",
    "ThirdFailed",
    "ThirdLeft",
    "TicketLookedUp",
    "TimerFired",
    "Transfer",
    "step",
]
