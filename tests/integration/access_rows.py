"""The row vocabulary of the role × route table (``test_access_table.py``). A page area of
its own (board, portal, wallboard …) lists its routes in a ``rows_<area>.py`` module here as
``ROWS: dict[tuple[str, str], Row]``, which the table test picks up."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

PASSWORD = "correct-horse-9"
HOTLINE = frozenset({"operator", "dispatcher", "supervisor", "admin"})
EVERY_ROLE = HOTLINE | {"department", "system"}
WHO = ("anonymous", "operator", "dispatcher", "supervisor", "department", "admin", "system")
USERS = {  # role → username (an operator's username is their seat)
    "operator": "1001",
    "dispatcher": "paidan",
    "supervisor": "banzhang",
    "department": "shuiwu",
    "admin": "chief",
    "system": "survey",
}
CSRF_ATTR = re.compile(r'data-csrf="([^"]+)"')
LOGIN_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Row:
    """One route's expectation. ``kind``: api, page, public, signed (only a signature
    opens it, never a token or a session), form (POST /login: anyone, with the form's own
    token)."""

    path: str  # with its parameters filled in: {ticket}, {article} and {water} from Fixture
    kind: str = "api"
    allowed: frozenset[str] = frozenset()
    json: Any = None
    form: dict[str, str] | None = None


def api(path: str, allowed: frozenset[str] | set[str], json: Any = None) -> Row:
    return Row(path, "api", frozenset(allowed), json=json)


def page(path: str, allowed: frozenset[str] | set[str], form: dict[str, str] | None = None) -> Row:
    return Row(path, "page", frozenset(allowed), form=form)


def public(path: str) -> Row:
    return Row(path, "public")


SUPERVISING = {"supervisor", "admin"}
DECIDING = {"dispatcher", "supervisor", "admin"}
