"""Staffing math: Erlang C probability of waiting, service level, required seats."""

from __future__ import annotations

import math


def erlang_c(agents: int, traffic_erlangs: float) -> float:
    """Probability that a call must wait (Erlang C), for ``agents`` seats and offered
    traffic ``traffic_erlangs`` = arrival rate × mean handling time."""
    if agents <= 0:
        return 1.0
    if traffic_erlangs <= 0:
        return 0.0
    if traffic_erlangs >= agents:
        return 1.0
    # Erlang B by the stable recurrence, then convert to C.
    b = 1.0
    for k in range(1, agents + 1):
        b = traffic_erlangs * b / (k + traffic_erlangs * b)
    rho = traffic_erlangs / agents
    return b / (1 - rho + rho * b)


def service_level(agents: int, arrival_rate: float, mean_handle_s: float, target_s: float) -> float:
    """Fraction of calls answered within ``target_s`` (M/M/c, no abandonment)."""
    a = arrival_rate * mean_handle_s
    if a >= agents:
        return 0.0
    pw = erlang_c(agents, a)
    return 1.0 - pw * math.exp(-(agents - a) * target_s / mean_handle_s)


def average_speed_of_answer(agents: int, arrival_rate: float, mean_handle_s: float) -> float:
    a = arrival_rate * mean_handle_s
    if a >= agents:
        return math.inf
    return erlang_c(agents, a) * mean_handle_s / (agents - a)


def required_agents(
    arrival_rate: float,
    mean_handle_s: float,
    target_s: float,
    target_level: float,
    max_agents: int = 100_000,
) -> int:
    """Fewest seats that reach ``target_level`` service level within ``target_s``."""
    a = arrival_rate * mean_handle_s
    n = max(1, math.floor(a) + 1)
    while n <= max_agents:
        if service_level(n, arrival_rate, mean_handle_s, target_s) >= target_level:
            return n
        n += 1
    raise ValueError("target service level not reachable")
