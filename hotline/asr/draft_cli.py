"""``hotline draft train`` and ``hotline gazetteer import``: a deployment's own draft data,
written to its draft folder (``<data_dir>/draft``), which the server reads at start.

``draft train --csv past_tickets.csv`` retrains the kind and category models from historic
tickets: one row per ticket, its text (the call's content or the ticket's description), its
category (a taxonomy name; empty for none of them) and, if the export has it, its kind. A
tenth of the rows, chosen by a hash of their text, is held out and scored before the models
are trained again on every row and saved.

``gazetteer import places.csv`` replaces (or with ``--merge`` extends) the city's roads,
compounds and landmarks: columns kind (road, compound, landmark, street), name, district
(optional) and aliases (optional, separated by ``|``). ``--city`` sets the division code of
the city whose districts and towns the gazetteer holds (3401: Hefei; see divisions.csv.gz).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import shutil
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]
PLACE_KINDS = ("road", "compound", "landmark", "street", "district")
PLACE_COLUMNS = ["kind", "name", "district", "aliases"]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    d = sub.add_parser("draft", help="ticket drafts: retrain from past tickets")
    d_sub = d.add_subparsers(dest="draft_cmd", required=True)
    t = d_sub.add_parser(
        "train",
        help="retrain the kind and category models from a CSV of past tickets",
        description=__doc__.split("\n\n")[1],
    )
    t.add_argument("--csv", type=Path, required=True, help="past tickets, UTF-8 with a header")
    t.add_argument("--text-column", default="content")
    t.add_argument("--category-column", default="category")
    t.add_argument("--kind-column", default="kind", help="left out if the CSV has no such column")
    t.add_argument(
        "--out", type=Path, default=None, help="draft folder (default: <data_dir>/draft)"
    )
    g = sub.add_parser("gazetteer", help="ticket drafts: the city's places")
    g_sub = g.add_subparsers(dest="gazetteer_cmd", required=True)
    i = g_sub.add_parser(
        "import",
        help="import the city's roads, compounds and landmarks from a CSV",
        description=__doc__.split("\n\n")[2],
    )
    i.add_argument("csv", type=Path)
    i.add_argument("--merge", action="store_true", help="add to the places already imported")
    i.add_argument("--city", default=None, help="division code of the city, e.g. 3401")
    i.add_argument(
        "--out", type=Path, default=None, help="draft folder (default: <data_dir>/draft)"
    )
    return {"draft": draft_cmd, "gazetteer": gazetteer_cmd}


def _folder(args: argparse.Namespace) -> Path:
    if args.out is not None:
        return Path(args.out)
    from hotline.config import load_settings

    from .service import draft_folder

    return draft_folder(load_settings())


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def _held_out(text: str) -> bool:
    return hashlib.sha1(text.encode()).digest()[0] < 26  # about a tenth


async def draft_cmd(args: argparse.Namespace) -> int:
    from .draft import DraftRules, Utterance, make_draft
    from .train import Example, train_models

    folder = _folder(args)
    rules = DraftRules.load(folder) if folder.is_dir() else DraftRules.load()
    rows = _read_csv(args.csv)
    if not rows or args.text_column not in rows[0] or args.category_column not in rows[0]:
        print(f"{args.csv}: needs the columns {args.text_column} and {args.category_column}")
        return 2
    names = {str(c["name"]) for c in rules.categories}
    unknown = sorted({r[args.category_column] for r in rows} - names - {""})
    if unknown:
        print(f"categories not in the taxonomy ({folder}/taxonomy.toml): {', '.join(unknown)}")
        return 2
    has_kind = args.kind_column in rows[0]
    examples = [
        Example(
            [Utterance("caller", r[args.text_column])],
            (r[args.kind_column] or None) if has_kind else None,
            r[args.category_column],
        )
        for r in rows
        if r[args.text_column].strip()
    ]
    held = [e for e in examples if _held_out(e.utterances[0].text)]
    train = [e for e in examples if not _held_out(e.utterances[0].text)]
    if held and train:
        kind_model, category_model = train_models(train, rules)
        trial = DraftRules(
            rules.categories,
            rules.kinds,
            rules.hazards,
            rules.gazetteer,
            kind_model,
            category_model,
        )
        drafts = [make_draft(e.utterances, trial) for e in held]
        ok = sum((d.category or "") == e.category for d, e in zip(drafts, held, strict=True))
        print(f"held out {len(held)} of {len(examples)} tickets: category {ok / len(held):.1%}")
        if kind_model is not None:
            ok = sum(d.kind == e.kind for d, e in zip(drafts, held, strict=True))
            print(f"  kind {ok / len(held):.1%}")
    kind_model, category_model = train_models(examples, rules)
    folder.mkdir(parents=True, exist_ok=True)
    for name, model in (("kind_model", kind_model), ("category_model", category_model)):
        if model is not None:
            path = folder / f"{name}.json.gz"
            path.write_bytes(gzip.compress(json.dumps(model.to_json()).encode(), mtime=0))
            print(f"{path}: {len(model.labels)} labels, {len(model.weights)} features")
    if kind_model is None:
        print("no kind column (or a row without a kind): the kind model is unchanged")
    return 0


async def gazetteer_cmd(args: argparse.Namespace) -> int:
    from .draft import DATA, DraftRules

    folder = _folder(args)
    rows = _read_csv(args.csv)
    if not rows or not {"kind", "name"} <= set(rows[0]):
        print(f"{args.csv}: needs the columns kind and name (and district, aliases)")
        return 2
    bad = [r for r in rows if r["kind"].strip() not in PLACE_KINDS or not r["name"].strip()]
    if bad:
        print(f"{len(bad)} rows without a name or with a kind not in {', '.join(PLACE_KINDS)}")
        return 2
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "places.csv"
    old = _read_csv(target) if args.merge and target.exists() else []
    merged = {(r["kind"].strip(), r["name"].strip()): r for r in [*old, *rows]}
    with target.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, PLACE_COLUMNS, extrasaction="ignore", lineterminator="\n")
        w.writeheader()
        for r in merged.values():
            w.writerow({c: (r.get(c) or "").strip() for c in PLACE_COLUMNS})
    gazetteer = folder / "gazetteer.toml"
    if not gazetteer.exists() and args.city:
        gazetteer.write_text(f'# Written by hotline gazetteer import.\ncity = "{args.city}"\n')
    elif not gazetteer.exists():
        shutil.copy(DATA / "gazetteer.toml", gazetteer)
    elif args.city:
        _set_city(gazetteer, str(args.city))
    rules = DraftRules.load(folder)
    counts = {k: len(rules.gazetteer.places(k)) for k in PLACE_KINDS}
    print(
        f"{target}: {len(merged)} places; the gazetteer now has "
        + ", ".join(f"{n} {k}s" for k, n in counts.items())
    )
    return 0


def _set_city(path: Path, city: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    out = [f'city = "{city}"' if ln.startswith("city") else ln for ln in lines]
    if not any(ln.startswith("city") for ln in lines):
        out.insert(0, f'city = "{city}"')
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
