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
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from hotline.ivr import engine as ivr
from hotline.ivr.flow import Flow


class CallState(StrEnum):
    NEW = "new"
    GREETING = "greeting"
    QUEUED = "queued"
    RINGING = "ringing"
    CONNECTED = "connected"
    ENDED = "ended"
    FALLBACK = "fallback"


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallerArrived:
    now: float
    at: datetime | None = None  # local wall time, for the flow's time conditions
    flags: frozenset[str] = frozenset()  # runtime switches (emergency announcements)


@dataclass(frozen=True, slots=True)
class TicketLookedUp:
    found: bool
    status: str = ""


@dataclass(frozen=True, slots=True)
class PlaybackDone:
    playback_id: str


@dataclass(frozen=True, slots=True)
class Offered:
    operator_id: str
    endpoint: str
    now: float


@dataclass(frozen=True, slots=True)
class AgentAnswered:
    agent_channel: str
    now: float


@dataclass(frozen=True, slots=True)
class AgentFailed:
    agent_channel: str
    reason: str = "noanswer"


@dataclass(frozen=True, slots=True)
class TimerFired:
    name: str
    token: str = ""


@dataclass(frozen=True, slots=True)
class CallerHungUp:
    now: float


@dataclass(frozen=True, slots=True)
class AgentHungUp:
    agent_channel: str
    now: float


@dataclass(frozen=True, slots=True)
class Dtmf:
    digit: str


@dataclass(frozen=True, slots=True)
class Resynced:
    """After a websocket reconnect: what Asterisk says exists now."""

    channels: frozenset[str]
    bridged_with_agent: bool
    now: float


Event = (
    CallerArrived
    | PlaybackDone
    | Offered
    | AgentAnswered
    | AgentFailed
    | TimerFired
    | CallerHungUp
    | AgentHungUp
    | Dtmf
    | Resynced
    | TicketLookedUp
)


# --- commands ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    channel: str


@dataclass(frozen=True, slots=True)
class Play:
    channel: str
    media: str
    playback_id: str


@dataclass(frozen=True, slots=True)
class StartMoh:
    channel: str


@dataclass(frozen=True, slots=True)
class StopMoh:
    channel: str


@dataclass(frozen=True, slots=True)
class StopPlayback:
    playback_id: str


@dataclass(frozen=True, slots=True)
class Enqueue:
    call_id: str
    skill: str | None = None  # set by the IVR flow; else the line's skill
    priority: int | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class LookupTicket:
    call_id: str
    number: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand the caller to the dialplan's transfer context for ``number``."""

    channel: str
    number: str


@dataclass(frozen=True, slots=True)
class LeaveQueue:
    call_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Originate:
    endpoint: str
    agent_channel: str
    call_id: str
    operator_id: str


@dataclass(frozen=True, slots=True)
class StartTimer:
    name: str
    seconds: float
    token: str = ""


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class CreateBridge:
    """Made while the seat rings, so answering costs one round trip, not three."""

    bridge_id: str


@dataclass(frozen=True, slots=True)
class JoinBridge:
    """Stop the caller's music and put both parties in the bridge."""

    bridge_id: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecordBridge:
    bridge_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Hangup:
    channel: str


@dataclass(frozen=True, slots=True)
class DestroyBridge:
    bridge_id: str


@dataclass(frozen=True, slots=True)
class OfferFailed:
    call_id: str
    operator_id: str
    missed: bool


@dataclass(frozen=True, slots=True)
class MarkAnswered:
    call_id: str
    operator_id: str


@dataclass(frozen=True, slots=True)
class CallFinished:
    call_id: str
    operator_id: str
    talk_seconds: float
    outcome: str


Command = (
    Answer
    | Play
    | StartMoh
    | StopMoh
    | Enqueue
    | LeaveQueue
    | Originate
    | StartTimer
    | CancelTimer
    | CreateBridge
    | JoinBridge
    | RecordBridge
    | Hangup
    | DestroyBridge
    | OfferFailed
    | MarkAnswered
    | CallFinished
    | StopPlayback
    | LookupTicket
    | Transfer
)


# --- the machine ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallConfig:
    greeting: str = "sound:hotline/welcome"
    greeting_max_s: float = 30.0  # the IVR guard: no flow keeps a caller longer than this
    ring_timeout_s: float = 10.0
    record: bool = True


@dataclass(frozen=True, slots=True)
class Call:
    call_id: str
    line: str
    state: CallState = CallState.NEW
    operator_id: str = ""
    agent_channel: str = ""
    bridge_id: str = ""
    playback_id: str = ""
    answered_at: float = 0.0
    offers: int = 0
    digits: str = ""
    config: CallConfig = field(default_factory=CallConfig)
    flow: Flow | None = None
    ivr: ivr.IvrState | None = None


Step = tuple[Call, list[Command]]


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
    return replace(call, state=CallState.QUEUED, playback_id="", ivr=done), [
        *cmds,
        StartMoh(call.call_id),
        enqueue,
    ]


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
    return replace(call, state=CallState.QUEUED, operator_id="", agent_channel=""), [
        CancelTimer("ring"),
        Hangup(agent_channel),
        OfferFailed(call.call_id, call.operator_id, missed=missed),
    ]


def _agent_failed(call: Call, ev: AgentFailed) -> Step:
    return _ring_failed(call, ev.agent_channel, missed=ev.reason != "unreachable")


def _ring_timeout(call: Call, ev: TimerFired) -> Step:
    if ev.name != "ring":
        return call, []
    return _ring_failed(call, ev.token, missed=True)


def _agent_answered(call: Call, ev: AgentAnswered) -> Step:
    if ev.agent_channel != call.agent_channel:
        return call, [Hangup(ev.agent_channel)]
    cmds: list[Command] = [
        CancelTimer("ring"),
        JoinBridge(call.bridge_id, (call.call_id, ev.agent_channel)),
        MarkAnswered(call.call_id, call.operator_id),
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
    return _end_connected(call, ev.now, call.call_id)


def _agent_hung_up_ringing(call: Call, ev: AgentHungUp) -> Step:
    return _ring_failed(call, ev.agent_channel, missed=True)


def _dtmf(call: Call, ev: Dtmf) -> Step:
    # Digits are kept (bounded) for the IVR; they never hold up the queue.
    return replace(call, digits=(call.digits + ev.digit)[-32:]), []


def _resync(call: Call, ev: Resynced) -> Step:
    """Reconcile with what Asterisk reports after events may have been lost."""
    if call.call_id not in ev.channels:
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
        return _end_connected(call, ev.now, call.call_id)
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
    (C.QUEUED, Dtmf): _dtmf,
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
