"""`hotline kb import`: Markdown, HTML, DOCX and text files into a searchable knowledge base."""

from __future__ import annotations

import asyncio
import os
import sys
import zipfile
from pathlib import Path

from hotline.tickets.db import make_engine
from hotline.tickets.kb import KnowledgeBase, read_document
from tests.conftest import ROOT, Clock

DOCX_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    "<w:p><w:r><w:t>公积金提取办法</w:t></w:r></w:p>"
    "<w:p><w:r><w:t>购买自住住房的，可以提取</w:t></w:r><w:r><w:t>住房公积金。</w:t></w:r></w:p>"
    "</w:body></w:document>"
)


def make_docs(folder: Path) -> None:
    (folder / "a.md").write_text("# 居住证办理\n\n**外地户籍**人员居住满半年可申请居住证。\n")
    (folder / "b.html").write_text(
        "<html><head><title>燃气泄漏怎么办</title><script>alert(1)</script></head>"
        "<body><p>立即关闭阀门，开窗通风，不要开关电器，到室外拨打燃气抢修电话。</p></body></html>"
    )
    with zipfile.ZipFile(folder / "c.docx", "w") as z:
        z.writestr("word/document.xml", DOCX_XML)
    (folder / "d.txt").write_text("停水通知查询\n计划停水信息在供水集团官网和公众号发布。\n")
    (folder / "broken.docx").write_bytes(b"not a zip")
    (folder / "ignored.pdf").write_bytes(b"%PDF-1.4")


def test_readers_take_titles_and_text(tmp_path: Path) -> None:
    make_docs(tmp_path)
    assert read_document(tmp_path / "a.md").title == "居住证办理"
    html = read_document(tmp_path / "b.html")
    assert html.title == "燃气泄漏怎么办" and "alert" not in html.body and "开窗通风" in html.body
    docx = read_document(tmp_path / "c.docx")
    assert docx.title == "公积金提取办法" and "住房公积金" in docx.body


async def test_cli_import_is_resumable_and_searchable(tmp_path: Path, database_url: str) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_docs(docs)
    env = {**os.environ, "HOTLINE_DATABASE_URL": database_url}

    async def run() -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hotline.cli",
            "kb",
            "import",
            str(docs),
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode()

    code, out = await run()
    assert code == 0, out
    assert "4 added, 0 updated, 0 unchanged, 1 skipped" in out and "broken.docx" in out
    code, out = await run()  # a second run changes nothing
    assert "0 added, 0 updated, 4 unchanged, 1 skipped" in out
    engine = make_engine(database_url)
    try:
        kb = KnowledgeBase(engine, clock=Clock(None))
        assert await kb.count() == 4
        hits = await kb.search("家里燃气泄漏了怎么办")
        assert hits[0]["title"] == "燃气泄漏怎么办"
        hits = await kb.search("提取公积金")
        assert hits[0]["title"] == "公积金提取办法"
    finally:
        await engine.dispose()
