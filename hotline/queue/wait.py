"""Estimated wait and overflow decisions for waiting callers. Pure: no I/O, time passed in.

The estimate is position ÷ recent answer rate of the queue, the rate an exponentially
smoothed average of the intervals between answers (half-life ``half_life_s``). Before a
queue has answered anything, the rate falls back to staffed seats ÷ mean handling time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

OverflowAction = Literal["none", "announce", "callback", "divert"]


@dataclass
class AnswerRate:
    """Answers per second of one queue, exponentially smoothed over time."""

    half_life_s: float = 300.0
    rate: float = 0.0
    last_at: float | None = None

    def observe(self, now: float) -> None:
        if self.last_at is None:
            self.last_at = now
            return
        gap = max(now - self.last_at, 1e-3)
        weight = 1.0 - math.exp(-math.log(2) * gap / self.half_life_s)
        self.rate = (1 - weight) * self.rate + weight * (1.0 / gap) if self.rate else 1.0 / gap
        self.last_at = now

    def current(self, now: float) -> float:
        """The rate decays while no answers come (a stalled queue must not look fast)."""
        if self.last_at is None or not self.rate:
            return 0.0
        idle = now - self.last_at
        return min(self.rate, 1.0 / idle) if idle > 1.0 / self.rate else self.rate


@dataclass
class WaitEstimator:
    half_life_s: float = 300.0
    mean_handle_s: float = 300.0
    queues: dict[str, AnswerRate] = field(default_factory=dict)

    def answered(self, queue: str, now: float) -> None:
        self.queues.setdefault(queue, AnswerRate(self.half_life_s)).observe(now)

    def estimate(self, queue: str, position: int, now: float, staffed: int) -> float:
        """Seconds until the caller at ``position`` (1 = next) is likely answered."""
        rate = self.queues[queue].current(now) if queue in self.queues else 0.0
        if rate <= 0.0:
            rate = staffed / self.mean_handle_s if staffed > 0 else 0.0
        if rate <= 0.0:
            return math.inf
        return position / rate


@dataclass(frozen=True)
class OverflowPolicy:
    """What to do for a caller whose estimated wait is long.

    ``callback_after_s``: offer a callback that keeps the caller's place; ``divert_after_s``:
    move the call to ``divert_queue``; ``announce_after_s``: tell the caller the wait.
    The most drastic applicable action wins.
    """

    announce_after_s: float = 30.0
    callback_after_s: float = 120.0
    divert_after_s: float = math.inf
    divert_queue: str = ""


def overflow_action(ewt_s: float, policy: OverflowPolicy) -> OverflowAction:
    if policy.divert_queue and ewt_s >= policy.divert_after_s:
        return "divert"
    if ewt_s >= policy.callback_after_s:
        return "callback"
    if ewt_s >= policy.announce_after_s:
        return "announce"
    return "none"
