"""Ticket commands: ``migrate``, ``kb import``, ``sync``, ``user add``, ``departments import``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import tomllib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from tqdm import tqdm

from hotline.config import Settings, load_settings
from hotline.tickets import service
from hotline.tickets.db import migrate
from hotline.tickets.exceptions import InvalidInput
from hotline.tickets.kb import SUPPORTED, read_document
from hotline.tickets.models import Role

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    m = sub.add_parser("migrate", help="upgrade (or downgrade) the ticket database")
    m.add_argument("--revision", default="head", help="head, base, -1, or a revision id")
    kb = sub.add_parser("kb", help="knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_cmd", required=True)
    imp = kb_sub.add_parser("import", help="import Markdown, HTML, DOCX or text files")
    imp.add_argument("paths", nargs="+", type=Path, help="files or folders")
    imp.add_argument("--category", default=None)
    sub.add_parser("sync", help="run the outbox sender to HOTLINE_SYNC_URL until stopped")
    u = sub.add_parser("user", help="users and API tokens")
    u_sub = u.add_subparsers(dest="user_cmd", required=True)
    add = u_sub.add_parser("add", help="create a user and print its API token")
    add.add_argument("username")
    add.add_argument("--role", choices=[r.value for r in Role], required=True)
    add.add_argument("--department", default=None, help="department code (department staff)")
    add.add_argument("--name", default="")
    d = sub.add_parser("departments", help="the department tree")
    d_sub = d.add_subparsers(dest="dept_cmd", required=True)
    di = d_sub.add_parser("import", help="add departments from a TOML file ([[department]])")
    di.add_argument("file", type=Path)
    return {
        "migrate": migrate_cmd,
        "kb": kb_cmd,
        "sync": sync_cmd,
        "user": user_cmd,
        "departments": departments_cmd,
    }


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in SUPPORTED)
        else:
            out.append(p)
    return out


async def migrate_cmd(args: argparse.Namespace) -> int:
    tickets = service.build(load_settings())
    await migrate(tickets.engine, args.revision)
    await tickets.engine.dispose()
    print(f"database at {args.revision}")
    return 0


async def kb_cmd(args: argparse.Namespace) -> int:
    settings = load_settings()
    tickets = service.build(settings)
    await service.prepare(settings, tickets)
    files = _files(args.paths)
    added = updated = unchanged = failed = 0
    for path in tqdm(files, desc="kb import", unit="doc"):
        try:
            doc = read_document(path)
            before = await tickets.services.kb.count()
            _, changed = await tickets.services.kb.upsert(
                doc.title, doc.body, source=str(path.resolve()), category=args.category
            )
        except InvalidInput as e:
            tqdm.write(f"skipped {path}: {e.message}")
            failed += 1
            continue
        if not changed:
            unchanged += 1
        elif await tickets.services.kb.count() > before:
            added += 1
        else:
            updated += 1
    await tickets.engine.dispose()
    print(f"{added} added, {updated} updated, {unchanged} unchanged, {failed} skipped")
    return 1 if failed and not (added or updated or unchanged) else 0


async def sync_cmd(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.sync_url:
        print("HOTLINE_SYNC_URL is not set")
        return 2
    tickets = service.build(settings)
    assert tickets.sender is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, tickets.sender.stop)
    await tickets.sender.run()
    await tickets.engine.dispose()
    return 0


async def user_cmd(args: argparse.Namespace) -> int:
    settings = load_settings()
    tickets = service.build(settings)
    await service.prepare(settings, tickets)
    directory = tickets.services.directory
    dept = await directory.department_id(args.department) if args.department else None
    user_id, token = await directory.add_user(
        args.username, Role(args.role), name=args.name, department_id=dept
    )
    await tickets.engine.dispose()
    print(f"user {args.username} (id {user_id}), API token: {token}")
    return 0


async def seed_departments(settings: Settings, file: Path) -> int:
    rows = tomllib.loads(await asyncio.to_thread(file.read_text, encoding="utf-8"))
    rows = rows.get("department", [])
    tickets = service.build(settings)
    await service.prepare(settings, tickets)
    existing = {d["code"] for d in await tickets.services.directory.departments()}
    n = await tickets.services.directory.add_departments(
        r for r in rows if r["code"] not in existing
    )
    await tickets.engine.dispose()
    return n


async def departments_cmd(args: argparse.Namespace) -> int:
    n = await seed_departments(load_settings(), args.file)
    print(f"{n} departments added")
    return 0


async def seed_demo(settings: Settings, deploy: Path) -> None:
    """Departments and sample articles for ``make demo`` (skipped when already there)."""
    departments = deploy / "departments.example.toml"
    if departments.exists():
        await seed_departments(settings, departments)
    samples = _files([deploy / "kb-sample"]) if (deploy / "kb-sample").is_dir() else []
    tickets = service.build(settings)
    for path in samples:
        doc = read_document(path)
        await tickets.services.kb.upsert(doc.title, doc.body, source=f"sample:{path.name}")
    await tickets.engine.dispose()
