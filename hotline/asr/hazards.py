"""Urgency as situations: which hazards a call describes as happening now. Pure.

Each hazard (``data/hazards.toml``) is found by a strong word alone or by a combination of
words near each other, matched by characters and by sound. A finding counts only when it is
not negated, not hypothetical or planned, not told as past without anything saying it goes
on, and not said to be over. The reasons name the hazard and the caller's words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .sounds import Hit, Lexicon, Text

WINDOW_HYPOTHETICAL = 8
WINDOW_PAST = 14
WINDOW_PRESENT_AFTER = 4
WINDOW_RESOLVED = 24
WINDOW_UNLESS = 10
WINDOW_NEGATION = 2


@dataclass(frozen=True)
class Finding:
    hazard: str
    label: str
    words: str  # what the caller said that shows it

    def reason(self) -> str:
        return f"{self.label}：{self.words}"


@dataclass(frozen=True)
class Combo:
    groups: tuple[frozenset[str], ...]
    within: int  # 0: anywhere in the call


@dataclass(frozen=True)
class Hazard:
    name: str
    label: str
    strong: frozenset[str]
    combos: tuple[Combo, ...]
    not_words: frozenset[str]
    unless: frozenset[str]


@dataclass
class HazardRules:
    hazards: list[Hazard]
    markers: dict[str, list[str]]
    lexicon: Lexicon[str] = field(init=False)

    def __post_init__(self) -> None:
        words: set[str] = set()
        for h in self.hazards:
            words |= h.strong | h.not_words | h.unless
            for c in h.combos:
                for g in c.groups:
                    words |= g
        for ws in self.markers.values():
            words.update(ws)
        self.lexicon = Lexicon((w, w) for w in sorted(words))

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> HazardRules:
        hazards = [
            Hazard(
                str(h["name"]),
                str(h.get("label", h["name"])),
                frozenset(h.get("strong", [])),
                tuple(
                    Combo(tuple(frozenset(g) for g in c["groups"]), int(c.get("within", 0)))
                    for c in h.get("combo", [])
                ),
                frozenset(h.get("not", [])),
                frozenset(h.get("unless", [])),
            )
            for h in data.get("hazard", [])
        ]
        markers = {k: list(v) for k, v in data.get("markers", {}).items()}
        return cls(hazards, markers)


class _Seen:
    """The words found in one text, by word, for the checks around a candidate."""

    def __init__(self, text: Text, hits: list[Hit[str]]) -> None:
        self.text = text
        self.at: dict[str, list[Hit[str]]] = {}
        for h in hits:
            self.at.setdefault(h.term, []).append(h)

    def of(self, words: frozenset[str] | list[str]) -> list[Hit[str]]:
        return [h for w in words for h in self.at.get(w, ())]

    def near(self, words: frozenset[str] | list[str], lo: int, hi: int) -> list[Hit[str]]:
        return [h for h in self.of(words) if h.start >= lo and h.end <= hi]


def _voided(seen: _Seen, hz: Hazard, start: int, end: int, markers: dict[str, list[str]]) -> bool:
    if any(h.start < end and start < h.end for h in seen.of(hz.not_words)):
        return True  # the words belong to one of the hazard's look-alikes
    if seen.near(hz.unless, start - WINDOW_UNLESS, end + WINDOW_UNLESS):
        return True
    if seen.near(markers.get("negation", []), start - WINDOW_NEGATION, start):
        return True
    if seen.near(markers.get("hypothetical", []), start - WINDOW_HYPOTHETICAL, end):
        return True
    if seen.near(markers.get("asking", []), end, end + WINDOW_RESOLVED):
        return True
    if seen.near(markers.get("resolved", []), end, end + WINDOW_RESOLVED):
        return True
    return _past(seen, start, end, markers)


def _past(seen: _Seen, start: int, end: int, markers: dict[str, list[str]]) -> bool:
    chars = seen.text.chars
    told_past = chars[end : end + 1] == "过" or chars[end + 1 : end + 2] == "过"
    before = seen.near(markers.get("past", []), start - WINDOW_PAST, start)
    if not told_past and not before:
        return False
    since = max((h.end for h in before), default=start)
    still = seen.near(markers.get("present", []), since, end + WINDOW_PRESENT_AFTER)
    return not still


def _combo_spans(seen: _Seen, combo: Combo) -> list[tuple[int, int]]:
    spans = []
    n = len(seen.text.chars)
    for first in seen.of(combo.groups[0]):
        lo, hi = first.start, first.end
        ok = True
        for group in combo.groups[1:]:
            reach = n if combo.within == 0 else combo.within
            near = [
                h
                for h in seen.near(group, first.start - reach, first.end + reach)
                if h.start >= first.end or h.end <= first.start
            ]
            if not near:
                ok = False
                break
            nearest = min(near, key=lambda h: abs(h.start - first.start))
            if combo.within:
                lo, hi = min(lo, nearest.start), max(hi, nearest.end)
        if ok:
            spans.append((lo, hi))
    return spans


def find_hazards(text: Text, rules: HazardRules) -> list[Finding]:
    seen = _Seen(text, rules.lexicon.find(text))
    found: list[Finding] = []
    for hz in rules.hazards:
        spans = [(h.start, h.end) for h in seen.of(hz.strong)]
        for combo in hz.combos:
            spans += _combo_spans(seen, combo)
        for start, end in sorted(spans):
            if not _voided(seen, hz, start, end, rules.markers):
                found.append(Finding(hz.name, hz.label, text.chars[start:end]))
                break
    return found
