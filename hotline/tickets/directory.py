"""Departments (a tree), users with roles, API tokens and desk passwords, and runtime flags.

Tokens are random strings shown once; only their SHA-256 is stored. Passwords are kept as
argon2id hashes (argon2-cffi), verified off the event loop. The department tree is
cached for ``tree_ttl`` seconds, so an instance sees another's new department within that.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.tickets import schema as t
from hotline.tickets.exceptions import InvalidInput, TicketNotFound, Unauthorized
from hotline.tickets.models import Actor, Role
from hotline.tickets.workflow import DepartmentTree


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_HASHER = PasswordHasher()  # argon2id with the library's current recommended costs
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD = 10


def password_problem(password: str) -> str:
    """Why a password will not do ("" when it will)."""
    if len(password) < MIN_PASSWORD:
        return f"a password needs at least {MIN_PASSWORD} characters"
    if len(password) > 256:
        return "a password is at most 256 characters"
    if len(set(password)) < 4:
        return "a password needs more than three different characters"
    return ""


def _verify(digest: str, password: str) -> bool:
    try:
        return bool(_HASHER.verify(digest, password))
    except (VerifyMismatchError, InvalidHashError):
        return False


class Directory:
    def __init__(
        self, engine: AsyncEngine, *, clock: Callable[[], datetime], tree_ttl: float = 30.0
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.tree_ttl = tree_ttl
        self._tree: DepartmentTree | None = None
        self._tree_at = 0.0
        self._argon = asyncio.Semaphore(2)

    # -- departments --------------------------------------------------------------------------

    async def tree(self) -> DepartmentTree:
        if self._tree is None or time.monotonic() - self._tree_at > self.tree_ttl:
            async with self.engine.connect() as conn:
                rows = await conn.execute(
                    select(t.departments.c.id, t.departments.c.parent_id).where(
                        t.departments.c.active.is_(True)
                    )
                )
                self._tree = DepartmentTree({r.id: r.parent_id for r in rows})
            self._tree_at = time.monotonic()
        return self._tree

    async def add_department(
        self, code: str, name: str, parent_code: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        code, name = code.strip(), name.strip()
        if not code or not name:
            raise InvalidInput("a department needs a code and a name")
        async with self.engine.begin() as conn:
            parent_id, level = None, 1
            if parent_code:
                parent = (
                    await conn.execute(
                        select(t.departments).where(t.departments.c.code == parent_code)
                    )
                ).first()
                if parent is None:
                    raise InvalidInput(f"no parent department {parent_code}")
                parent_id, level = parent.id, parent.level + 1
            exists = (
                await conn.execute(select(t.departments.c.id).where(t.departments.c.code == code))
            ).first()
            if exists is not None:
                raise InvalidInput(f"department code {code} is taken", code=code)
            new_id = (
                await conn.execute(
                    insert(t.departments)
                    .values(
                        code=code, name=name, parent_id=parent_id, level=level, active=True, **extra
                    )
                    .returning(t.departments.c.id)
                )
            ).scalar_one()
        self._tree = None
        return {"id": new_id, "code": code, "name": name, "parent_id": parent_id, "level": level}

    async def add_departments(self, rows: Iterable[dict[str, Any]]) -> int:
        """Add departments given parents first (``code``, ``name``, optional ``parent``)."""
        n = 0
        for row in rows:
            await self.add_department(row["code"], row["name"], row.get("parent"))
            n += 1
        return n

    async def departments(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.departments).order_by(t.departments.c.id))
            return [dict(r._mapping) for r in rows]

    async def department_id(self, code: str) -> int:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.departments.c.id).where(t.departments.c.code == code))
            ).first()
        if row is None:
            raise TicketNotFound(f"no department {code}", code=code)
        return int(row.id)

    # -- users --------------------------------------------------------------------------------

    async def add_user(
        self,
        username: str,
        role: Role,
        *,
        name: str = "",
        department_id: int | None = None,
        token: str | None = None,
    ) -> tuple[int, str]:
        """Create a user; returns its id and its API token (shown once)."""
        if role is Role.DEPARTMENT and department_id is None:
            raise InvalidInput("department staff need a department")
        token = token or secrets.token_urlsafe(24)
        async with self.engine.begin() as conn:
            user_id = (
                await conn.execute(
                    insert(t.users)
                    .values(
                        username=username,
                        name=name or username,
                        role=role.value,
                        department_id=department_id,
                        token_hash=token_hash(token),
                        active=True,
                        created_at=self.clock(),
                    )
                    .returning(t.users.c.id)
                )
            ).scalar_one()
        return int(user_id), token

    async def authenticate(self, token: str) -> Actor:
        if not token:
            raise Unauthorized("an API token is required (Authorization: Bearer …)")
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.users).where(t.users.c.token_hash == token_hash(token)))
            ).first()
        if row is None or not row.active:
            raise Unauthorized("unknown or disabled API token")
        return Actor(row.id, Role(row.role), row.department_id, row.name, row.username)

    async def deactivate_user(self, user_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(t.users).where(t.users.c.id == user_id).values(active=False))

    async def user(self, username: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.users).where(t.users.c.username == username))
            ).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["has_password"] = out.pop("password_hash") is not None
        out.pop("token_hash")
        return out

    async def users(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(t.users.c.username).order_by(t.users.c.id))
            names = [r.username for r in rows]
        return [u for u in [await self.user(n) for n in names] if u is not None]

    async def set_password(self, username: str, password: str) -> int:
        """Set a user's desk password (argon2id); returns the user's id."""
        problem = password_problem(password)
        if problem:
            raise InvalidInput(problem)
        digest = await asyncio.to_thread(_HASHER.hash, password)
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(
                    update(t.users)
                    .where(t.users.c.username == username)
                    .values(password_hash=digest, password_set_at=self.clock())
                    .returning(t.users.c.id)
                )
            ).first()
        if row is None:
            raise TicketNotFound(f"no user {username}", username=username)
        return int(row.id)

    async def sign_in(self, username: str, password: str) -> Actor | None:
        """The user, if the password is theirs and the account is enabled; else None. The
        same argon2 work is done for an unknown name, so timing does not tell names apart."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.users).where(t.users.c.username == username))
            ).first()
        digest = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
        async with self._argon:  # each check is ~50 ms and 64 MiB: a flood waits its turn
            ok = await asyncio.to_thread(_verify, digest, password)
        if not ok or row is None or not row.password_hash or not row.active:
            return None
        if _HASHER.check_needs_rehash(digest):
            await self.set_password(username, password)
        return Actor(row.id, Role(row.role), row.department_id, row.name, row.username)

    async def standing(self, user_id: int) -> tuple[bool, float]:
        """Whether the account is enabled, and when its password was last set (epoch
        seconds; 0 if never): sessions from before that no longer count."""
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.users.c.active, t.users.c.password_set_at).where(
                        t.users.c.id == user_id
                    )
                )
            ).first()
        if row is None:
            return False, 0.0
        at = row.password_set_at
        return bool(row.active), at.timestamp() if at is not None else 0.0

    async def locale(self, user_id: int) -> str | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(select(t.users.c.locale).where(t.users.c.id == user_id))
            ).first()
        return None if row is None else row.locale

    async def set_locale(self, user_id: int, locale: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(t.users).where(t.users.c.id == user_id).values(locale=locale))

    # -- runtime flags (emergency mode, ...) --------------------------------------------------

    async def flag(self, name: str, default: Any = None) -> Any:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.runtime_flags.c.value).where(t.runtime_flags.c.name == name)
                )
            ).first()
        return default if row is None else row.value

    async def set_flag(self, name: str, value: Any, actor: Actor | None = None) -> None:
        mod = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        values = {
            "value": value,
            "updated_at": self.clock(),
            "updated_by": actor.user_id if actor else None,
        }
        stmt = mod.insert(t.runtime_flags).values(name=name, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["name"], set_=values)
        async with self.engine.begin() as conn:
            await conn.execute(stmt)
