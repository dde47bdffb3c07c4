"""The flow interpreter as a pure state machine: ``start`` and ``step`` return actions.

The call machine (``telephony/session.py``) feeds it the caller's events while the call is in
the IVR and turns its actions into ARI commands. Timers carry a token, so a timer armed for
an earlier prompt or attempt is ignored when it fires late.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time

from hotline.ivr import flow as f

MAX_CHAIN = 64  # nodes entered without waiting; the loader rejects loops, this is a backstop


# -- events -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PromptDone:
    playback_id: str


@dataclass(frozen=True)
class Digit:
    digit: str


@dataclass(frozen=True)
class Timeout:
    token: str


@dataclass(frozen=True)
class LookupDone:
    found: bool
    status: str = ""


IvrEvent = PromptDone | Digit | Timeout | LookupDone


# -- actions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    media: tuple[str, ...]
    playback_id: str


@dataclass(frozen=True)
class Silence:
    playback_id: str


@dataclass(frozen=True)
class Arm:
    seconds: float
    token: str


@dataclass(frozen=True)
class Disarm:
    pass


@dataclass(frozen=True)
class Queue:
    skill: str | None
    priority: int | None
    language: str | None


@dataclass(frozen=True)
class Transfer:
    number: str


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Lookup:
    number: str


IvrAction = Say | Silence | Arm | Disarm | Queue | Transfer | Hangup | Lookup
TIMER = "ivr-input"  # the session's timer name for IVR input timeouts


@dataclass(frozen=True)
class IvrState:
    call_id: str
    node: str
    at: datetime  # local time the call arrived, for time-of-day conditions
    flags: frozenset[str] = frozenset()
    phase: str = "prompt"  # prompt, input, lookup, readout, closing, done
    playback_id: str = ""
    tries: int = 0
    digits: str = ""
    seq: int = 0
    vars: dict[str, str] = field(default_factory=dict, compare=False)
    skill: str | None = None
    priority: int | None = None
    language: str | None = None
    path: tuple[str, ...] = ()  # nodes visited, for logs and tests

    @property
    def token(self) -> str:
        return f"{self.call_id}:{self.seq}"


Step = tuple[IvrState, list[IvrAction]]


def start(flow: f.Flow, call_id: str, at: datetime, flags: frozenset[str] = frozenset()) -> Step:
    return _enter(flow, IvrState(call_id=call_id, node=flow.start, at=at, flags=flags), flow.start)


def step(flow: f.Flow, st: IvrState, event: IvrEvent) -> Step:
    """Apply one caller event; events that do not fit the current node change nothing."""
    if st.phase == "done":
        return st, []
    node = flow.nodes[st.node]
    if isinstance(event, PromptDone):
        return _prompt_done(flow, st, node, event)
    if isinstance(event, Digit):
        return _digit(flow, st, node, event.digit)
    if isinstance(event, Timeout):
        if event.token != st.token or st.phase != "input":
            return st, []
        return _timeout(flow, st, node)
    if isinstance(event, LookupDone) and st.phase == "lookup":
        assert isinstance(node, f.TicketStatusNode)
        if not event.found:
            return _enter(flow, st, node.not_found)
        number = st.vars.get(node.number_from, "")
        st = _next_seq(st)
        pb = f"ivr-{st.token}"
        say = Say(
            (
                "sound:hotline/ticket-status",
                f"digits:{number}",
                f"sound:hotline/status-{event.status}",
            ),
            pb,
        )
        return replace(st, phase="readout", playback_id=pb), [say]
    return st, []


def _next_seq(st: IvrState) -> IvrState:
    return replace(st, seq=st.seq + 1)


def _say(
    st: IvrState, prompt: str | list[str] | None, prefix: str | list[str] | None = None
) -> Step:
    st = _next_seq(st)
    pb = f"ivr-{st.token}"
    items = f.media(prefix) + f.media(prompt)
    return replace(st, phase="prompt", playback_id=pb), [Say(items, pb)]


def _enter(flow: f.Flow, st: IvrState, name: str, *, retry_prompt: bool = False) -> Step:
    actions: list[IvrAction] = []
    for _ in range(MAX_CHAIN):
        node = flow.nodes[name]
        if not retry_prompt:
            st = replace(st, node=name, tries=0, digits="", path=(*st.path, name)[-32:])
        if isinstance(node, f.SetNode):
            st = replace(
                st,
                skill=node.skill or st.skill,
                priority=node.priority if node.priority is not None else st.priority,
                language=node.language or st.language,
            )
            name = node.next
            continue
        if isinstance(node, f.ConditionNode):
            name = node.then if _holds(node, st) else node.else_
            continue
        if isinstance(node, f.PlayNode):
            st, acts = _say(st, node.prompt)
        elif isinstance(node, f.MenuNode | f.CollectNode):
            prefix = node.invalid_prompt if retry_prompt else None
            st, acts = _say(replace(st, digits=""), node.prompt, prefix)
        elif isinstance(node, f.EnqueueNode):
            st = replace(st, phase="done")
            acts = [
                Queue(
                    node.skill or st.skill,
                    node.priority if node.priority is not None else st.priority,
                    st.language,
                )
            ]
        elif isinstance(node, f.TransferNode | f.HangupNode):
            if node.prompt:
                st, acts = _say(st, node.prompt)
                st = replace(st, phase="closing")
            else:
                st, acts = _finish(st, node)
        elif isinstance(node, f.TicketStatusNode):
            number = st.vars.get(node.number_from, "")
            if not number:
                name = node.not_found
                continue
            st = replace(st, phase="lookup")
            acts = [Lookup(number)]
        else:  # pragma: no cover - the loader admits no other node type
            raise AssertionError(f"unknown node {name}")
        return st, actions + acts
    # A chain this long means a loop the loader missed: send the caller to an operator.
    return replace(st, phase="done"), [Queue(st.skill, st.priority, st.language)]


def _finish(st: IvrState, node: f.TransferNode | f.HangupNode) -> Step:
    st = replace(st, phase="done")
    if isinstance(node, f.TransferNode):
        return st, [Transfer(node.number)]
    return st, [Hangup()]


def _holds(node: f.ConditionNode, st: IvrState) -> bool:
    if node.flag is not None and node.flag not in st.flags:
        return False
    if node.dates is not None and st.at.date() not in node.dates:
        return False
    if node.weekdays is not None and st.at.isoweekday() not in node.weekdays:
        return False
    if node.time is not None:
        a, b = (time.fromisoformat(x) for x in node.time.split("-"))
        now = st.at.time().replace(tzinfo=None)
        inside = a <= now < b if a <= b else (now >= a or now < b)  # spans midnight
        if not inside:
            return False
    return True


def _prompt_done(flow: f.Flow, st: IvrState, node: object, ev: PromptDone) -> Step:
    if ev.playback_id != st.playback_id:
        return st, []
    if st.phase == "readout":
        assert isinstance(node, f.TicketStatusNode)
        return _enter(flow, replace(st, playback_id=""), node.found)
    if st.phase == "closing":
        assert isinstance(node, f.TransferNode | f.HangupNode)
        return _finish(st, node)
    if isinstance(node, f.PlayNode):
        return _enter(flow, replace(st, playback_id=""), node.next)
    if isinstance(node, f.MenuNode | f.CollectNode) and st.phase == "prompt":
        st = replace(_next_seq(st), phase="input", playback_id="")
        return st, [Arm(node.timeout_s, st.token)]
    return st, []


def _digit(flow: f.Flow, st: IvrState, node: object, digit: str) -> Step:
    if not isinstance(node, f.MenuNode | f.CollectNode) or st.phase not in ("prompt", "input"):
        return st, []  # digits outside a menu or a collection are ignored
    actions: list[IvrAction] = []
    if st.phase == "prompt":
        actions.append(Silence(st.playback_id))  # barge-in: stop the prompt
        st = replace(st, phase="input", playback_id="")
    if isinstance(node, f.MenuNode):
        if digit in node.options:
            nst, acts = _enter(flow, replace(st, phase="prompt"), node.options[digit])
            return nst, [*actions, Disarm(), *acts]
        nst, acts = _retry(flow, st, node)
        return nst, [*actions, *acts]
    if digit == "#":
        nst, acts = _complete(flow, st, node)
        return nst, [*actions, *acts]
    if not digit.isdigit():
        return st, actions
    st = replace(_next_seq(st), digits=st.digits + digit)
    if len(st.digits) >= node.max_digits:
        nst, acts = _complete(flow, st, node)
        return nst, [*actions, *acts]
    return st, [*actions, Arm(node.inter_digit_s, st.token)]


def _timeout(flow: f.Flow, st: IvrState, node: object) -> Step:
    if isinstance(node, f.CollectNode) and st.digits:
        return _complete(flow, st, node)
    if isinstance(node, f.MenuNode | f.CollectNode):
        return _retry(flow, st, node)
    return st, []


def _complete(flow: f.Flow, st: IvrState, node: f.CollectNode) -> Step:
    if len(st.digits) < node.min_digits:
        return _retry(flow, st, node)
    vars_ = {**st.vars, node.store_as: st.digits}
    nst, acts = _enter(flow, replace(st, vars=vars_), node.next)
    return nst, [Disarm(), *acts]


def _retry(flow: f.Flow, st: IvrState, node: f.MenuNode | f.CollectNode) -> Step:
    tries = st.tries + 1
    if tries > node.retries:
        fallback = node.default if isinstance(node, f.MenuNode) else node.on_fail
        nst, acts = _enter(flow, st, fallback)
        return nst, [Disarm(), *acts]
    nst, acts = _enter(flow, replace(st, tries=tries), st.node, retry_prompt=True)
    return nst, [Disarm(), *acts]
