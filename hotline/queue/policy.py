"""The routing policy: pure functions of (task, operators, now). No I/O.

* Tasks: higher priority first; within a priority, longest waiting first.
* Operators: eligible means ready, speaking the task's language, and holding one of the
  task's skills at the proficiency its widening level allows. Among the eligible, the
  earliest acceptable skill wins, then best proficiency, then the configured order
  (longest idle by default).
* A waiting caller's recorded description may refine its task (:func:`refine_waiting`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from .models import (
    DEFAULT_WIDENING,
    GENERAL_SKILL,
    Operator,
    OperatorState,
    Task,
    WideningStep,
    boosted_priority,
)

Order = Literal["longest_idle", "round_robin", "least_calls", "least_talk"]


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    widening: tuple[WideningStep, ...] = DEFAULT_WIDENING
    order: Order = "longest_idle"


@dataclass(frozen=True, slots=True)
class Assignment:
    task: Task
    operator: Operator
    level: int


def widening_level(task: Task, now: float, widening: Sequence[WideningStep]) -> int:
    waited = now - task.enqueued_at
    level = 0
    for i, step in enumerate(widening):
        if waited >= step.after_s:
            level = i
    return level


def match_rank(task: Task, op: Operator, step: WideningStep) -> tuple[int, int] | None:
    """(skill index, -proficiency) of the best skill by which ``op`` may take ``task``."""
    if op.state is not OperatorState.READY or task.language not in op.languages:
        return None
    if op.id in task.excluded:
        return None
    for idx, skill in enumerate(task.skills[: step.skill_depth + 1]):
        prof = op.skills.get(skill, 0)
        if prof >= step.min_proficiency and prof > 0:
            return (idx, -prof)
    return None


def _order_key(op: Operator, order: Order) -> tuple[float, ...]:
    if order == "least_calls":
        return (op.calls_today, op.state_since)
    if order == "least_talk":
        return (op.talk_seconds, op.state_since)
    if order == "round_robin":
        return (op.last_offer_at, op.id.__hash__() & 0)
    return (op.state_since,)


def task_order_key(task: Task) -> tuple[int, float, str]:
    return (-task.priority, task.enqueued_at, task.call_id)


def pick_operator(
    task: Task, operators: Iterable[Operator], now: float, config: PolicyConfig = PolicyConfig()
) -> Assignment | None:
    """The best ready operator for ``task`` at time ``now``, or None."""
    level = widening_level(task, now, config.widening)
    step = config.widening[level]
    best: tuple[tuple[float, ...], Operator] | None = None
    for op in operators:
        rank = match_rank(task, op, step)
        if rank is None:
            continue
        key = (*rank, *_order_key(op, config.order))
        if best is None or key < best[0]:
            best = (key, op)
    return Assignment(task, best[1], level) if best else None


def pick_task(
    operator: Operator, tasks: Iterable[Task], now: float, config: PolicyConfig = PolicyConfig()
) -> Assignment | None:
    """The call a newly ready ``operator`` should take: highest priority, then longest
    waiting, among the tasks it is eligible for at their current widening level."""
    best: tuple[tuple[int, float, str], Task, int] | None = None
    for task in tasks:
        level = widening_level(task, now, config.widening)
        if match_rank(task, operator, config.widening[level]) is None:
            continue
        key = task_order_key(task)
        if best is None or key < best[0]:
            best = (key, task, level)
    return Assignment(best[1], operator, best[2]) if best else None


def plan_assignments(
    tasks: Iterable[Task],
    operators: Iterable[Operator],
    now: float,
    config: PolicyConfig = PolicyConfig(),
) -> list[Assignment]:
    """Match as many waiting tasks as possible, serving tasks in priority/wait order.

    A task no free operator can take does not block those behind it.
    """
    free = {op.id: op for op in operators if op.state is OperatorState.READY}
    plan: list[Assignment] = []
    for task in sorted(tasks, key=task_order_key):
        if not free:
            break
        chosen = pick_operator(task, free.values(), now, config)
        if chosen is not None:
            plan.append(chosen)
            del free[chosen.operator.id]
    return plan


@dataclass(frozen=True, slots=True)
class Description:
    """What the queue needs of the draft made from a waiting caller's description."""

    urgent: bool = False
    department: str = ""
    urgent_reasons: tuple[str, ...] = ()

    @classmethod
    def from_draft(cls, draft: Mapping[str, Any]) -> Description:
        return cls(
            bool(draft.get("urgent")),
            str(draft.get("department") or ""),
            tuple(str(r) for r in draft.get("urgent_reasons") or ()),
        )


@dataclass(frozen=True, slots=True)
class Refinement:
    task: Task  # the task as it is to be from now on
    reasons: tuple[str, ...]  # "urgent", "department"


def refine_waiting(
    task: Task | None,
    state: str | None,
    description: Description,
    department_skills: Mapping[str, str],
    general: str = GENERAL_SKILL,
) -> Refinement | None:
    """How a waiting call changes once its description's draft is known, or None.

    Only a call still waiting changes (one being offered or answered is left alone). An
    urgent description raises its priority, once. A call on the general skill whose
    department maps to a skill gets that skill first, the old ones kept behind it for the
    widening steps. The enqueue time never changes, so the call keeps its place among equals.
    """
    if task is None or state != "waiting":
        return None
    changes: dict[str, Any] = {}
    reasons: list[str] = []
    if description.urgent and not task.urgent:
        changes.update(urgent=True, priority=boosted_priority(task.priority, urgent=True))
        reasons.append("urgent")
    skill = department_skills.get(description.department, "")
    if task.skill == general and skill and skill != general:
        changes["skills"] = (skill, *(s for s in task.skills if s != skill))
        reasons.append("department")
    return Refinement(replace(task, **changes), tuple(reasons)) if changes else None
