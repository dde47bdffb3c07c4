from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.queue.wait import AnswerRate, OverflowPolicy, WaitEstimator, overflow_action


def test_steady_answers_give_their_rate() -> None:
    r = AnswerRate(half_life_s=60)
    for i in range(200):
        r.observe(i * 2.0)  # one answer every 2 s
    assert r.current(398.0) == pytest.approx(0.5, rel=0.01)


def test_rate_follows_a_change_within_a_few_half_lives() -> None:
    r = AnswerRate(half_life_s=30)
    t = 0.0
    for _ in range(100):
        t += 1.0
        r.observe(t)
    for _ in range(150):
        t += 4.0
        r.observe(t)
    assert r.current(t) == pytest.approx(0.25, rel=0.05)


def test_a_stalled_queue_does_not_look_fast() -> None:
    r = AnswerRate()
    for i in range(50):
        r.observe(float(i))
    assert r.current(49.0) == pytest.approx(1.0, rel=0.05)
    assert r.current(49.0 + 100) <= 0.01


def test_estimate_without_history_uses_staffing() -> None:
    e = WaitEstimator(mean_handle_s=300)
    assert e.estimate("general", 3, 0.0, staffed=30) == pytest.approx(30.0)
    assert e.estimate("general", 1, 0.0, staffed=0) == math.inf


def test_estimate_from_history_scales_with_position() -> None:
    e = WaitEstimator(half_life_s=60)
    for i in range(100):
        e.answered("q", i * 5.0)  # 0.2 answers/s
    assert e.estimate("q", 4, 495.0, staffed=10) == pytest.approx(20.0, rel=0.02)


@pytest.mark.parametrize(
    ("ewt", "expected"),
    [(5, "none"), (30, "announce"), (119, "announce"), (120, "callback"), (10_000, "callback")],
)
def test_overflow_table(ewt: float, expected: str) -> None:
    assert overflow_action(ewt, OverflowPolicy()) == expected


def test_divert_only_with_a_target_queue() -> None:
    p = OverflowPolicy(divert_after_s=60, divert_queue="general")
    assert overflow_action(90, p) == "divert"
    assert overflow_action(90, OverflowPolicy(divert_after_s=60)) == "announce"


@given(st.floats(0, 1e6), st.floats(0, 1e6))
def test_property_actions_only_escalate_with_longer_waits(a: float, b: float) -> None:
    order = ["none", "announce", "callback", "divert"]
    p = OverflowPolicy(divert_after_s=600, divert_queue="x")
    lo, hi = sorted([a, b])
    assert order.index(overflow_action(lo, p)) <= order.index(overflow_action(hi, p))
