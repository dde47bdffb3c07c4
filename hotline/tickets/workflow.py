"""The closed loop as a pure state machine: ``apply(state, action, actor, now, rules)``.

Every action is a small frozen dataclass. ``apply`` checks who may do it and in which status,
and returns the next :class:`TicketState` with the side records (a reply, a review, an
extension request, ...) that the store writes next to the history entry. Nothing here does
I/O; time, the calendar and the department tree come in as arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from hotline.tickets import deadlines as dl
from hotline.tickets.actions import (  # re-exported: callers use workflow.Dispatch etc.
    Action,
    Answer,
    Appeal,
    Close,
    Comment,
    Contact,
    CoReply,
    DecideAppeal,
    DecideExtension,
    Dispatch,
    Escalate,
    Merge,
    PassDown,
    Rate,
    Redo,
    Reopen,
    Reply,
    RequestExtension,
    Return,
    Review,
    SignFor,
    Supervise,
)
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.exceptions import Forbidden, IllegalTransition, InvalidInput
from hotline.tickets.models import (
    DECIDING_ROLES,
    HANDLING_STATUSES,
    HOTLINE_ROLES,
    OPEN_STATUSES,
    Actor,
    Role,
    Satisfaction,
    Status,
    SupervisionForm,
    TicketState,
    Urgency,
)

S = Status


class DepartmentTree:
    """Parent links of the department tree (hotline centre → districts → streets)."""

    def __init__(self, parents: Mapping[int, int | None]) -> None:
        self.parents = dict(parents)

    def exists(self, dept: int) -> bool:
        return dept in self.parents

    def is_below(self, dept: int, ancestor: int) -> bool:
        seen = set()
        cursor = self.parents.get(dept)
        while cursor is not None and cursor not in seen:
            if cursor == ancestor:
                return True
            seen.add(cursor)
            cursor = self.parents.get(cursor)
        return False


@dataclass(frozen=True)
class Rules:
    calendar: WorkCalendar
    tree: DepartmentTree
    policy: dl.DeadlinePolicy = field(default_factory=dl.DeadlinePolicy)
    max_returns: int = 2  # first-responder rule: after this many returns, escalate
    emergency: bool = False


@dataclass(frozen=True)
class Record:
    """A side row written with the history entry: ``kind`` names its table."""

    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    state: TicketState
    action: str
    note: str = ""
    records: tuple[Record, ...] = ()


Handler = Callable[[TicketState, Any, Actor, datetime, Rules], Outcome]
_HANDLERS: dict[type[Action], tuple[frozenset[Status], Handler]] = {}


def _on(action: type[Action], *statuses: Status) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[action] = (frozenset(statuses), fn)
        return fn

    return register


def allowed_actions() -> dict[str, frozenset[Status]]:
    return {a.name: statuses for a, (statuses, _) in _HANDLERS.items()}


def apply(state: TicketState, action: Action, actor: Actor, now: datetime, rules: Rules) -> Outcome:
    """Apply ``action`` by ``actor`` at ``now``; raise a domain error if it is not allowed."""
    statuses, handler = _HANDLERS[type(action)]
    if state.status not in statuses:
        raise IllegalTransition(state.status.value, action.name)
    return handler(state, action, actor, now, rules)


def diff(old: TicketState, new: TicketState) -> dict[str, tuple[Any, Any]]:
    """The fields an outcome changed, for the history entry."""
    out = {}
    for f in fields(TicketState):
        if not f.compare:
            continue
        a, b = getattr(old, f.name), getattr(new, f.name)
        if a != b:
            out[f.name] = (a, b)
    return out


# -- who may act ------------------------------------------------------------------------------


def _require_role(actor: Actor, roles: frozenset[Role], action: str) -> None:
    if actor.role not in roles:
        raise Forbidden(f"a {actor.role.value} may not {action}", role=actor.role.value)


def _require_handler(state: TicketState, actor: Actor, action: str) -> None:
    if actor.role is Role.ADMIN or actor.role is Role.SYSTEM:
        return
    if actor.role is not Role.DEPARTMENT or actor.department_id != state.handler_id:
        raise Forbidden(
            f"only the handling department may {action}",
            handler_id=state.handler_id,
            department_id=actor.department_id,
        )


def _text(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty", field=what)
    if len(value) > 20000:
        raise InvalidInput(f"{what} is too long (over 20,000 characters)", field=what)
    return value


def _in_working_days(state: TicketState) -> bool:
    return state.urgency is not Urgency.URGENT and not state.emergency


def _fresh_deadlines(state: TicketState, now: datetime, rules: Rules) -> TicketState:
    d = dl.compute_deadlines(
        state.kind,
        state.urgency,
        now,
        emergency=rules.emergency,
        policy=rules.policy,
        calendar=rules.calendar,
    )
    return replace(
        state,
        reply_due=d.reply_due,
        contact_due=d.contact_due,
        contacted_at=None,
        dispatched_at=now,
        emergency=rules.emergency and state.urgency is not Urgency.URGENT,
    )


# -- the transitions --------------------------------------------------------------------------


@_on(Answer, S.ACCEPTED)
def _answer(state: TicketState, a: Answer, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, HOTLINE_ROLES, a.name)
    text = _text(a.text, "answer")
    return Outcome(
        replace(state, status=S.ANSWERED, replied_at=now),
        a.name,
        text,
        (Record("reply", {"text": text, "department_id": None, "on_call": True}),),
    )


@_on(Dispatch, S.ACCEPTED, S.RETURNED, S.ESCALATED)
def _dispatch(state: TicketState, a: Dispatch, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, HOTLINE_ROLES, a.name)
    for dept in (a.lead, *a.co_handlers):
        if not r.tree.exists(dept):
            raise InvalidInput(f"department {dept} does not exist", department_id=dept)
    co = tuple(dict.fromkeys(d for d in a.co_handlers if d != a.lead))
    if state.status is S.ESCALATED and actor.role not in DECIDING_ROLES:
        raise Forbidden("only a dispatcher or supervisor may rule on a disputed ticket")
    new = replace(
        _fresh_deadlines(state, now, r),
        status=S.DISPATCHED,
        handler_id=a.lead,
        co_handler_ids=co,
        delegated_by=(),
        first_department_id=state.first_department_id or a.lead,
        ruled=state.status is S.ESCALATED,
    )
    records = [Record("assignment", {"department_id": a.lead, "role": "lead"})]
    records += [Record("assignment", {"department_id": d, "role": "co"}) for d in co]
    return Outcome(new, a.name, a.note.strip(), tuple(records))


@_on(SignFor, S.DISPATCHED)
def _sign(state: TicketState, a: SignFor, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_handler(state, actor, a.name)
    return Outcome(replace(state, status=S.IN_PROGRESS), a.name)


@_on(Return, S.DISPATCHED, S.IN_PROGRESS)
def _return(state: TicketState, a: Return, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_handler(state, actor, a.name)
    reason = _text(a.reason, "reason")
    if state.delegated_by:
        # Passed down the tree: it goes back up to the department that passed it.
        parent = state.delegated_by[-1]
        new = replace(
            state, status=S.IN_PROGRESS, handler_id=parent, delegated_by=state.delegated_by[:-1]
        )
        return Outcome(new, a.name, reason)
    if state.ruled:
        raise IllegalTransition(
            state.status.value, a.name, "it was dispatched on the city's ruling"
        )
    if state.returns >= r.max_returns:
        raise IllegalTransition(
            state.status.value,
            a.name,
            f"returned {state.returns} times already; first-responder rule: "
            "handle it or ask the hotline to escalate",
        )
    new = replace(state, status=S.RETURNED, returns=state.returns + 1)
    return Outcome(new, a.name, reason, (Record("return", {"reason": reason}),))


@_on(Escalate, S.RETURNED)
def _escalate(state: TicketState, a: Escalate, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, DECIDING_ROLES, a.name)
    return Outcome(replace(state, status=S.ESCALATED), a.name, _text(a.reason, "reason"))


@_on(PassDown, S.IN_PROGRESS)
def _pass_down(state: TicketState, a: PassDown, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_handler(state, actor, a.name)
    if state.handler_id is None or not r.tree.is_below(a.to, state.handler_id):
        raise InvalidInput(
            "a ticket can only be passed down to a unit below the handling department",
            to=a.to,
            handler_id=state.handler_id,
        )
    new = replace(
        state,
        status=S.DISPATCHED,
        handler_id=a.to,
        delegated_by=(*state.delegated_by, state.handler_id),
    )
    return Outcome(
        new,
        a.name,
        a.note.strip(),
        (Record("assignment", {"department_id": a.to, "role": "lead"}),),
    )


@_on(Contact, S.DISPATCHED, S.IN_PROGRESS, S.EXTENSION_PENDING)
def _contact(state: TicketState, a: Contact, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_handler(state, actor, a.name)
    return Outcome(replace(state, contacted_at=state.contacted_at or now), a.name, a.note.strip())


@_on(RequestExtension, S.IN_PROGRESS)
def _request_extension(
    state: TicketState, a: RequestExtension, actor: Actor, now: datetime, r: Rules
) -> Outcome:
    _require_handler(state, actor, a.name)
    if not 1 <= a.days <= r.policy.max_extension_days:
        raise InvalidInput(f"an extension is 1 to {r.policy.max_extension_days} days", days=a.days)
    reason = _text(a.reason, "reason")
    new = replace(state, status=S.EXTENSION_PENDING, extension_since=now, extension_days=a.days)
    return Outcome(new, a.name, reason, (Record("extension", {"days": a.days, "reason": reason}),))


@_on(DecideExtension, S.EXTENSION_PENDING)
def _decide_extension(
    state: TicketState, a: DecideExtension, actor: Actor, now: datetime, r: Rules
) -> Outcome:
    _require_role(actor, DECIDING_ROLES, a.name)
    due = state.reply_due
    working = _in_working_days(state)
    if due is not None and r.policy.pause_on_extension and state.extension_since is not None:
        due = dl.paused(
            due, state.extension_since, now, in_working_days=working, calendar=r.calendar
        )
    if due is not None and a.approve:
        due = dl.extend(due, state.extension_days, in_working_days=working, calendar=r.calendar)
    new = replace(
        state, status=S.IN_PROGRESS, reply_due=due, extension_since=None, extension_days=0
    )
    decision = {"approved": a.approve, "note": a.note.strip()}
    return Outcome(new, a.name, a.note.strip(), (Record("extension_decision", decision),))


@_on(CoReply, S.DISPATCHED, S.IN_PROGRESS, S.EXTENSION_PENDING)
def _co_reply(state: TicketState, a: CoReply, actor: Actor, now: datetime, r: Rules) -> Outcome:
    if actor.role is not Role.DEPARTMENT or actor.department_id not in state.co_handler_ids:
        raise Forbidden("only a co-handling department may add its part")
    text = _text(a.text, "text")
    record = Record("reply", {"text": text, "department_id": actor.department_id, "co": True})
    return Outcome(state, a.name, text, (record,))


@_on(Reply, S.IN_PROGRESS)
def _reply(state: TicketState, a: Reply, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_handler(state, actor, a.name)
    text = _text(a.text, "reply")
    new = replace(state, status=S.REPLIED, replied_at=now, contacted_at=state.contacted_at or now)
    return Outcome(
        new, a.name, text, (Record("reply", {"text": text, "department_id": state.handler_id}),)
    )


@_on(Review, S.REPLIED)
def _review(state: TicketState, a: Review, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, DECIDING_ROLES, a.name)
    review = {"accepted": a.accept, "reason": a.reason.strip()}
    if a.accept:
        return Outcome(
            replace(state, status=S.FOLLOW_UP),
            a.name,
            a.reason.strip(),
            (Record("review", review),),
        )
    reason = _text(a.reason, "reason")
    new = replace(
        _fresh_deadlines(state, now, r), status=S.IN_PROGRESS, redo_count=state.redo_count + 1
    )
    return Outcome(new, a.name, reason, (Record("review", review),))


@_on(Rate, S.ANSWERED, S.FOLLOW_UP)
def _rate(state: TicketState, a: Rate, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, HOTLINE_ROLES | {Role.SYSTEM}, a.name)
    if a.stars is not None and not 1 <= a.stars <= 5:
        raise InvalidInput("stars are 1 to 5", stars=a.stars)
    satisfied = a.satisfaction is not Satisfaction.UNSATISFIED
    new = replace(
        state,
        status=S.CLOSED if satisfied else S.UNSATISFIED,
        satisfaction=a.satisfaction,
        stars=a.stars,
        rating_void=False,
        closed_at=now if satisfied else None,
    )
    record = {"satisfaction": a.satisfaction.value, "stars": a.stars, "source": a.source}
    return Outcome(new, a.name, a.note.strip(), (Record("rating", record),))


@_on(Redo, S.UNSATISFIED)
def _redo(state: TicketState, a: Redo, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, DECIDING_ROLES, a.name)
    reason = _text(a.reason, "reason")
    if state.handler_id is None:
        return Outcome(
            replace(state, status=S.ACCEPTED, redo_count=state.redo_count + 1), a.name, reason
        )
    new = replace(
        _fresh_deadlines(state, now, r), status=S.IN_PROGRESS, redo_count=state.redo_count + 1
    )
    return Outcome(new, a.name, reason)


@_on(Supervise, *(OPEN_STATUSES - {S.MERGED}))
def _supervise(state: TicketState, a: Supervise, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, frozenset({Role.SUPERVISOR, Role.ADMIN}), a.name)
    note = _text(a.note, "note")
    new = replace(state, supervision=a.form)
    if state.status is S.UNSATISFIED and state.handler_id is not None:
        new = replace(
            _fresh_deadlines(new, now, r), status=S.IN_PROGRESS, redo_count=state.redo_count + 1
        )
    return Outcome(
        new, a.name, note, (Record("supervision", {"form": a.form.value, "note": note}),)
    )


@_on(Close, S.ANSWERED, S.FOLLOW_UP, S.UNSATISFIED)
def _close(state: TicketState, a: Close, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, DECIDING_ROLES if state.status is S.UNSATISFIED else HOTLINE_ROLES, a.name)
    note = _text(a.note, "note") if state.status is S.UNSATISFIED else a.note.strip()
    return Outcome(replace(state, status=S.CLOSED, closed_at=now), a.name, note)


@_on(Reopen, S.CLOSED)
def _reopen(state: TicketState, a: Reopen, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, DECIDING_ROLES, a.name)
    reason = _text(a.reason, "reason")
    base = replace(state, closed_at=None, reopen_count=state.reopen_count + 1)
    if state.handler_id is None:
        return Outcome(replace(base, status=S.ACCEPTED), a.name, reason)
    return Outcome(replace(_fresh_deadlines(base, now, r), status=S.IN_PROGRESS), a.name, reason)


@_on(Appeal, S.CLOSED, S.UNSATISFIED)
def _appeal(state: TicketState, a: Appeal, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_handler(state, actor, a.name)
    low = state.satisfaction is Satisfaction.UNSATISFIED or (
        state.stars is not None and state.stars <= 2
    )
    if not low or state.rating_void:
        raise IllegalTransition(state.status.value, a.name, "only a low rating may be appealed")
    if state.appealed:
        raise IllegalTransition(state.status.value, a.name, "the rating was appealed already")
    reason = _text(a.reason, "reason")
    new = replace(state, appeal_pending=True, appealed=True)
    return Outcome(
        new, a.name, reason, (Record("appeal", {"reason": reason, "evidence": a.evidence.strip()}),)
    )


@_on(DecideAppeal, S.CLOSED, S.UNSATISFIED)
def _decide_appeal(
    state: TicketState, a: DecideAppeal, actor: Actor, now: datetime, r: Rules
) -> Outcome:
    _require_role(actor, frozenset({Role.SUPERVISOR, Role.ADMIN}), a.name)
    if not state.appeal_pending:
        raise IllegalTransition(state.status.value, a.name, "no appeal is pending")
    new = replace(state, appeal_pending=False, rating_void=a.upheld)
    return Outcome(
        new,
        a.name,
        a.note.strip(),
        (Record("appeal_decision", {"upheld": a.upheld, "note": a.note.strip()}),),
    )


@_on(Merge, *(OPEN_STATUSES - {S.MERGED}))
def _merge(state: TicketState, a: Merge, actor: Actor, now: datetime, r: Rules) -> Outcome:
    _require_role(actor, HOTLINE_ROLES, a.name)
    return Outcome(replace(state, status=S.MERGED, merged_into=a.into, closed_at=now), a.name)


@_on(Comment, *Status)
def _comment(state: TicketState, a: Comment, actor: Actor, now: datetime, r: Rules) -> Outcome:
    if actor.role is Role.DEPARTMENT and actor.department_id not in (
        state.handler_id,
        *state.co_handler_ids,
        *state.delegated_by,
    ):
        raise Forbidden("a department may only comment on tickets it handles")
    return Outcome(state, a.name, _text(a.text, "text"))


def is_overdue(state: TicketState, now: datetime) -> bool:
    return (
        state.status in HANDLING_STATUSES and state.reply_due is not None and now > state.reply_due
    )


__all__ = [
    "Action",
    "Answer",
    "Appeal",
    "Close",
    "CoReply",
    "Comment",
    "Contact",
    "DecideAppeal",
    "DecideExtension",
    "DepartmentTree",
    "Dispatch",
    "Escalate",
    "Merge",
    "Outcome",
    "PassDown",
    "Rate",
    "Record",
    "Redo",
    "Reopen",
    "Reply",
    "RequestExtension",
    "Return",
    "Review",
    "Rules",
    "SignFor",
    "Supervise",
    "SupervisionForm",
    "allowed_actions",
    "apply",
    "diff",
    "is_overdue",
]
