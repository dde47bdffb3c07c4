"""Ticket commands: ``migrate``, ``kb import``, ``sync``, ``user``, ``departments import``.

The database, the knowledge base and the settings are imported when a command runs, not
when the parser is built. A refused request raises a domain error; ``hotline.cli`` prints it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import tomllib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotline.tickets.exceptions import InvalidInput, TicketNotFound
from hotline.tickets.models import Role

if TYPE_CHECKING:
    from hotline.config import Settings
    from hotline.tickets.service import Tickets

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    m = sub.add_parser("migrate", help="upgrade (or downgrade) the ticket database")
    m.add_argument("--revision", default="head", help="head, base, -1, or a revision id")
    m.add_argument("--yes", action="store_true", help="confirm a downgrade, which drops data")
    kb = sub.add_parser("kb", help="knowledge base")
    kb_sub = kb.add_subparsers(dest="kb_cmd", required=True)
    imp = kb_sub.add_parser("import", help="import Markdown, HTML, DOCX or text files")
    imp.add_argument("paths", nargs="+", type=Path, help="files or folders")
    imp.add_argument("--category", default=None)
    sub.add_parser("sync", help="run the outbox sender to HOTLINE_SYNC_URL until stopped")
    u = sub.add_parser("user", help="users: passwords for the desk, API tokens for programs")
    u_sub = u.add_subparsers(dest="user_cmd", required=True)
    add = u_sub.add_parser(
        "add",
        help="create a user, set their desk password and print their API token",
        description="An operator's username is their seat id. The password is asked twice "
        "on a terminal, read from one line of stdin with --password-stdin, or (neither) made "
        "up and printed once.",
    )
    add.add_argument("username")
    add.add_argument("--role", choices=[r.value for r in Role], required=True)
    add.add_argument("--department", default=None, help="department code (department staff)")
    add.add_argument("--name", default="")
    _password_flags(add)
    add.add_argument("--no-password", action="store_true", help="API token only, no desk")
    pw = u_sub.add_parser("passwd", help="set a user's desk password (signs them out)")
    pw.add_argument("username")
    _password_flags(pw)
    dis = u_sub.add_parser("disable", help="disable a user: sign-in and token refused")
    dis.add_argument("username")
    u_sub.add_parser("list", help="every user with role and department")
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
    from hotline.tickets.kb import SUPPORTED

    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix.lower() in SUPPORTED)
        else:
            out.append(p)
    return out


async def _open(settings: Settings, prepare: bool = True) -> Tickets:
    """The ticket services on the configured database; a database we cannot use is named."""
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from hotline.config import ConfigError
    from hotline.tickets import service

    try:
        tickets = service.build(settings)
        if prepare:
            await service.prepare(settings, tickets)
    except (ArgumentError, DBAPIError, OSError) as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise ConfigError(
            f"DATABASE_URL={settings.database_url}: cannot use this database ({reason}); "
            "fix the URL or start the server"
        ) from None
    return tickets


def _revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    from hotline.tickets.db import alembic_config

    return sorted(
        r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def _check_revision(revision: str, yes: bool) -> None:
    known = _revisions()
    if revision not in ("head", "base") and not re.fullmatch(r"[-+]\d+", revision):
        if revision not in known:
            raise InvalidInput(
                f"--revision {revision}: no such revision; use head, base, -N or one of "
                + ", ".join(known)
            )
    downgrade = revision == "base" or revision.startswith("-")
    if downgrade and not yes:
        raise InvalidInput(
            f"--revision {revision} downgrades the database and drops the data of the "
            "undone migrations; add --yes to do it"
        )


async def migrate_cmd(args: argparse.Namespace) -> int:
    from alembic.util import CommandError

    from hotline.config import load_settings
    from hotline.tickets.db import migrate

    _check_revision(args.revision, args.yes)
    tickets = await _open(load_settings(), prepare=False)
    try:
        await migrate(tickets.engine, args.revision)
    except CommandError as exc:
        raise InvalidInput(f"--revision {args.revision}: {exc}") from None
    finally:
        await tickets.engine.dispose()
    print(f"database at {args.revision}")
    return 0


async def kb_cmd(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from hotline.config import load_settings
    from hotline.tickets.kb import article_key, read_document

    tickets = await _open(load_settings())
    files = _files(args.paths)
    added = updated = unchanged = failed = 0
    for path in tqdm(files, desc="kb import", unit="doc"):
        try:
            doc = read_document(path)
            before = await tickets.services.kb.count()
            _, changed = await tickets.services.kb.upsert(
                doc.title, doc.body, source=article_key(path), category=args.category
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
    from hotline.config import ConfigError, load_settings

    settings = load_settings()
    if not settings.sync_url:
        raise ConfigError("HOTLINE_SYNC_URL is not set; set it to the work-order platform's URL")
    tickets = await _open(settings, prepare=False)
    assert tickets.sender is not None
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, tickets.sender.stop)
    await tickets.sender.run()
    await tickets.engine.dispose()
    return 0


def _password_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new password, and whether it was made up here (then it is printed)."""
    import getpass
    import secrets
    import sys

    from hotline.tickets.directory import password_problem

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise InvalidInput("the two passwords differ")
    else:
        return secrets.token_urlsafe(12), True
    problem = password_problem(password)
    if problem:
        raise InvalidInput(problem)
    return password, False


