"""The routing policy: tables and properties (no I/O)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.queue.models import (
    DEFAULT_WIDENING,
    IllegalOperatorTransition,
    Operator,
    OperatorState,
    Task,
    boosted_priority,
    check_operator_transition,
    widening_from_steps,
)
from hotline.queue.policy import (
    PolicyConfig,
    match_rank,
    pick_operator,
    pick_task,
    plan_assignments,
    widening_level,
)

R = OperatorState.READY


def op(
    id: str,
    skills: dict[str, int],
    since: float = 0.0,
    langs: tuple[str, ...] = ("zh",),
    state: OperatorState = R,
    calls: int = 0,
    talk: float = 0.0,
) -> Operator:
    return Operator(
        id,
        f"PJSIP/{id}",
        skills,
        frozenset(langs),
        state,
        since,
        calls_today=calls,
        talk_seconds=talk,
    )


def task(
    id: str,
    skills: tuple[str, ...] = ("general",),
    prio: int = 0,
    at: float = 0.0,
    lang: str = "zh",
) -> Task:
    return Task(id, skills[0], skills, lang, prio, at)


@pytest.mark.parametrize(
    ("t", "ops", "now", "expected"),
    [
        # best proficiency wins
        (task("c"), [op("a", {"general": 3}), op("b", {"general": 5})], 0, "b"),
        # equal proficiency: longest idle (earliest ready) wins
        (
            task("c"),
            [op("a", {"general": 4}, since=50), op("b", {"general": 4}, since=10)],
            60,
            "b",
        ),
        # wrong language is never eligible
        (
            task("c", lang="yue"),
            [op("a", {"general": 5}), op("b", {"general": 3}, langs=("zh", "yue"))],
            0,
            "b",
        ),
        # not ready is never eligible
        (task("c"), [op("a", {"general": 5}, state=OperatorState.WRAP_UP)], 0, None),
        # low proficiency waits for widening …
        (task("c"), [op("a", {"general": 1})], 2.0, None),
        # … and is eligible from the second step (5 s)
        (task("c"), [op("a", {"general": 1})], 5.0, "a"),
        # secondary skill only from the third step (10 s)
        (task("c", ("market", "general")), [op("a", {"general": 5})], 9.9, None),
        (task("c", ("market", "general")), [op("a", {"general": 5})], 10.0, "a"),
        # primary skill beats a better secondary skill
        (
            task("c", ("market", "general")),
            [op("a", {"general": 5}), op("b", {"market": 3})],
            20,
            "b",
        ),
    ],
)
def test_pick_operator_table(
    t: Task, ops: list[Operator], now: float, expected: str | None
) -> None:
    got = pick_operator(t, ops, now)
    assert (got.operator.id if got else None) == expected


@pytest.mark.parametrize(
    ("order", "expected"), [("longest_idle", "a"), ("least_calls", "b"), ("least_talk", "c")]
)
def test_operator_order_is_configurable(order: str, expected: str) -> None:
    ops = [
        op("a", {"general": 3}, since=1, calls=9, talk=500),
        op("b", {"general": 3}, since=5, calls=1, talk=900),
        op("c", {"general": 3}, since=9, calls=5, talk=10),
    ]
    got = pick_operator(task("t"), ops, 20, PolicyConfig(order=order))  # type: ignore[arg-type]
    assert got is not None and got.operator.id == expected


def test_pick_task_serves_priority_then_longest_wait() -> None:
    tasks = [task("old", at=0), task("urgent", prio=20, at=50), task("new", at=40)]
    got = pick_task(op("a", {"general": 3}), tasks, 60)
    assert got is not None and got.task.call_id == "urgent"
    got = pick_task(op("a", {"general": 3}), tasks[::2], 60)
    assert got is not None and got.task.call_id == "old"


def test_plan_does_not_let_an_unservable_head_block_the_queue() -> None:
    tasks = [task("eng", at=0, lang="en"), task("zh1", at=1)]
    plan = plan_assignments(tasks, [op("a", {"general": 3})], 2)
    assert [(a.task.call_id, a.operator.id) for a in plan] == [("zh1", "a")]


def test_priority_boosts_add_up() -> None:
    assert boosted_priority(0, urgent=True, elderly=True) > boosted_priority(0, urgent=True)
    assert boosted_priority(0, repeat_open_ticket=True) > 0


def test_operator_state_machine() -> None:
    check_operator_transition(OperatorState.READY, OperatorState.RESERVED)
    check_operator_transition(OperatorState.WRAP_UP, OperatorState.READY)
    with pytest.raises(IllegalOperatorTransition) as err:
        check_operator_transition(OperatorState.LOGGED_OUT, OperatorState.ON_CALL)
    assert "logged_out" in str(err.value) and "on_call" in str(err.value)


def test_widening_from_configured_steps() -> None:
    w = widening_from_steps([3.0, 8.0])
    assert [x.after_s for x in w] == [0.0, 3.0, 8.0]


skills = st.sampled_from(["general", "market", "labour", "water", "traffic"])
langs = st.sampled_from(["zh", "yue", "en"])
operators = st.lists(
    st.builds(
        op,
        st.text("abcdefgh", min_size=1, max_size=4),
        st.dictionaries(skills, st.integers(1, 5), min_size=1, max_size=3),
        st.floats(0, 100),
        st.lists(langs, min_size=1, max_size=2).map(tuple),
        st.sampled_from(list(OperatorState)),
    ),
    max_size=12,
    unique_by=lambda o: o.id,
)
tasks_st = st.lists(
    st.builds(
        task,
        st.text("0123456789", min_size=1, max_size=4),
        st.lists(skills, min_size=1, max_size=3, unique=True).map(tuple),
        st.integers(0, 30),
        st.floats(0, 100),
        langs,
    ),
    max_size=12,
    unique_by=lambda t: t.call_id,
)


@settings(max_examples=300)
@given(tasks_st, operators, st.floats(0, 200))
def test_property_assignment_respects_skill_language_and_readiness(
    tasks: list[Task], ops: list[Operator], now: float
) -> None:
    for a in plan_assignments(tasks, ops, now):
        assert a.operator.state is R
        assert a.task.language in a.operator.languages
        assert any(a.operator.skills.get(s, 0) > 0 for s in a.task.skills)
    plan = plan_assignments(tasks, ops, now)
    assert len({a.operator.id for a in plan}) == len(plan)  # no seat twice
    assert len({a.task.call_id for a in plan}) == len(plan)  # no call twice


@settings(max_examples=300)
@given(tasks_st, operators, st.floats(0, 200))
def test_property_higher_priority_never_passed_over(
    tasks: list[Task], ops: list[Operator], now: float
) -> None:
    """If a call is left waiting while one of lower priority in the same queue is served,
    the operator serving it could not have taken the waiting one."""
    plan = plan_assignments(tasks, ops, now)
    served = {a.task.call_id for a in plan}
    for a in plan:
        for t in tasks:
            if t.call_id in served or t.queue != a.task.queue or t.priority <= a.task.priority:
                continue
            level = widening_level(t, now, DEFAULT_WIDENING)
            assert match_rank(t, a.operator, DEFAULT_WIDENING[level]) is None


@settings(max_examples=300)
@given(
    st.builds(
        task,
        st.just("t"),
        st.lists(skills, min_size=1, max_size=3, unique=True).map(tuple),
        st.integers(0, 5),
        st.floats(0, 100),
    ),
    operators,
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_property_widening_is_monotonic_and_never_skips_a_level(
    t: Task, ops: list[Operator], now: float, later: float
) -> None:
    t1, t2 = sorted([now, now + later])
    l1 = widening_level(t, t1, DEFAULT_WIDENING)
    l2 = widening_level(t, t2, DEFAULT_WIDENING)
    assert l1 <= l2
    for o in ops:
        if match_rank(t, o, DEFAULT_WIDENING[l1]) is not None:
            assert match_rank(t, o, DEFAULT_WIDENING[l2]) is not None
    waited = t2 - t.enqueued_at
    expected = max((i for i, s in enumerate(DEFAULT_WIDENING) if waited >= s.after_s), default=0)
    assert l2 == expected
