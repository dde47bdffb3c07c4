"""Knowledge-base articles keep one identity: the demo's seeded samples, `hotline kb import` of
the same folder, a copy of it elsewhere, and an edit after the folder moved all land on the
same articles instead of adding them again (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from hotline.config import Settings
from hotline.tickets import cli as ticket_cli
from hotline.tickets.db import make_engine, migrate
from hotline.tickets.kb import KnowledgeBase, article_key, read_document
from tests.conftest import ROOT, Clock

DEPLOY = ROOT / "deploy"
SAMPLES = sorted((DEPLOY / "kb-sample").iterdir())


async def kb_import(database_url: str, *paths: Path) -> str:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline.cli",
        "kb",
        "import",
        *map(str, paths),
        cwd=ROOT,
        env={**os.environ, "HOTLINE_DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()
    return out.decode()


async def articles(database_url: str) -> list[dict[str, object]]:
    engine = make_engine(database_url)
    try:
        kb = KnowledgeBase(engine, clock=Clock(None))
        return [await kb.get(i + 1) for i in range(await kb.count())]
    finally:
        await engine.dispose()


async def test_given_the_demo_seeded_when_its_folder_is_imported_here_and_from_a_copy_then_nothing_is_added(  # noqa: E501
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "data", admin_token="")
    await ticket_cli.seed_demo(settings, DEPLOY)
    seeded = await articles(database_url)
    assert len(seeded) == len(SAMPLES) == 3

    out = await kb_import(database_url, DEPLOY / "kb-sample")
    assert "0 added, 0 updated, 3 unchanged" in out
    copy = tmp_path / "elsewhere" / "kb-sample"
    shutil.copytree(DEPLOY / "kb-sample", copy)
    renamed = tmp_path / "other" / "faq"
    shutil.copytree(DEPLOY / "kb-sample", renamed)
    out = await kb_import(database_url, copy, renamed)
    assert "0 added, 0 updated, 6 unchanged" in out
    after = await articles(database_url)
    assert [(a["id"], a["title"], a["body"]) for a in after] == [
        (a["id"], a["title"], a["body"]) for a in seeded
    ]

    # an edit to the copy last imported updates its article
    edited = renamed / SAMPLES[0].name
    edited.write_text(SAMPLES[0].read_text(encoding="utf-8") + "\n补充：周末也可办理。\n")
    out = await kb_import(database_url, renamed)
    assert "0 added, 1 updated, 2 unchanged" in out
    final = await articles(database_url)
    assert len(final) == 3
    changed = [a for a in final if "周末也可办理" in str(a["body"])]
    assert len(changed) == 1 and changed[0]["title"] == read_document(SAMPLES[0]).title


async def test_given_articles_keyed_by_article_key_when_the_folder_moves_and_a_file_changes_then_it_is_updated(  # noqa: E501
    database_url: str, tmp_path: Path
) -> None:
    first = tmp_path / "checkout-a" / "deploy" / "kb-sample"
    shutil.copytree(DEPLOY / "kb-sample", first)
    engine = make_engine(database_url)
    await migrate(engine)
    kb = KnowledgeBase(engine, clock=Clock(datetime(2026, 11, 23, 10, 0, tzinfo=UTC)))
    try:
        ids = {}
        for path in sorted(first.iterdir()):
            doc = read_document(path)
            ids[path.name], added = await kb.upsert(doc.title, doc.body, source=article_key(path))
            assert added
        assert article_key(first / "shebaoka.md") == "kb-sample/shebaoka.md"

        moved = tmp_path / "checkout-b" / "srv" / "kb-sample"
        shutil.move(first, moved)
        target = moved / "zaosheng.md"
        target.write_text(target.read_text(encoding="utf-8").replace("。", "，请保留证据。", 1))
        doc = read_document(target)
        article_id, changed = await kb.upsert(doc.title, doc.body, source=article_key(target))
        assert (article_id, changed) == (ids["zaosheng.md"], True)
        assert await kb.count() == 3
        assert "请保留证据" in str((await kb.get(article_id))["body"])
        # an article without a file key (the API's) is never matched to a file by its text
        doc = read_document(moved / "qianxin.txt")
        other_id, added = await kb.upsert(doc.title, doc.body)
        assert added and other_id not in ids.values() and await kb.count() == 4
    finally:
        await engine.dispose()
