"""Erlang C staffing advice for the board: seats needed for the target at a recent arrival
rate, against the seats working now."""

from __future__ import annotations

import pytest

from hotline.agent_desk.board_data import staffing
from hotline.queue.sla import service_level


@pytest.mark.parametrize(
    ("arrivals", "window_s", "handle_s", "needed"),
    [
        # 2 calls a minute × 3 min = 6 erlangs: 9 seats reach 80 % in 15 s (8 give ~72 %)
        (30, 900.0, 180.0, 9),
        (60, 1800.0, 180.0, 9),  # the same rate over 30 minutes
        (90, 900.0, 180.0, 22),  # 18 erlangs: 80.07 %
        (1, 900.0, 180.0, 1),  # a light load still needs a seat
        (
            150,
            900.0,
            300.0,
            57,
        ),  # 50 erlangs (56 give 77 %): a surge: 10 calls a minute for 5 minutes each
    ],
)
def test_given_recent_arrivals_then_the_seats_needed_reach_the_target(
    arrivals: int, window_s: float, handle_s: float, needed: int
) -> None:
    s = staffing(arrivals, window_s, handle_s, target_s=15, target_level=0.8, ready=0, working=0)
    assert s.needed == needed
    rate = arrivals / window_s
    assert service_level(needed, rate, handle_s, 15) >= 0.8
    if needed > 1:
        assert service_level(needed - 1, rate, handle_s, 15) < 0.8


def test_given_no_arrivals_then_no_advice() -> None:
    s = staffing(0, 900.0, 180.0, target_s=15, target_level=0.8, ready=3, working=3)
    assert s.needed is None and s.predicted_level is None and s.ready == 3


def test_given_fewer_seats_working_than_the_traffic_then_the_predicted_level_is_zero() -> None:
    s = staffing(60, 900.0, 300.0, target_s=15, target_level=0.8, ready=1, working=2)
    assert s.traffic_erlangs == pytest.approx(20.0)
    assert s.predicted_level == 0.0 and s.needed is not None and s.needed > 20


def test_given_enough_seats_then_the_predicted_level_meets_the_target() -> None:
    s = staffing(30, 900.0, 180.0, target_s=15, target_level=0.8, ready=2, working=9)
    assert s.predicted_level is not None and s.predicted_level >= 0.8
