"""Files a department sends with its reply: checked, kept on disk, recorded with the ticket.

The upload's own name is only ever shown, never used as a path: a name carrying a path
(slashes, backslashes, a drive colon, ``..``, control characters) is refused outright, and
the file is written under a name the server makes (32 random hex digits and the extension)
into a hidden part-file inside the configured folder, renamed into place only once it is
complete, under the size limit and of the type its extension claims by its first bytes.
Anything refused leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
import unicodedata
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.tickets import schema as t
from hotline.tickets.exceptions import TicketError
from hotline.tickets.models import Actor
from hotline.tickets.store import ticket_view

log = logging.getLogger(__name__)

OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of .doc and .xls
ZIP = b"PK\x03\x04"  # the container of .docx and .xlsx
HEAD = 8192
MAX_PER_TICKET = 20  # a reply's evidence, not a file store: bounds what one ticket can hold
# extension → (the type it is served as, the first bytes it must start with)
KINDS: dict[str, tuple[str, tuple[bytes, ...]]] = {
    "jpg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    "png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    "gif": ("image/gif", (b"GIF87a", b"GIF89a")),
    "pdf": ("application/pdf", (b"%PDF-",)),
    "doc": ("application/msword", (OLE,)),
    "xls": ("application/vnd.ms-excel", (OLE,)),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        (ZIP,),
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (ZIP,)),
}
# What the office formats must hold besides the zip header, so a renamed archive is refused.
ZIP_MEMBER = {"docx": b"word/", "xlsx": b"xl/"}


class AttachmentInvalid(TicketError):
    error_id = "attachment-invalid"
    status = 422


class AttachmentTooLarge(TicketError):
    error_id = "attachment-too-large"
    status = 413


class AttachmentType(TicketError):
    error_id = "attachment-type"
    status = 415


class AttachmentNotFound(TicketError):
    """No such file, or not one the asker may see (the same answer, so ids tell nothing)."""

    error_id = "attachment-not-found"
    status = 404


def check_name(filename: str, allowed: frozenset[str]) -> str:
    """The upload's extension, if its name is a plain file name of an allowed type."""
    name = filename.strip()
    if not name or len(name) > 200:
        raise AttachmentInvalid("a file needs a name of 1 to 200 characters")
    if any(c in name for c in "/\\:") or any(_unprintable(c) for c in name):
        raise AttachmentInvalid("a file name must not contain a path", filename=name[:80])
    if name in (".", "..") or name.startswith("."):
        raise AttachmentInvalid("a file name must not start with a dot", filename=name[:80])
    stem, dot, ext = name.rpartition(".")
    ext = ext.lower()
    if not dot or not stem or ext not in allowed:
        raise AttachmentType(
            f"only these types are accepted: {', '.join(sorted(allowed))}", filename=name[:80]
        )
    return ext


def content_matches(ext: str, head: bytes) -> bool:
    """Whether the file's first bytes are those of the type its extension names."""
    _, magics = KINDS[ext]
    if not head.startswith(magics):
        return False
    member = ZIP_MEMBER.get(ext)
    return member is None or member in head or b"[Content_Types].xml" in head


@dataclass(frozen=True)
class AttachmentRules:
    folder: Path
    max_bytes: int
    types: frozenset[str]

    def __post_init__(self) -> None:
        unknown = self.types - KINDS.keys()
        if unknown:
            raise ValueError(f"attachment types the server cannot check: {sorted(unknown)}")


