"""Scoring drafts against labelled calls (the corpus in ``tests/asr/corpus``). Pure.

A call is a dict: ``said`` and ``heard`` (its turns as written and as a recogniser prints
them; an operator's turn starts with ``O:``), ``kind``, ``category`` (None: none of the
taxonomy), ``urgent``, ``district`` (None: not named) and ``place`` (the most specific place
named, None if none). Kind, category and district are scored on every call, urgency as
recall and precision, the location on the calls that name a place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .draft import Draft, DraftRules, Utterance, make_draft

FORMS = ("said", "heard")
PREFIX = {"said": "clean", "heard": "asr"}


def utterances(turns: list[str]) -> list[Utterance]:
    return [
        Utterance("operator", t[2:].strip()) if t.startswith("O:") else Utterance("caller", t)
        for t in turns
    ]


@dataclass
class Score:
    calls: int = 0
    kind: int = 0
    category: int = 0
    district: int = 0
    located: int = 0  # calls that name a place
    location: int = 0
    urgent: int = 0  # calls labelled urgent
    flagged: int = 0  # drafts flagged urgent
    caught: int = 0  # both

    def add(self, call: dict[str, Any], d: Draft) -> None:
        self.calls += 1
        self.kind += d.kind == call["kind"]
        self.category += d.category == call["category"]
        self.district += d.location.district == call["district"]
        if call["place"]:
            self.located += 1
            self.location += d.location.place() == call["place"]
        self.urgent += bool(call["urgent"])
        self.flagged += d.urgent
        self.caught += d.urgent and bool(call["urgent"])

    def figures(self) -> dict[str, float]:
        def share(a: int, b: int) -> float:
            return round(a / b, 3) if b else float("nan")

        return {
            "kind": share(self.kind, self.calls),
            "category": share(self.category, self.calls),
            "urgent_recall": share(self.caught, self.urgent),
            "urgent_precision": share(self.caught, self.flagged),
            "district": share(self.district, self.calls),
            "location": share(self.location, self.located),
        }


Miss = tuple[str, str, Any, Any]  # call id, field, expected, drafted


def score(
    calls: list[dict[str, Any]],
    rules: DraftRules,
    form: str,
    on_miss: Callable[[Miss], None] | None = None,
) -> Score:
    s = Score()
    for call in calls:
        d = make_draft(utterances(call[form]), rules)
        s.add(call, d)
        if on_miss is not None:
            got = {
                "kind": d.kind,
                "category": d.category,
                "urgent": d.urgent,
                "district": d.location.district,
                "place": d.location.place() if call["place"] else call["place"],
            }
            for name, value in got.items():
                if value != call[name]:
                    on_miss((call["id"], name, call[name], value))
    return s


def summary(calls: list[dict[str, Any]], rules: DraftRules) -> dict[str, float]:
    """The flat figures of bench/drafts.py: ``clean_kind`` … ``asr_location``."""
    out: dict[str, float] = {}
    for form in FORMS:
        for name, value in score(calls, rules, form).figures().items():
            out[f"{PREFIX[form]}_{name}"] = value
    return out
