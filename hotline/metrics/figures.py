"""The figures a 12345 office reports, each with its formula (pure: counts in, rates out).

National and provincial assessments name them differently; the board, the wallboard and the
reports all compute them here, from the same counts, so no two screens disagree:

- 15秒接通率 (answered within 15 s share) = answered within the threshold / answered
- 服务水平 (service level) = answered within the threshold / (offered − short abandons)
- 接通率 (answer rate) = answered / offered
- 放弃率 (abandon rate) = abandoned / offered (short abandons included)

"Offered" is every call that reached the queue; a short abandon hung up within
``short_abandon_seconds`` of queueing (a misdial or a caller who changed their mind).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    offered: int = 0
    answered: int = 0
    answered_in_threshold: int = 0
    abandoned: int = 0
    short_abandoned: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.offered + other.offered,
            self.answered + other.answered,
            self.answered_in_threshold + other.answered_in_threshold,
            self.abandoned + other.abandoned,
            self.short_abandoned + other.short_abandoned,
        )


@dataclass(frozen=True)
class Figure:
    key: str
    name_zh: str
    name_en: str
    formula_zh: str
    formula_en: str
    value: float | None  # None: nothing to divide by yet


def count(
    calls: Iterable[tuple[str, float | None]], *, threshold_s: float, short_abandon_s: float
) -> Counts:
    """Counts from finished calls given as (outcome, seconds waited in the queue); a call
    that never waited in the queue (wait None) was not offered."""
    offered = answered = within = abandoned = short = 0
    for outcome, wait in calls:
        if wait is None:
            continue
        offered += 1
        if outcome == "answered":
            answered += 1
            within += wait <= threshold_s
        elif outcome == "abandoned":
            abandoned += 1
            short += wait <= short_abandon_s
    return Counts(offered, answered, within, abandoned, short)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den > 0 else None


def figures(c: Counts, threshold_s: float = 15.0) -> list[Figure]:
    t = f"{threshold_s:g}"
    return [
        Figure(
            "answered_in_threshold_share",
            f"{t}秒接通率",
            f"answered within {t} s",
            f"{t}秒内接通量 ÷ 接通量",
            f"answered within {t} s ÷ answered",
            _ratio(c.answered_in_threshold, c.answered),
        ),
        Figure(
            "service_level",
            "服务水平",
            "service level",
            f"{t}秒内接通量 ÷ (呼入量 − 短时放弃量)",
            f"answered within {t} s ÷ (offered − short abandons)",
            _ratio(c.answered_in_threshold, c.offered - c.short_abandoned),
        ),
        Figure(
            "answer_rate",
            "接通率",
            "answer rate",
            "接通量 ÷ 呼入量",
            "answered ÷ offered",
            _ratio(c.answered, c.offered),
        ),
        Figure(
            "abandon_rate",
            "放弃率",
            "abandon rate",
            "放弃量 ÷ 呼入量",
            "abandoned ÷ offered",
            _ratio(c.abandoned, c.offered),
        ),
    ]
