"""Ticket drafts: accuracy on the blind part of the draft corpus, and time per call.

    python bench/drafts.py [--quick]

1. Accuracy per field on ``tests/asr/corpus/blind.yaml`` (calls never read while the rules,
   word lists and models were tuned; see bench/draft_corpus.py), once as written and once
   as a recogniser prints them, with the shipped rules, gazetteer and models.
2. The same blind calls with the recogniser-style errors made 2 and 3 times as often (about
   18 % and 27 % of characters wrong; a small recogniser on phone audio is often there):
   how each field degrades. Skipped with --quick.
3. Time to make one call's draft (``make_draft`` on its whole transcript, both forms), in
   this process after the rules and jieba are loaded: p50, p99, max over every blind call,
   repeated (once with --quick).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT, machine, pct, print_table, write_results
from hotline.asr.draft import DraftRules, make_draft
from hotline.asr.scoring import FORMS, PREFIX, score, utterances

BLIND = ROOT / "tests" / "asr" / "corpus" / "blind.yaml"
FIELDS = ("kind", "category", "urgent_recall", "urgent_precision", "district", "location")


def timings(calls: list[dict[str, Any]], rules: DraftRules, repeats: int) -> list[float]:
    said = [utterances(c[form]) for c in calls for form in FORMS]
    out = []
    for _ in range(repeats):
        for u in said:
            t0 = time.perf_counter()
            make_draft(u, rules)
            out.append((time.perf_counter() - t0) * 1000)
    return out


def noisier(calls: list[dict[str, Any]], rules: DraftRules) -> dict[str, dict[str, float]]:
    from bench.draft_corpus import Confusions, heard

    conf = Confusions()
    out = {}
    for scale in (2.0, 3.0):
        noisy = []
        for c in calls:
            rng = random.Random(f"{c['id']}x{scale}")
            turns = [
                ("O: " + heard(t[2:], rng, conf, scale))
                if t.startswith("O:")
                else heard(t, rng, conf, scale)
                for t in c["said"]
            ]
            noisy.append({**c, "heard": turns})
        out[f"x{scale:g}"] = score(noisy, rules, "heard").figures()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="time each call once, not five times")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rules = DraftRules.load()
    rules.tokenizer  # noqa: B018 - jieba's dictionary, loaded before anything is timed
    load_s = time.perf_counter() - t0
    calls = yaml.safe_load(BLIND.read_text(encoding="utf-8"))
    figures = {form: score(calls, rules, form) for form in FORMS}
    s = figures["said"]
    clean, heard = figures["said"].figures(), figures["heard"].figures()
    rows = [(name, clean[name], f"{heard[name]:.3f}") for name in FIELDS]
    print_table(
        f"blind part: {s.calls} calls, {s.urgent} urgent, {s.located} naming a place\n"
        "  field              clean text  recogniser-style",
        rows,
    )
    noisy = {} if args.quick else noisier(calls, rules)
    if noisy:
        rows2 = [(name, noisy["x2"][name], f"{noisy['x3'][name]:.3f}") for name in FIELDS]
        print_table("more recognition errors\n  field               x2 (~18 %)  x3 (~27 %)", rows2)
    ms = timings(calls, rules, 1 if args.quick else 5)
    print(
        f"draft per call: p50 {pct(ms, 0.5):.2f} ms, p99 {pct(ms, 0.99):.2f} ms, "
        f"max {max(ms):.2f} ms ({len(ms)} drafts); rules loaded in {load_s:.1f} s"
    )
    summary: dict[str, float | int | None] = {}
    for form in FORMS:
        for name, value in figures[form].figures().items():
            summary[f"{PREFIX[form]}_{name}"] = value
    summary |= {
        "draft_p50_ms": round(pct(ms, 0.5), 2),
        "draft_p99_ms": round(pct(ms, 0.99), 2),
        "draft_max_ms": round(max(ms), 2),
        "blind_calls": s.calls,
        "blind_urgent": s.urgent,
        "blind_located": s.located,
        "rules_load_s": round(load_s, 2),
    }
    for level, figs in noisy.items():
        summary |= {f"asr_{level}_{name}": value for name, value in figs.items()}
    settings = {
        "quick": args.quick,
        "corpus": str(BLIND.relative_to(ROOT)),
        "repeats": 1 if args.quick else 5,
        "models": [n for n in ("kind", "category") if getattr(rules, f"{n}_model") is not None],
        "gazetteer_names": len(rules.gazetteer.names),
    }
    path = write_results("drafts", settings, summary, notes=str(machine()["cpu"]))
    print(f"results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
