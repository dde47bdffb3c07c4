"""The call as a state machine: ``step(call, event) -> (call, commands)``. No I/O.

States: NEW → GREETING → QUEUED → RINGING → CONNECTED → ENDED, with RINGING → QUEUED when
the offered seat does not answer, and FALLBACK when something broke and the call was handed
back to the dialplan. The runner (:mod:`.stasis`) turns ARI events into these events and
executes the returned commands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


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
class Enqueue:
    call_id: str


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
)


# --- the machine ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallConfig:
    greeting: str = "sound:hotline/welcome"
    greeting_max_s: float = 30.0
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


Step = tuple[Call, list[Command]]


def step(call: Call, event: Event) -> Step:
    """Apply one event. Events that do not concern the current state change nothing."""
    handler = _HANDLERS.get((call.state, type(event)))
    if handler is None:
        return call, []
    return handler(call, event)


def _arrive(call: Call, ev: CallerArrived) -> Step:
    pb = f"pb-{call.call_id}-greet"
    return replace(call, state=CallState.GREETING, playback_id=pb), [
        Answer(call.call_id),
        Play(call.call_id, call.config.greeting, pb),
        StartTimer("greeting", call.config.greeting_max_s),
    ]


def _to_queue(call: Call) -> Step:
    return replace(call, state=CallState.QUEUED, playback_id=""), [
        CancelTimer("greeting"),
        StartMoh(call.call_id),
        Enqueue(call.call_id),
    ]


def _greeting_done(call: Call, ev: PlaybackDone) -> Step:
    return _to_queue(call) if ev.playback_id == call.playback_id else (call, [])


def _greeting_timeout(call: Call, ev: TimerFired) -> Step:
    return _to_queue(call) if ev.name == "greeting" else (call, [])


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
    (C.GREETING, Dtmf): _dtmf,
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