class AttachmentStore:
    """Attachment files under one folder and their rows in ``ticket_attachments``."""

    def __init__(
        self, engine: AsyncEngine, rules: AttachmentRules, *, clock: Callable[[], datetime]
    ) -> None:
        self.engine = engine
        self.rules = rules
        self.clock = clock

    def path(self, stored_name: str) -> Path:
        folder = self.rules.folder.resolve()
        path = (folder / stored_name).resolve()
        if path.parent != folder:  # our own names never leave it; a bad row must not either
            raise AttachmentNotFound("no such attachment")
        return path

    async def save(
        self,
        ticket_id: int,
        filename: str,
        chunks: AsyncIterator[bytes],
        actor: Actor,
    ) -> dict[str, Any]:
        """Write the upload under a new name and record it; refused uploads leave nothing."""
        ext = check_name(filename, self.rules.types)
        a = t.attachments
        async with self.engine.connect() as conn:
            held = await conn.scalar(select(func.count()).where(a.c.ticket_id == ticket_id))
        if (held or 0) >= MAX_PER_TICKET:
            raise AttachmentInvalid(f"a ticket holds at most {MAX_PER_TICKET} files")
        folder = self.rules.folder
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        stored = f"{secrets.token_hex(16)}.{ext}"
        final = self.path(stored)
        part = final.with_name(f".part-{stored}")
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            with part.open("xb") as out:
                async for chunk in chunks:
                    size += len(chunk)
                    if size > self.rules.max_bytes:
                        raise AttachmentTooLarge(
                            f"a file may be at most {self.rules.max_bytes} bytes",
                            max_bytes=self.rules.max_bytes,
                        )
                    if len(head) < HEAD:
                        head += chunk[: HEAD - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
            if size == 0:
                raise AttachmentInvalid("the file is empty")
            if not content_matches(ext, head):
                raise AttachmentType(f"the file's content is not a .{ext} file", filename=filename)
            os.replace(part, final)
        finally:
            part.unlink(missing_ok=True)
        row = {
            "ticket_id": ticket_id,
            "stored_name": stored,
            "filename": filename.strip(),
            "content_type": KINDS[ext][0],
            "size": size,
            "sha256": digest.hexdigest(),
            "department_id": actor.department_id,
            "by": actor.user_id,
            "at": self.clock(),
        }
        try:
            async with self.engine.begin() as conn:
                new_id = (
                    await conn.execute(
                        insert(t.attachments).values(**row).returning(t.attachments.c.id)
                    )
                ).scalar_one()
        except BaseException:
            final.unlink(missing_ok=True)
            raise
        log.info(
            "ticket id %s: attachment %s stored as %s (%d bytes)", ticket_id, new_id, stored, size
        )
        return public({**row, "id": new_id})

    async def for_ticket(self, ticket_id: int) -> list[dict[str, Any]]:
        a = t.attachments
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(a).where(a.c.ticket_id == ticket_id).order_by(a.c.id))
            return [public(ticket_view(r)) for r in rows]

    async def get(self, attachment_id: int) -> tuple[dict[str, Any], str]:
        """The attachment's row and the number of its ticket."""
        a, tk = t.attachments, t.tickets
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(a, tk.c.number.label("ticket_number"))
                    .join(tk, tk.c.id == a.c.ticket_id)
                    .where(a.c.id == attachment_id)
                )
            ).first()
        if row is None:
            raise AttachmentNotFound("no such attachment")
        data = dict(row._mapping)
        return data, str(data["ticket_number"])

    async def read(self, row: dict[str, Any]) -> bytes:
        path = self.path(str(row["stored_name"]))
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            log.error("attachment %s: file %s is missing", row["id"], path)
            raise AttachmentNotFound("the attachment's file is missing") from None


def public(row: dict[str, Any]) -> dict[str, Any]:
    """An attachment as the pages and the API show it (the name on disk stays here)."""
    at = row["at"]
    return {
        "id": row["id"],
        "filename": row["filename"],
        "content_type": row["content_type"],
        "size": row["size"],
        "sha256": row["sha256"],
        "department_id": row["department_id"],
        "by": row["by"],
        "at": at.isoformat() if isinstance(at, datetime) else at,
        "url": f"/api/attachments/{row['id']}",
    }


def _unprintable(c: str) -> bool:
    """Control, format (the bidi overrides that make 报告\u202efdp.exe look like a PDF) and
    line or paragraph separators."""
    return unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp")
