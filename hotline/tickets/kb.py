"""Knowledge base: articles, Chinese full-text search and suggestions from a transcript.

Neither SQLite nor PostgreSQL segments Chinese words, so the text is segmented with jieba
(search mode, which also emits the shorter words inside long ones) and the space-separated
tokens are indexed: an FTS5 table ranked by BM25 on SQLite; on PostgreSQL a stored
``to_tsvector('simple', tokens)`` column with a GIN index, ranked by ``ts_rank`` (the
database needs a UTF-8 locale, or the 'simple' parser drops Chinese characters).
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import zipfile
from dataclasses import dataclass
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import jieba
import jieba.analyse
import jieba.posseg
from sqlalchemy import Row, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.tickets import schema as t
from hotline.tickets.exceptions import InvalidInput, TicketNotFound


class KbInvalid(InvalidInput):
    """A document or request the knowledge base cannot take (subclass: imports that skip
    ``InvalidInput`` files keep doing so)."""

    error_id = "kb-invalid"


class ArticleNotFound(TicketNotFound):
    error_id = "kb-not-found"


log = logging.getLogger(__name__)
jieba.setLogLevel(logging.WARNING)

_WORD = re.compile(r"[\w\u4e00-\u9fff]+")
_STOP = frozenset(
    (
        "的 了 是 在 和 与 或 及 我 你 他 她 它 们 这 那 就 也 都 要 会 可以 一个 "
        "吗 呢 吧 啊 嗯 请问 请 怎么 什么 如何 为什么 哪里 有 没有 能 不"
    ).split()
)
SUPPORTED = {".md", ".markdown", ".txt", ".html", ".htm", ".docx"}


@cache
def _tokenizer() -> jieba.Tokenizer:
    """The knowledge base's own jieba, built on first use: words other parts add to theirs
    (the draft's gazetteer) must not change how articles and queries are segmented."""
    return jieba.Tokenizer()


@cache
def _tfidf() -> jieba.analyse.TFIDF:
    tfidf = jieba.analyse.TFIDF()
    tfidf.tokenizer = _tokenizer()
    tfidf.postokenizer = jieba.posseg.POSTokenizer(_tokenizer())
    return tfidf


def warm() -> None:
    """Load the knowledge base's dictionary now (about a second; call it in a thread), so
    the first search does not stall the event loop."""
    _tokenizer().initialize()
    _tfidf()


def segment(text_: str) -> str:
    """Search-mode tokens of ``text_``, lower-cased, space-separated, stop words dropped."""
    words = (w.strip().lower() for w in _tokenizer().cut_for_search(text_))
    return " ".join(w for w in words if w and _WORD.fullmatch(w) and w not in _STOP)


def query_terms(query: str, limit: int = 12) -> list[str]:
    seen: dict[str, None] = {}
    for w in segment(query).split():
        seen.setdefault(w, None)
    return list(seen)[:limit]


def keywords(text_: str, limit: int = 8) -> list[str]:
    """The most telling words of a transcript or draft (TF-IDF), for suggestions."""
    tags = _tfidf().extract_tags(text_, topK=limit * 2)
    return [w.lower() for w in tags if _WORD.fullmatch(w) and w not in _STOP][:limit]


@dataclass(frozen=True)
class Document:
    title: str
    body: str
    source: str


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        self._in_title = tag in {"title", "h1"} and not self.title
        if tag in {"p", "br", "div", "li", "h1", "h2", "h3", "tr"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"} and self._skip:
            self._skip -= 1
        self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in_title:
            self.title = data.strip()
        self.parts.append(data)


def _docx_text(path: Path) -> str:
    ns = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(path) as z:
        root = ElementTree.fromstring(z.read("word/document.xml"))
    paras = []
    for p in root.iter(f"{ns}p"):
        paras.append("".join(node.text or "" for node in p.iter(f"{ns}t")))
    return "\n".join(x for x in paras if x.strip())


def read_document(path: Path) -> Document:
    """Title and plain text of a Markdown, HTML, DOCX or text file."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise KbInvalid(f"{path.name}: unsupported type (use {', '.join(sorted(SUPPORTED))})")
    title = ""
    try:
        if suffix == ".docx":
            body = _docx_text(path)
        else:
            raw = path.read_bytes().decode("utf-8-sig", errors="replace")
            if suffix in {".html", ".htm"}:
                parser = _HtmlText()
                parser.feed(raw)
                body, title = html.unescape("".join(parser.parts)), parser.title
            elif suffix in {".md", ".markdown"}:
                m = re.search(r"^#\s+(.+)$", raw, re.M)
                title = m.group(1).strip() if m else ""
                body = re.sub(r"[#*_`>\[\]]|\(https?://[^)]*\)", "", raw)
            else:
                body = raw
    except (OSError, zipfile.BadZipFile, KeyError, ElementTree.ParseError) as e:
        raise KbInvalid(f"{path.name}: cannot read ({e})") from e
    body = re.sub(r"\n\s*\n+", "\n\n", body).strip()
    if not title:
        first = next((line.strip() for line in body.splitlines() if line.strip()), "")
        title = first[:60] if 0 < len(first) <= 60 else path.stem
    return Document(title=title[:300], body=body, source=str(path))


def article_key(path: Path) -> str:
    """A file's identity in the knowledge base: its folder's name and its own name
    (``kb-sample/shebaoka.md``), the same wherever the checkout or the folder is moved, and the
    same whether the file is imported alone or with its folder. The demo's seeding and
    ``hotline kb import`` both key articles by it."""
    p = path.resolve()
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name


class KnowledgeBase:
    """Articles keyed by ``source`` (``article_key`` for files). An article whose key is not
    known but whose title and body are already stored is the same article arriving under
    another key (imported from a copy, or stored under an older key such as an absolute
    path or ``sample:<name>``): it takes the new key instead of being added again, so later
    edits to the file update it."""

    def __init__(self, engine: AsyncEngine, *, clock: Any) -> None:
        self.engine = engine
        self.clock = clock

    async def upsert(
        self, title: str, body: str, *, source: str | None = None, category: str | None = None
    ) -> tuple[int, bool]:
        """Add or update an article (by ``source``); returns its id and whether it changed."""
        title, body = title.strip(), body.strip()
        if not title or not body:
            raise KbInvalid("an article needs a title and a body")
        digest = hashlib.sha256(f"{title}\n{category}\n{body}".encode()).hexdigest()
        values = {
            "title": title,
            "body": body,
            "category": category,
            "source_hash": digest,
            "tokens": f"{segment(title)} {segment(title)} {segment(body)}",
            "updated_at": self.clock(),
        }
        async with self.engine.begin() as conn:
            row = await self._find(conn, source, title, body) if source else None
            if row is None:
                new_id = (
                    await conn.execute(
                        insert(t.kb_articles)
                        .values(source=source, **values)
                        .returning(t.kb_articles.c.id)
                    )
                ).scalar_one()
                return int(new_id), True
            changed = row.source_hash != digest
            if not changed and row.source == source:
                return int(row.id), False
            if row.source != source:
                log.info("kb article %s: key %s replaces %s", row.id, source, row.source)
            await conn.execute(
                update(t.kb_articles)
                .where(t.kb_articles.c.id == row.id)
                .values(source=source, **(values if changed else {}))
            )
            return int(row.id), changed

    @staticmethod
    async def _find(
        conn: AsyncConnection, source: str, title: str, body: str
    ) -> Row[Any, Any, Any] | None:
        """The article keyed ``source``, else the oldest one with the same title and body."""
        a = t.kb_articles.c
        columns = select(a.id, a.source, a.source_hash)
        row = (await conn.execute(columns.where(a.source == source))).first()
        if row is None:
            same = columns.where(a.title == title, a.body == body).order_by(a.id).limit(1)
            row = (await conn.execute(same)).first()
        return row

    async def get(self, article_id: int) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.kb_articles).where(t.kb_articles.c.id == article_id))
            ).first()
        if row is None:
            raise ArticleNotFound(f"no article {article_id}")
        out = dict(row._mapping)
        out.pop("tokens")
        out["updated_at"] = out["updated_at"].isoformat()
        return out

    async def search(self, query: str, *, limit: int = 10) -> list[dict[str, Any]]:
        return await self._search(query_terms(query), limit)

    async def suggest(self, transcript: str, *, limit: int = 5) -> list[dict[str, Any]]:
        return await self._search(keywords(transcript), limit)

    async def _search(self, terms: list[str], limit: int) -> list[dict[str, Any]]:
        if not terms:
            return []
        limit = max(1, min(limit, 50))
        if self.engine.dialect.name == "postgresql":
            tsquery = " | ".join("'" + w.replace("'", "''") + "'" for w in terms)
            sql = text(
                "SELECT a.id, a.title, a.category, substr(a.body, 1, 120) AS excerpt, "
                "ts_rank(a.tsv, q) AS score "
                "FROM kb_articles a, to_tsquery('simple', :q) q "
                "WHERE a.tsv @@ q "
                "ORDER BY score DESC, a.id LIMIT :n"
            )
        else:
            tsquery = " OR ".join('"' + w.replace('"', '""') + '"' for w in terms)
            sql = text(
                "SELECT a.id, a.title, a.category, substr(a.body, 1, 120) AS excerpt, "
                "-bm25(kb_fts) AS score FROM kb_fts JOIN kb_articles a ON a.id = kb_fts.rowid "
                "WHERE kb_fts MATCH :q ORDER BY score DESC, a.id LIMIT :n"
            )
        async with self.engine.connect() as conn:
            rows = await conn.execute(sql, {"q": tsquery, "n": limit})
            return [
                {**dict(r._mapping), "score": round(float(r.score), 4), "terms": terms}
                for r in rows
            ]

    async def count(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM kb_articles"))).scalar_one())
