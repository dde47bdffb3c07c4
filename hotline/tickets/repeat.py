"""Repeat and duplicate detection: the same caller, or the same place and category, lately.

Repeat calls about one unresolved problem are a known failure signal (DOMAIN.md), so a new
ticket is linked to recent tickets of the same caller and to recent tickets about the same
place in the same category. Pure: the store supplies the candidates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

_NOISE = re.compile(r"[\s\-_,，。.、;；:：()（）#号]+")
_PHONE_NOISE = re.compile(r"[^\d+]")


def location_key(location: str | None) -> str | None:
    """A comparison key for a place: width-folded, without spaces, punctuation or 号."""
    if not location:
        return None
    text = unicodedata.normalize("NFKC", location).lower()
    key = _NOISE.sub("", text)
    return key[:200] or None


def normalise_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    digits = _PHONE_NOISE.sub("", unicodedata.normalize("NFKC", phone))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits[:40] or None


@dataclass(frozen=True)
class Candidate:
    id: int
    number: str
    created_at: datetime
    caller_phone: str | None
    category: str | None
    location_key: str | None


def find_links(
    *,
    caller_phone: str | None,
    category: str | None,
    place: str | None,
    now: datetime,
    candidates: list[Candidate],
    window: timedelta,
    limit: int = 5,
) -> list[tuple[Candidate, str]]:
    """The recent tickets a new one should link to, newest first, at most ``limit`` per kind."""
    recent = sorted(
        (c for c in candidates if now - c.created_at <= window),
        key=lambda c: c.created_at,
        reverse=True,
    )
    out: list[tuple[Candidate, str]] = []
    if caller_phone:
        out += [(c, "same_caller") for c in recent if c.caller_phone == caller_phone][:limit]
    if category and place:
        same = [c for c in recent if c.category == category and c.location_key == place]
        out += [(c, "same_place") for c in same][:limit]
    return out
