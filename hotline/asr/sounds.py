"""Matching words by their characters and by their sound, so a recogniser's homophone slip
(物业 → 无业, 燃气 → 然气, 滨湖 → 宾湖) still finds the word. Pure.

A character's sound key is its first reading in pypinyin's table without the tone, with the
distinctions southern speakers and small recognisers blur folded together (zh/z, ch/c, sh/s,
n/l, -ng/-n). Single-character words match by character only: one syllable alone collides
with too many others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from itertools import product
from typing import Generic, TypeVar

from pypinyin import Style, lazy_pinyin
from pypinyin.pinyin_dict import pinyin_dict

T = TypeVar("T")
Keys = tuple[frozenset[str], ...]
_TONES = str.maketrans("āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüńňǹḿ", "aaaaeeeeiiiioooouuuuvvvvvnnnm")
_INITIAL = re.compile(r"^(zh|ch|sh)")
BREAK = "|"  # punctuation: nothing matches across it


@lru_cache(maxsize=16384)
def sound(ch: str) -> frozenset[str]:
    """The folded, toneless readings of one character (a polyphone has several: 长 is both
    chang and zhang); the character itself if it has none."""
    reading = pinyin_dict.get(ord(ch))
    if reading is None:
        return frozenset((ch,))
    return frozenset(_fold(r) for r in reading.split(",")[:3])


def _fold(reading: str) -> str:
    s = _INITIAL.sub(lambda m: m.group(1)[0], reading.translate(_TONES))
    if s.startswith("n"):
        s = "l" + s[1:]
    if s.endswith("ng") and not s.endswith("ong"):
        s = s[:-1]
    return s


_NONE = frozenset((BREAK,))


def sounds(text: str) -> tuple[frozenset[str], ...]:
    """Every reading of each character: a misheard character may be read any way."""
    return tuple(_NONE if not ch.strip() or _is_punct(ch) else sound(ch) for ch in text)


def word_sounds(word: str) -> tuple[frozenset[str], ...]:
    """The one reading of each character of a known word, in context (长江 is chang jiang)."""
    readings = lazy_pinyin(word, style=Style.NORMAL, errors="default")
    if len(readings) != len(word):
        return sounds(word)
    return tuple(
        _NONE if _is_punct(ch) else frozenset((_fold(r),)) if r != ch else frozenset((ch,))
        for ch, r in zip(word, readings, strict=True)
    )


def _is_punct(ch: str) -> bool:
    return ch in "，。！？、,.!?；;：:“”\"'（）()…—~～/／"


@dataclass(frozen=True)
class Text:
    """A transcript ready for matching: its characters, their sounds, and where its words
    begin and end when it was segmented. A short sound match must begin or end where a word
    does (招领处电话 holds no 触电), and none may be a common word itself (拿到 is no 拿刀)."""

    chars: str
    keys: tuple[frozenset[str], ...]
    bounds: frozenset[int] | None = None
    words: frozenset[tuple[int, int]] = frozenset()

    @classmethod
    def of(
        cls,
        text: str,
        tokens: Iterable[str] | None = None,
        is_word: Callable[[str], bool] | None = None,
    ) -> Text:
        if tokens is None:
            return cls(text, sounds(text))
        bounds, words, at = {0}, set(), 0
        for tok in tokens:
            if is_word is not None and len(tok) > 1 and is_word(tok):
                words.add((at, at + len(tok)))
            at += len(tok)
            bounds.add(at)
        return cls(text, sounds(text), frozenset(bounds), frozenset(words))

    def sound_match_allowed(self, start: int, end: int) -> bool:
        if (start, end) in self.words:
            return False
        if self.bounds is None or end - start >= 4:
            return True
        return start in self.bounds or end in self.bounds  # a word's edge, not inside two


@dataclass(frozen=True)
class Hit(Generic[T]):
    start: int
    end: int
    term: str  # the word as the lexicon knows it
    value: T
    by_sound: bool  # found by sound, not by its characters

    def said(self, text: Text) -> str:
        return text.chars[self.start : self.end]


class Lexicon(Generic[T]):
    """Words (each with a value) found in a text by character and by sound."""

    def __init__(self, entries: Iterable[tuple[str, T]]) -> None:
        self._by_char: dict[str, list[tuple[str, T]]] = {}
        self._by_sound: dict[tuple[str, str], list[tuple[Keys, str, T]]] = {}
        self.size = 0
        for term, value in entries:
            if not term:
                continue
            self.size += 1
            self._by_char.setdefault(term[0], []).append((term, value))
            keys = word_sounds(term)
            if len(term) >= 2 and _NONE not in keys:
                for pair in product(keys[0], keys[1]):
                    self._by_sound.setdefault(pair, []).append((keys, term, value))

    def find(self, text: Text) -> list[Hit[T]]:
        """Every occurrence, by characters first; a sound match where no character match of
        the same word covers the same span and the text allows one (:class:`Text`)."""
        chars, keys = text.chars, text.keys
        hits: list[Hit[T]] = []
        seen: set[tuple[int, int, str]] = set()
        for i, ch in enumerate(chars):
            for term, value in self._by_char.get(ch, ()):
                if chars.startswith(term, i):
                    hits.append(Hit(i, i + len(term), term, value, False))
                    seen.add((i, i + len(term), term))
            if i + 1 < len(keys):
                for pair in product(keys[i], keys[i + 1]):
                    for tkeys, term, value in self._by_sound.get(pair, ()):
                        end = i + len(tkeys)
                        if (
                            (i, end, term) not in seen
                            and _same(keys[i:end], tkeys)
                            and _slips(chars[i:end], term) <= max_slips(len(term))
                            and text.sound_match_allowed(i, end)
                        ):
                            hits.append(Hit(i, end, term, value, True))
                            seen.add((i, end, term))
        return hits


def max_slips(length: int) -> int:
    """How many characters of a word may be misheard for it still to count: a recogniser
    mishears one character of a word, seldom two; more is another word that sounds alike."""
    return 1 if length <= 4 else 2


def _slips(said: str, term: str) -> int:
    return sum(a != b for a, b in zip(said, term, strict=False))


def _same(a: Keys, b: Keys) -> bool:
    return len(a) == len(b) and all(x & y for x, y in zip(a, b, strict=True))


def longest(hits: list[Hit[T]]) -> list[Hit[T]]:
    """Hits that no longer hit overlaps (character matches win ties), in text order."""
    ranked = sorted(hits, key=lambda h: (-(h.end - h.start), h.by_sound, h.start))
    taken: list[Hit[T]] = []
    for h in ranked:
        if all(h.end <= t.start or h.start >= t.end for t in taken):
            taken.append(h)
    return sorted(taken, key=lambda h: h.start)
