"""A call's transcript: final segments from both sides on the call's clock. Pure."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from .draft import Draft, Utterance

SIDES = ("caller", "operator")
_NOT_TEXT = re.compile(r"[\s，。！？、,.!?；;：:“”\"'（）()]+")


@dataclass(frozen=True)
class Segment:
    side: str  # caller | operator
    start: float  # seconds since the operator answered
    end: float
    text: str  # no spaces between Chinese words
    source: str = "live"  # live | post (transcribed from the recording after the call)


@dataclass
class CallTranscript:
    call_id: str
    segments: list[Segment] = field(default_factory=list)
    status: str = "live"  # live | partial (a side was cut off) | pending (none live) | done
    description: list[Segment] = field(default_factory=list)  # said while waiting, recorded

    def add(self, seg: Segment) -> None:
        self.segments.append(seg)

    def ordered(self) -> list[Segment]:
        return sorted(self.segments, key=lambda s: (s.start, s.side))

    def utterances(self) -> list[Utterance]:
        """What the draft reads: the caller's recorded description first, then the call."""
        said = [*self.description, *self.ordered()]
        return [Utterance(s.side, s.text, s.start) for s in said]

    def text(self) -> str:
        label = {"caller": "市民", "operator": "话务员"}
        return "\n".join(f"{label.get(s.side, s.side)}：{s.text}" for s in self.ordered())

    def to_json(self) -> str:
        segs = [*self.description, *self.ordered()]
        return json.dumps([asdict(s) for s in segs], ensure_ascii=False)

    @classmethod
    def from_json(cls, call_id: str, data: str | None, status: str = "done") -> CallTranscript:
        segs = [Segment(**d) for d in json.loads(data)] if data else []
        return cls(call_id, segs, status)


def shift(result: dict[str, Any], offset: float) -> tuple[float, float]:
    """A worker result's stream times moved onto the call's clock."""
    return round(float(result["start"]) + offset, 2), round(float(result["end"]) + offset, 2)


def cer(reference: str, hypothesis: str) -> tuple[int, int]:
    """Character edit distance and reference length, ignoring spaces and punctuation."""
    ref = _NOT_TEXT.sub("", reference)
    hyp = _NOT_TEXT.sub("", hypothesis)
    prev = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, hc in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rc != hc))
        prev = cur
    return prev[-1], len(ref)


def draft_json(d: Draft) -> dict[str, Any]:
    out = asdict(d)
    out["location"]["text"] = d.location.text()
    out["location"]["place"] = d.location.place()  # the most specific place named
    return out
