"""The department portal (``/portal``): the inbox of dispatched tickets in deadline order,
one ticket with its history, rating and attachments and the workflow's actions, and the
department's scorecard against the city's.

The pages show what the server says. Actions go through the ticket API
(``POST /api/tickets/{number}/actions``, files to ``/api/tickets/{number}/attachments``)
from ``portal.js``; a refusal of the workflow (the first-responder rule, a wrong status) is
shown as the server worded it, and the page then reloads the ticket from the server. The
inbox refreshes itself every 30 seconds (htmx), announced politely to screen readers.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp_jinja2
from aiohttp import web

from ..errors import Forbidden
from ..keys import PORTAL, SETTINGS
from ..roles import Role
from ..web.access import add, roles
from ..web.common import actor
from . import i18n
from .pages import locale_of

PAGE = roles(Role.DEPARTMENT, page=True)
DEPARTMENT = roles(Role.DEPARTMENT)
JS_MESSAGES = (
    "portal_done",
    "portal_refused",
    "portal_uploading",
    "portal_connection_live",
    "portal_connection_lost",
    "error",
)


def _dept(request: web.Request) -> int:
    who = actor(request)
    if who.department_id is None:
        raise Forbidden("this account belongs to no department")
    return who.department_id


async def portal_page(request: web.Request) -> web.Response:
    dept = _dept(request)
    services = request.app[PORTAL]
    portal = services.portal
    card = await services.scorecards.card(await portal.subtree(dept), portal.tickets.clock())
    return aiohttp_jinja2.render_template(
        "portal.html",
        request,
        {
            **await _inbox_context(request, dept),
            "card": card,
            "config": _config(request),
        },
    )


async def inbox_fragment(request: web.Request) -> web.Response:
    context = await _inbox_context(request, _dept(request))
    return aiohttp_jinja2.render_template("portal_inbox.html", request, context)


async def _inbox_context(request: web.Request, dept: int) -> dict[str, Any]:
    portal = request.app[PORTAL].portal
    names = {d: row["name"] for d, row in (await portal.departments()).items()}
    rows = await portal.inbox(dept)
    counts = {b: sum(r["band"] == b for r in rows) for b in ("overdue", "soon", "ok", "done")}
    return {"rows": rows, "names": names, "dept_name": names.get(dept, ""), "counts": counts}


async def ticket_page(request: web.Request) -> web.Response:
    who = actor(request)
    _dept(request)
    portal = request.app[PORTAL].portal
    ticket = await portal.ticket(who, request.match_info["number"])
    names = {d: row["name"] for d, row in (await portal.departments()).items()}
    ratings = ticket["records"]["ratings"]
    return aiohttp_jinja2.render_template(
        "portal_ticket.html",
        request,
        {
            "tk": ticket,
            "names": names,
            "mine": ticket["handler_id"] == who.department_id,
            "rating": ratings[-1] if ratings else None,
            "max_mb": round(request.app[PORTAL].attachments.rules.max_bytes / 1_048_576, 1),
            "types": sorted(request.app[PORTAL].attachments.rules.types),
            "config": _config(request),
        },
    )


def _config(request: web.Request) -> str:
    locale = locale_of(request)
    return json.dumps(
        {"messages": {k: i18n.text(locale, k) for k in JS_MESSAGES}}, ensure_ascii=False
    )


def local_time(tz: ZoneInfo) -> Any:
    """A Jinja filter: an ISO time (stored in UTC) as the office's wall clock reads it."""

    def fmt(value: object) -> str:
        if not value:
            return "—"
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")

    return fmt


def add_portal(app: web.Application) -> None:
    env = aiohttp_jinja2.get_env(app)
    env.filters["portal_time"] = local_time(ZoneInfo(app[SETTINGS].timezone))
    add(app, "GET", "/portal", portal_page, PAGE)
    add(app, "GET", "/portal/inbox", inbox_fragment, DEPARTMENT)
    add(app, "GET", "/portal/tickets/{number}", ticket_page, PAGE)
