"""The board's pure parts: the three windows in local time, counts per queue and line and in
total, stuck seats and the alerts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hotline.agent_desk.board_data import (
    ALL,
    CallRow,
    alerts,
    mean_handle_s,
    stuck,
    window_counts,
    windows,
)
from hotline.metrics.figures import Counts
from hotline.queue.models import Operator, OperatorState

SH = ZoneInfo("Asia/Shanghai")


def at(h: int, m: int, s: int = 0) -> float:
    return datetime(2026, 12, 2, h, m, s, tzinfo=SH).timestamp()


@pytest.mark.parametrize(
    ("now", "interval_start"),
    [
        (at(9, 47, 12), at(9, 30)),
        (at(9, 29, 59), at(9, 0)),
        (at(0, 5), at(0, 0)),
        (at(23, 30), at(23, 30)),
    ],
)
def test_given_a_local_time_then_the_windows_are_midnight_15_minutes_and_the_half_hour(
    now: float, interval_start: float
) -> None:
    w = windows(now, "Asia/Shanghai")
    assert w["today"] == (at(0, 0), now)
    assert w["last_15m"] == (now - 900, now)
    assert w["interval_30m"] == (interval_start, now)


def test_given_utc_midnight_differs_then_the_day_starts_at_local_midnight() -> None:
    now = at(7, 0)  # 23:00 UTC of the day before
    assert windows(now, "Asia/Shanghai")["today"][0] == at(0, 0)
    assert windows(now, "UTC")["today"][0] == at(8, 0) - 86400  # 1 Dec 00:00 UTC


def test_given_calls_then_each_window_counts_those_that_started_in_it() -> None:
    now = at(10, 10)
    rows = [
        CallRow(at(8, 0), "general", "12345", "answered", 3.0),
        CallRow(at(10, 0), "general", "12345", "answered", 20.0),  # in 15 min and interval
        CallRow(at(10, 5), "general", "12345", "abandoned", 2.0),  # short
        CallRow(at(10, 6), "labour", "12345", "abandoned", 40.0),
        CallRow(at(10, 7), "labour", "12345", "ended", None),  # never queued: not offered
        CallRow(at(9, 59), "labour", "96889", "answered", 10.0),  # before the half hour
        CallRow(at(10, 10), "general", "12345", "answered", 1.0),  # at now: not yet
    ]
    c = window_counts(rows, windows(now, "Asia/Shanghai"), threshold_s=15, short_abandon_s=5)
    assert c[ALL]["today"] == Counts(5, 3, 2, 2, 1)
    assert c[ALL]["last_15m"] == Counts(4, 2, 1, 2, 1)
    assert c[ALL]["interval_30m"] == Counts(3, 1, 0, 2, 1)
    assert c["general|12345"]["today"] == Counts(3, 2, 1, 1, 1)
    assert c["labour|96889"]["interval_30m"] == Counts()
    assert c["labour|12345"]["last_15m"] == Counts(1, 0, 0, 1, 0)


def test_given_no_calls_then_the_total_is_still_there_with_zeros() -> None:
    c = window_counts([], windows(at(9, 0), "Asia/Shanghai"), threshold_s=15, short_abandon_s=5)
    assert c == {ALL: {"today": Counts(), "last_15m": Counts(), "interval_30m": Counts()}}


def op(state: OperatorState, since: float) -> Operator:
    return Operator("1001", "PJSIP/1001", {"general": 3}, state=state, state_since=since)


@pytest.mark.parametrize(
    ("state", "for_s", "is_stuck"),
    [
        (OperatorState.NOT_READY, 901, True),
        (OperatorState.NOT_READY, 899, False),
        (OperatorState.WRAP_UP, 121, True),
        (OperatorState.WRAP_UP, 60, False),
        (OperatorState.ON_CALL, 3600, False),  # a long call is not stuck
        (OperatorState.READY, 3600, False),
    ],
)
def test_given_a_seat_in_a_state_then_it_is_stuck_past_the_threshold(
    state: OperatorState, for_s: float, is_stuck: bool
) -> None:
    now = at(10, 0)
    assert stuck(op(state, now - for_s), now, not_ready_s=900, wrapup_s=120) is is_stuck


def test_given_everything_wrong_then_the_alerts_come_most_serious_first() -> None:
    out = alerts(
        level_15m=0.5,
        target=0.8,
        waiting={"general": 9, "labour": 2},
        waiting_max=5,
        stuck_ops=["1002"],
        ari=False,
        ami=False,
    )
    assert [(a.kind, a.subject) for a in out] == [
        ("ari_down", "ARI"),
        ("ami_down", "AMI"),
        ("service_level", "last_15m"),
        ("queue_waiting", "general"),
        ("operator_stuck", "1002"),
    ]


@pytest.mark.parametrize(
    ("level", "ami", "kinds"),
    [
        (0.8, True, []),  # at the target is not under it
        (None, None, []),  # nothing answered yet; no AMI in use
        (0.79, True, ["service_level"]),
    ],
)
def test_given_a_quiet_office_then_only_real_problems_alert(
    level: float | None, ami: bool | None, kinds: list[str]
) -> None:
    out = alerts(
        level_15m=level,
        target=0.8,
        waiting={"general": 5},
        waiting_max=5,
        stuck_ops=[],
        ari=True,
        ami=ami,
    )
    assert [a.kind for a in out] == kinds


def test_given_answered_talk_then_the_handle_time_adds_wrap_up() -> None:
    assert mean_handle_s([100.0, 200.0], 30.0, 300.0) == 180.0
    assert mean_handle_s([], 30.0, 300.0) == 300.0
