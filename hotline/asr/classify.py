"""Kind and category from what a call means: a linear model over the words of a transcript.
Pure: the model is data (trained by :mod:`.train`, stored as JSON), applied here.

Features are what survives a recogniser's slips in some form: characters in pairs and threes,
jieba's words, pairs of sounds (tones ignored, so 物业 and 无业 share one), and the
taxonomy's and the rules' own words found by character or sound. Without a model (a
deployment that changed its taxonomy and has not retrained), the taxonomy's words decide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from .sounds import Lexicon, Text

_DIGITS = re.compile(r"\d+")
_NOT_TEXT = re.compile(r"[\s，。！？、,.!?；;：:“”\"'（）()…—~～|]+")
NONE_LABEL = ""  # the category "none of the taxonomy"


def _primary(keys: frozenset[str]) -> str:
    return min(keys)


def features(
    text: Text, tokens: Iterable[str], cues: Iterable[tuple[str, Lexicon[str]]] = ()
) -> set[str]:
    """The features of one text: character 2- and 3-grams, words, sound pairs, cue words."""
    flat = _DIGITS.sub("0", _NOT_TEXT.sub("|", text.chars))
    out: set[str] = set()
    for i in range(len(flat) - 1):
        if "|" not in flat[i : i + 2]:
            out.add("b:" + flat[i : i + 2])
        if i + 3 <= len(flat) and "|" not in flat[i : i + 3]:
            out.add("t:" + flat[i : i + 3])
    out.update("w:" + _DIGITS.sub("0", t) for t in tokens if t.strip() and not _NOT_TEXT.match(t))
    keys = [_primary(k) for k in text.keys]
    for a, b in pairwise(keys):
        if a != "|" and b != "|":
            out.add(f"s:{a}_{b}")
    for prefix, lexicon in cues:
        out.update(f"{prefix}:{h.value}" for h in lexicon.find(text))
    return out


@dataclass(frozen=True)
class LinearModel:
    """Softmax over labels: a score per label is its bias plus the weights of the features
    present. ``weights`` maps a feature to (label index, weight) pairs."""

    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[str, tuple[tuple[int, float], ...]]

    def scores(self, feats: Iterable[str]) -> list[float]:
        s = list(self.bias)
        for f in feats:
            for i, w in self.weights.get(f, ()):
                s[i] += w
        return s

    def predict(self, feats: Iterable[str]) -> tuple[str, float]:
        """The likeliest label and its probability."""
        s = self.scores(feats)
        top = max(range(len(s)), key=s.__getitem__)
        z = sum(math.exp(v - s[top]) for v in s)
        return self.labels[top], 1.0 / z

    def to_json(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "bias": [round(b, 4) for b in self.bias],
            "weights": {f: [[i, round(w, 4)] for i, w in ws] for f, ws in self.weights.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearModel:
        return cls(
            tuple(data["labels"]),
            tuple(float(b) for b in data["bias"]),
            {f: tuple((int(i), float(w)) for i, w in ws) for f, ws in data["weights"].items()},
        )


def keyword_label(text: Text, lexicon: Lexicon[str], default: str | None) -> str | None:
    """The label whose words the text says most (the fallback without a model)."""
    count: dict[str, int] = {}
    for h in lexicon.find(text):
        count[h.value] = count.get(h.value, 0) + 1
    if not count:
        return default
    return max(count, key=lambda k: (count[k], k))


def predict(
    model: LinearModel, feats: Iterable[str], text: Text, cues: Lexicon[str], weight: float
) -> str:
    """The model's label, with ``weight`` added to a label's score per word of its list."""
    s = model.scores(feats)
    at = {label: i for i, label in enumerate(model.labels)}
    for h in cues.find(text):
        if (i := at.get(h.value)) is not None:
            s[i] += weight
    return model.labels[max(range(len(s)), key=s.__getitem__)]