async def user_cmd(args: argparse.Namespace) -> int:
    from hotline.config import load_settings

    tickets = await _open(load_settings())
    directory = tickets.services.directory
    try:
        if args.user_cmd == "add":
            return await _user_add(args, directory)
        if args.user_cmd == "list":
            for u in await directory.users():
                state = "" if u["active"] else "  (disabled)"
                desk = "password" if u["has_password"] else "token only"
                dept = f"  department {u['department_id']}" if u["department_id"] else ""
                print(f"{u['username']:<16} {u['role']:<11} {desk}{dept}{state}")
            return 0
        user = await directory.user(args.username)
        if user is None:
            raise InvalidInput(f"no user {args.username}; `hotline user list` shows them")
        if args.user_cmd == "passwd":
            password, made = _password(args)
            await directory.set_password(args.username, password)
            print(f"password of {args.username} set" + (f": {password}" if made else ""))
        else:
            await directory.deactivate_user(int(user["id"]))
            print(f"user {args.username} disabled (signed out within 30 s)")
        return 0
    finally:
        await tickets.engine.dispose()


async def _user_add(args: argparse.Namespace, directory: Any) -> int:
    from sqlalchemy.exc import IntegrityError

    if Role(args.role) is Role.DEPARTMENT and not args.department:
        raise InvalidInput("--role department needs --department CODE (the user's department)")
    password, made = ("", False) if args.no_password else _password(args)
    try:
        dept = await directory.department_id(args.department) if args.department else None
        user_id, token = await directory.add_user(
            args.username, Role(args.role), name=args.name, department_id=dept
        )
    except TicketNotFound:
        codes = [d["code"] for d in await directory.departments()]
        raise InvalidInput(
            f"--department {args.department}: no such department; "
            + (f"known codes: {', '.join(codes[:20])}" if codes else "none are defined")
            + " (add them with `hotline departments import FILE`)"
        ) from None
    except IntegrityError:
        raise InvalidInput(
            f"user {args.username} already exists; choose another username"
        ) from None
    if password:
        await directory.set_password(args.username, password)
    print(f"user {args.username} (id {user_id}), API token: {token}")
    if made:
        print(f"desk password: {password}")
    return 0


def _department_rows(file: Path) -> list[dict[str, Any]]:
    """The ``[[department]]`` tables of a TOML file; a broken file is named with its line."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{file}: cannot read it ({exc.strerror})") from None
    try:
        rows = tomllib.loads(text).get("department", [])
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"at line (\d+)", str(exc))
        line = where.group(1) if where else len(text.splitlines())
        msg = re.sub(r" \(at .*\)$", "", str(exc))
        raise InvalidInput(f"{file}:{line}: not valid TOML: {msg[:1].lower()}{msg[1:]}") from None
    for n, row in enumerate(rows, 1):
        missing = [k for k in ("code", "name") if k not in row]
        if missing:
            raise InvalidInput(f"{file}: department #{n} has no {' or '.join(missing)}")
    return list(rows)


async def seed_departments(settings: Settings, file: Path) -> int:
    rows = await asyncio.to_thread(_department_rows, file)
    tickets = await _open(settings)
    existing = {d["code"] for d in await tickets.services.directory.departments()}
    n = await tickets.services.directory.add_departments(
        r for r in rows if r["code"] not in existing
    )
    await tickets.engine.dispose()
    return n


async def departments_cmd(args: argparse.Namespace) -> int:
    from hotline.config import load_settings

    n = await seed_departments(load_settings(), args.file)
    print(f"{n} departments added")
    return 0


async def seed_demo(settings: Settings, deploy: Path) -> None:
    """Departments and sample articles for ``make demo`` (skipped when already there)."""
    from hotline.tickets import service
    from hotline.tickets.kb import article_key, read_document

    departments = deploy / "departments.example.toml"
    if departments.exists():
        await seed_departments(settings, departments)
    samples = _files([deploy / "kb-sample"]) if (deploy / "kb-sample").is_dir() else []
    tickets = service.build(settings)
    for path in samples:
        doc = read_document(path)
        await tickets.services.kb.upsert(doc.title, doc.body, source=article_key(path))
    await tickets.engine.dispose()


DEMO_PASSWORD = "hotline-demo"  # demo mode only; a real deployment has no default account


async def seed_demo_users(settings: Settings, seats: list[str]) -> list[tuple[str, str, str]]:
    """The demo's accounts: an operator per seat, a supervisor, a department clerk and an
    admin, all with :data:`DEMO_PASSWORD`; returns (username, role, name) of each."""
    from sqlalchemy.exc import IntegrityError

    from hotline.tickets import service

    tickets = service.build(settings)
    directory = tickets.services.directory
    try:
        clerk_dept = await directory.department_id("shushan-sanlian")
    except TicketNotFound:
        clerk_dept = None
    wanted: list[tuple[str, Role, str, int | None]]
    wanted = [(seat, Role.OPERATOR, f"话务员 {seat}", None) for seat in seats]
    wanted += [("banzhang", Role.SUPERVISOR, "值班长", None), ("admin", Role.ADMIN, "管理员", None)]
    if clerk_dept is not None:
        wanted.append(("sanlian", Role.DEPARTMENT, "三里庵街道 承办员", clerk_dept))
    for username, role, name, dept in wanted:
        try:
            await directory.add_user(username, role, name=name, department_id=dept)
        except IntegrityError:
            existing = await directory.user(username)
            if existing is None or existing["has_password"]:
                continue  # an account someone made keeps its own password
        await directory.set_password(username, DEMO_PASSWORD)
    await tickets.engine.dispose()
    return [(u, r.value, n) for u, r, n, _ in wanted]
