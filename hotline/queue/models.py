"""Operators (seats), waiting calls (tasks) and the operator state machine."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..errors import HotlineError


class OperatorState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    RESERVED = "reserved"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    NOT_READY = "not_ready"


class NotReadyReason(StrEnum):
    BREAK = "break"
    MEAL = "meal"
    TRAINING = "training"
    MEETING = "meeting"
    MISSED_CALL = "missed_call"
    OTHER = "other"


S = OperatorState
# Which states an operator (or the system acting for one) may move to from each state.
OPERATOR_TRANSITIONS: dict[OperatorState, frozenset[OperatorState]] = {
    S.LOGGED_OUT: frozenset({S.READY, S.NOT_READY}),
    S.READY: frozenset({S.RESERVED, S.NOT_READY, S.LOGGED_OUT}),
    S.RESERVED: frozenset({S.ON_CALL, S.READY, S.NOT_READY}),
    S.ON_CALL: frozenset({S.WRAP_UP, S.READY, S.NOT_READY}),
    S.WRAP_UP: frozenset({S.READY, S.NOT_READY, S.LOGGED_OUT, S.WRAP_UP}),
    S.NOT_READY: frozenset({S.READY, S.NOT_READY, S.LOGGED_OUT}),
}


class IllegalOperatorTransition(HotlineError):
    error_id = "illegal-operator-transition"
    status = 409


def check_operator_transition(current: OperatorState, target: OperatorState) -> None:
    if target not in OPERATOR_TRANSITIONS[current]:
        raise IllegalOperatorTransition(
            f"operator cannot go from {current} to {target}", state=current, target=target
        )


@dataclass(frozen=True, slots=True)
class Operator:
    """A seat: who may take which calls, and where it stands now.

    ``skills`` maps skill name to proficiency 1 (trainee) … 5 (expert).
    """

    id: str
    endpoint: str
    skills: dict[str, int]
    languages: frozenset[str] = frozenset({"zh"})
    state: OperatorState = OperatorState.LOGGED_OUT
    state_since: float = 0.0
    reason: str = ""
    call_id: str = ""
    calls_today: int = 0
    talk_seconds: float = 0.0
    last_offer_at: float = 0.0

    def with_state(self, state: OperatorState, now: float, **changes: object) -> Operator:
        return replace(self, state=state, state_since=now, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Task:
    """A call waiting for an operator.

    ``skills`` is ordered: the first is what the caller needs; later ones are acceptable
    alternates the widening steps may open. Higher ``priority`` is served first. ``urgent``:
    the caller's own description was found urgent while waiting (its priority raised once).
    """

    call_id: str
    queue: str
    skills: tuple[str, ...]
    language: str = "zh"
    priority: int = 0
    enqueued_at: float = 0.0
    line: str = ""
    owner: str = ""
    excluded: frozenset[str] = field(default_factory=frozenset)
    urgent: bool = False

    @property
    def skill(self) -> str:
        return self.skills[0]


@dataclass(frozen=True, slots=True)
class WideningStep:
    """From ``after_s`` seconds of waiting, skills up to index ``skill_depth`` at
    proficiency ``min_proficiency`` or better are eligible."""

    after_s: float
    min_proficiency: int
    skill_depth: int


DEFAULT_WIDENING: tuple[WideningStep, ...] = (
    WideningStep(0.0, 3, 0),
    WideningStep(5.0, 1, 0),
    WideningStep(10.0, 1, 1),
)


def widening_from_steps(after: list[float]) -> tuple[WideningStep, ...]:
    """The default three levels with the given step times (e.g. ``[5, 10]``)."""
    first, second = [*after, 5.0, 10.0][:2]
    return (
        WideningStep(0.0, 3, 0),
        WideningStep(first, 1, 0),
        WideningStep(max(first, second), 1, 1),
    )


GENERAL_SKILL = "general"  # every seat's fallback; a call on it may be refined to a specialist

PRIORITY_URGENT = 20
PRIORITY_ELDERLY = 10
PRIORITY_REPEAT = 5


def boosted_priority(
    base: int, *, urgent: bool = False, elderly: bool = False, repeat_open_ticket: bool = False
) -> int:
    return (
        base
        + (PRIORITY_URGENT if urgent else 0)
        + (PRIORITY_ELDERLY if elderly else 0)
        + (PRIORITY_REPEAT if repeat_open_ticket else 0)
    )
