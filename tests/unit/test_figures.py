"""The office's figures from counts: each formula on a worked example and the empty case."""

from __future__ import annotations

import pytest

from hotline.metrics.figures import Counts, count, figures

CALLS = [
    ("answered", 3.0),
    ("answered", 14.9),
    ("answered", 15.0),  # exactly at the threshold counts as within
    ("answered", 40.0),
    ("abandoned", 2.0),  # short
    ("abandoned", 30.0),
    ("fallback", 8.0),  # offered, neither answered nor abandoned
    ("ended", None),  # hung up in the greeting: never offered
]


def test_given_finished_calls_then_counts_follow_the_definitions() -> None:
    c = count(CALLS, threshold_s=15.0, short_abandon_s=5.0)
    assert c == Counts(
        offered=7, answered=4, answered_in_threshold=3, abandoned=2, short_abandoned=1
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("answered_in_threshold_share", 3 / 4),
        ("service_level", 3 / 6),
        ("answer_rate", 4 / 7),
        ("abandon_rate", 2 / 7),
    ],
)
def test_each_figure_is_its_formula(key: str, value: float) -> None:
    c = count(CALLS, threshold_s=15.0, short_abandon_s=5.0)
    got = {f.key: f for f in figures(c)}[key]
    assert got.value == pytest.approx(value)
    assert "÷" in got.formula_zh and "÷" in got.formula_en


def test_given_no_calls_then_no_figure_pretends_to_a_value() -> None:
    assert all(f.value is None for f in figures(Counts()))


def test_counts_add_up_across_queues() -> None:
    a = Counts(2, 1, 1, 1, 0)
    assert a + Counts(1, 1, 0, 0, 0) == Counts(3, 2, 1, 1, 0)
