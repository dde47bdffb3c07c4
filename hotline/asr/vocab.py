"""Local vocabulary for Vosk's runtime grammar.

Small Vosk models can take a grammar at run time: a list of phrases (plus ``[unk]``) that
the decoder is restricted to. Each phrase must be written in the model's own words,
separated by spaces; words the model lacks are ignored by Vosk with a warning. Place and
department names are rarely single words in a small model (``朝阳区`` is ``朝阳 区``), so
each name is segmented into the fewest known words here; a name with a character the
model cannot spell at all is reported, not silently dropped. Pure: the model's word test is
passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

UNKNOWN = "[unk]"


def segment(phrase: str, known: Callable[[str], bool], longest: int = 8) -> list[str] | None:
    """``phrase`` as the fewest words ``known`` accepts, or None if it cannot be spelled."""
    text = "".join(phrase.split())
    best: list[list[str] | None] = [[]] + [None] * len(text)
    for end in range(1, len(text) + 1):
        for start in range(max(0, end - longest), end):
            head = best[start]
            word = text[start:end]
            if head is not None and known(word):
                cand = [*head, word]
                cur = best[end]
                if cur is None or len(cand) < len(cur):
                    best[end] = cand
    return best[-1]


def grammar(phrases: Iterable[str], known: Callable[[str], bool]) -> tuple[list[str], list[str]]:
    """(grammar for ``KaldiRecognizer``, the phrases the model cannot spell)."""
    out, missing = [], []
    for p in dict.fromkeys(phrases):
        words = segment(p, known)
        if words is None:
            missing.append(p)
        else:
            out.append(" ".join(words))
    return [*out, UNKNOWN], missing
