"""Who may act: the hotline's roles and the actor a request acts as.

A contract shared by the web layer (authentication, role checks per route) and the domains
that decide what each role may do (the ticket workflow); it imports nothing of either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"  # 话务员: takes calls, answers, dispatches, calls back
    DISPATCHER = "dispatcher"  # hotline centre staff: re-dispatch, review, extensions
    SUPERVISOR = "supervisor"  # 班长/督办: everything a dispatcher does, plus supervision
    DEPARTMENT = "department"  # 承办单位 staff
    ADMIN = "admin"
    SYSTEM = "system"  # the IVR survey and the external ticket store


HOTLINE_ROLES = frozenset({Role.OPERATOR, Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})
DECIDING_ROLES = frozenset({Role.DISPATCHER, Role.SUPERVISOR, Role.ADMIN})


@dataclass(frozen=True)
class Actor:
    """Who acts: a user id, their role and (for department staff) their department."""

    user_id: int | None
    role: Role
    department_id: int | None = None
    name: str = ""
    username: str = ""  # an operator's username is their seat id
