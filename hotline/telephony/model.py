"""The call's vocabulary: states, the events the runner feeds in, the commands it executes,
and the immutable ``Call`` value. The transitions live in :mod:`.session` (and the waiting
caller's in :mod:`.waiting`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from hotline.ivr import engine as ivr
from hotline.ivr.flow import Flow


class CallState(StrEnum):
    NEW = "new"
    GREETING = "greeting"  # in the line's IVR flow
    QUEUED = "queued"
    RINGING = "ringing"
    CONNECTED = "connected"
    CALLBACK = "callback"  # the caller hung up to be called back; the task keeps its place
    DIALING = "dialing"  # callback: the operator answered, the citizen's phone rings
    RATING = "rating"  # the operator hung up first; the caller is asked for a rating
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


@dataclass(frozen=True, slots=True)
class PositionInfo:
    """The router's view of a waiting call, asked for by ``QueryPosition``."""

    purpose: str  # announce or describe
    position: int  # callers ahead
    eta_s: float | None
    offer_callback: bool = False


@dataclass(frozen=True, slots=True)
class RecordingDone:
    name: str
    ok: bool = True


@dataclass(frozen=True, slots=True)
class CitizenAnswered:
    channel: str


@dataclass(frozen=True, slots=True)
class CitizenFailed:
    channel: str
    reason: str = "noanswer"


@dataclass(frozen=True, slots=True)
class Control:
    """An operator's call control from the desk (hold, resume, transfer, conference,
    hangup); answered with a ``ControlReply`` carrying ``request_id``."""

    request_id: str
    action: str
    operator_id: str
    target: str
    now: float


@dataclass(frozen=True, slots=True)
class ThirdAnswered:
    """The number dialled for a three-way call answered (its channel entered Stasis)."""

    channel: str


@dataclass(frozen=True, slots=True)
class ThirdFailed:
    channel: str
    reason: str = "noanswer"


@dataclass(frozen=True, slots=True)
class ThirdLeft:
    channel: str


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
    | PositionInfo
    | RecordingDone
    | CitizenAnswered
    | CitizenFailed
    | Control
    | ThirdAnswered
    | ThirdFailed
    | ThirdLeft
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


@dataclass(frozen=True, slots=True)
class QueryPosition:
    call_id: str
    purpose: str


@dataclass(frozen=True, slots=True)
class RecordCaller:
    """Record what the caller says (ends on #, silence or the time limit)."""

    channel: str
    name: str
    max_s: float


@dataclass(frozen=True, slots=True)
class StopRecording:
    name: str


@dataclass(frozen=True, slots=True)
class DescriptionRecorded:
    call_id: str
    name: str


@dataclass(frozen=True, slots=True)
class SaveRating:
    call_id: str
    stars: int  # 5 very satisfied … 1 very unsatisfied (key 1 … key 5)


@dataclass(frozen=True, slots=True)
class DialCitizen:
    """Callback: ring the citizen who asked to be called back."""

    call_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class HoldCaller:
    """Hold the caller: Asterisk plays them music on hold, and their voice is kept out of
    the bridge so the operator (and a third party) hear nothing of them."""

    channel: str


@dataclass(frozen=True, slots=True)
class ResumeCaller:
    channel: str


@dataclass(frozen=True, slots=True)
class AddToBridge:
    """One more party into the call's bridge (leaves everyone's music and hold alone)."""

    bridge_id: str
    channel: str


@dataclass(frozen=True, slots=True)
class DialThird:
    """Three-way call: ring ``number`` through the trunk; it joins the call's bridge."""

    call_id: str
    channel: str
    number: str


@dataclass(frozen=True, slots=True)
class ControlReply:
    """The answer to a desk control: ``result`` when done, else ``refused`` says why."""

    request_id: str
    action: str
    result: str = ""
    refused: str = ""


@dataclass(frozen=True, slots=True)
class DeskEvent:
    """An event for the operator's desk: ``call.<kind>`` with the call and the seat."""

    kind: str  # held, resumed, transferred, conference
    call_id: str
    operator_id: str
    state: str = ""  # conference: dialing, joined, left, failed
    target: str = ""


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
    | QueryPosition
    | RecordCaller
    | StopRecording
    | DescriptionRecorded
    | SaveRating
    | DialCitizen
    | HoldCaller
    | ResumeCaller
    | DialThird
    | AddToBridge
    | ControlReply
    | DeskEvent
)


# --- the machine ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallConfig:
    greeting: str = "sound:hotline/welcome"
    greeting_max_s: float = 30.0  # the IVR guard: no flow keeps a caller longer than this
    ring_timeout_s: float = 10.0
    record: bool = True
    announce_first_s: float = 0.0  # 0: no position announcements
    announce_every_s: float = 45.0
    describe_after_s: float = 0.0  # 0: no invitation to describe the problem
    describe_min_wait_s: float = 30.0  # invite only when the estimated wait is this long
    describe_max_s: float = 30.0
    callback: bool = False  # offer a callback when the router says the wait is long
    rating: bool = False  # ask for a rating when the operator hangs up first
    rating_timeout_s: float = 8.0
    dial_timeout_s: float = 40.0
    own_lines: frozenset[str] = frozenset()  # the hotline's numbers: no transfer back to them


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
    caller_channel: str = ""  # the citizen's leg after a callback; else the call_id
    activity: str = ""  # while queued: announce, callback_offer, callback_confirm, invite,
    activity_pb: str = ""  #   recording — with the playback id or recording name in use
    described: bool = False
    callback_offered: bool = False
    callback: bool = False
    announcements: int = 0
    held_at: float = 0.0  # connected: when the caller was put on hold (0: not on hold)
    hold_s: float = 0.0  # time on hold so far (part of talk time, not taken from it)
    third_channel: str = ""  # three-way call: the leg dialled, while it rings or talks
    third_number: str = ""
    third_joined: bool = False
    thirds: int = 0  # legs dialled so far (for unique channel ids)

    @property
    def chan(self) -> str:
        """The citizen's channel now."""
        return self.caller_channel or self.call_id


Step = tuple[Call, list[Command]]
