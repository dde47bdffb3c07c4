"""Ticket drafts scored on the blind part of the draft corpus (tests/asr/corpus/blind.yaml):
144 calls kept apart before the rules, word lists and models were tuned, each as written and
as a recogniser prints them. The floors sit a little under what the shipped data scores, so
a change that loses accuracy on calls nobody tuned for fails here. bench/drafts.py prints
the same figures and writes them to bench/results/drafts.json."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline.asr.draft import DraftRules
from hotline.asr.scoring import FORMS, PREFIX, score

CORPUS = Path(__file__).with_name("corpus")
FLOORS = {
    "said": {
        "kind": 0.88,
        "category": 0.80,
        "urgent_recall": 0.95,
        "urgent_precision": 0.85,
        "district": 0.95,
        "location": 0.90,
    },
    "heard": {
        "kind": 0.86,
        "category": 0.78,
        "urgent_recall": 0.95,
        "urgent_precision": 0.85,
        "district": 0.95,
        "location": 0.85,
    },
}


@pytest.fixture(scope="module")
def rules() -> DraftRules:
    return DraftRules.load()


def load(part: str) -> list[dict[str, Any]]:
    return yaml.safe_load((CORPUS / f"{part}.yaml").read_text(encoding="utf-8"))


def test_the_corpus_has_400_calls_in_two_parts_that_share_none() -> None:
    train, blind = load("train"), load("blind")
    assert len(train) + len(blind) >= 400 and len(blind) >= 100
    assert not {c["id"] for c in train} & {c["id"] for c in blind}
    assert not {"".join(c["said"]) for c in train} & {"".join(c["said"]) for c in blind}
    assert all(len(c["said"]) == len(c["heard"]) for c in train + blind)


@pytest.mark.parametrize("form", FORMS)
def test_given_the_blind_calls_when_drafted_then_every_field_meets_its_floor(
    form: str, rules: DraftRules
) -> None:
    misses: list[tuple[str, str, Any, Any]] = []
    s = score(load("blind"), rules, form, misses.append)
    figures = s.figures()
    print(f"\n{PREFIX[form]} ({s.calls} calls, {s.urgent} urgent, {s.located} naming a place)")
    for name, value in figures.items():
        print(f"  {name:<17} {value:6.1%}   floor {FLOORS[form][name]:.0%}")
    low = {n: v for n, v in figures.items() if v < FLOORS[form][n]}
    assert low == {}, misses
