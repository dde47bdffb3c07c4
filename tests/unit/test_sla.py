from __future__ import annotations

import pytest

from hotline.queue.sla import average_speed_of_answer, erlang_c, required_agents, service_level


def test_hefei_peak_hour_matches_the_published_erlang_c_figure() -> None:
    # 1,000 calls/h, 300 s handling, 92 seats → 83.2 % answered within 15 s.
    assert service_level(92, 1000 / 3600, 300, 15) == pytest.approx(0.832, abs=0.0005)


@pytest.mark.parametrize(
    ("agents", "erlangs", "expected"),
    [
        (1, 0.5, 0.5),  # M/M/1: P(wait) = rho
        (2, 1.0, 1 / 3),  # textbook value
        (10, 8.0, 0.409),  # within the usual tables' rounding
    ],
)
def test_erlang_c_known_values(agents: int, erlangs: float, expected: float) -> None:
    assert erlang_c(agents, erlangs) == pytest.approx(expected, abs=0.001)


def test_overload_and_edges() -> None:
    assert erlang_c(5, 5.0) == 1.0
    assert service_level(5, 1.0, 10, 15) == 0.0
    assert erlang_c(3, 0.0) == 0.0
    assert average_speed_of_answer(4, 0.1, 20) > 0


def test_required_agents_reaches_the_target_with_the_fewest_seats() -> None:
    n = required_agents(1000 / 3600, 300, 15, 0.8)
    assert service_level(n, 1000 / 3600, 300, 15) >= 0.8
    assert service_level(n - 1, 1000 / 3600, 300, 15) < 0.8
