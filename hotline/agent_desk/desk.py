"""The operator desk (``/desk``): the page, its snapshot of the seat and its call, knowledge-
base articles opened in place, and call controls.

The page shows what the server says: it loads :func:`snapshot` (the seat's state, its call's
panel, and the event id to read on from), then follows the seat's event stream. A reload in
the middle of a call reads the stream again from when the seat was rung, so the transcript
and draft come back as the server saw them.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..errors import HotlineError
from ..keys import CONTROLLER, PANELS, SETTINGS, STORE, TICKETS
from ..queue.models import OperatorState
from ..roles import Role
from ..web.access import add, roles
from ..web.common import actor, json_response, read_body
from . import i18n
from .events import HUB
from .pages import locale_of
from .panels import for_role

LIVE_STATES = (OperatorState.RESERVED, OperatorState.ON_CALL, OperatorState.WRAP_UP)
OPERATORS = roles(Role.OPERATOR)
NOT_READY_REASONS = ("meal", "rest", "training", "meeting")
SHORTCUTS = (  # key, message
    ("Alt+R", "shortcut_ready"),
    ("Alt+N", "shortcut_not_ready"),
    ("Alt+A", "shortcut_answer"),
    ("Alt+D", "shortcut_dispatch"),
    ("Alt+F", "shortcut_draft"),
    ("?", "shortcut_help"),
)
KINDS = ("consultation", "help", "complaint", "report", "suggestion", "praise", "other")
JS_MESSAGES = (
    "state_ready",
    "state_not_ready",
    "state_wrap_up",
    "state_on_call",
    "state_reserved",
    "state_logged_out",
    "incoming",
    "in_call",
    "caller_side",
    "operator_side",
    "no_history",
    "repeat_caller",
    "no_kb",
    "connection_live",
    "connection_lost",
    "ticket_created",
    "error",
    "call_ended",
    "caller_hung_up",
    "seconds",
    "minutes",
    "deadline",
    "choose_department",
    "urgent_reasons",
    "resume",
    "hold",
)


class NoSeat(HotlineError):
    error_id = "no-seat"
    status = 404


class ControlInvalid(HotlineError):
    error_id = "control-invalid"
    status = 422


class ControlBody(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    action: str = Field(pattern=r"^(hold|resume|transfer|conference|hangup)$")
    target: str = Field(default="", max_length=40, pattern=r"^[0-9*#+]*$")


async def desk_page(request: web.Request) -> web.Response:
    who = actor(request)
    locale = locale_of(request)
    seat = await request.app[STORE].get_operator(who.username)
    config = {
        "seat": who.username,
        "has_seat": seat is not None,
        "messages": {k: i18n.text(locale, k) for k in JS_MESSAGES},
        "extend_s": request.app[SETTINGS].wrapup_extend_s,
    }
    return aiohttp_jinja2.render_template(
        "desk.html",
        request,
        {
            "seat": seat,
            "reasons": NOT_READY_REASONS,
            "shortcuts": SHORTCUTS,
            "kinds": KINDS,
            "config": json.dumps(config, ensure_ascii=False),
        },
    )


async def snapshot(request: web.Request) -> web.Response:
    """The seat and its call as the server has them, and where to read events on from."""
    who = actor(request)
    store = request.app[STORE]
    # Where to read on from comes first: a ring between the two reads is then replayed.
    resume = request.app[HUB].last or await store.events_head()
    op = await store.get_operator(who.username)
    if op is None:
        raise NoSeat("no seat is configured for this account", seat=who.username)
    now = time.time()
    call = None
    call_id = await request.app[PANELS].current(op.id)
    live = op.state in (OperatorState.RESERVED, OperatorState.ON_CALL)
    if call_id and op.state in LIVE_STATES and (not live or call_id == op.call_id):
        panel = await request.app[PANELS].get(call_id)
        if panel is not None:
            phase = {"reserved": "ringing", "on_call": "talking"}.get(op.state.value, "ended")
            call = {"phase": phase, "panel": for_role(panel, who.role)}
            replay = panel.get("resume_from")
            # the call's events are read again, unless the stream has trimmed them already
            if replay and not await store.events_lost(replay):
                resume = replay
    until = await store.wrapup_until(op.id) if op.state is OperatorState.WRAP_UP else 0.0
    calls = op.calls_today
    return json_response(
        {
            "seat": {
                "id": op.id,
                "state": op.state.value,
                "reason": op.reason,
                "since": op.state_since,
                "wrapup_until": until or None,
                "calls_today": calls,
                "avg_talk_s": round(op.talk_seconds / calls, 1) if calls else None,
            },
            "call": call,
            "resume_from": resume,
            "server_time": now,
        }
    )


async def kb_article(request: web.Request) -> web.Response:
    """One knowledge-base article as a fragment, opened in place in the panel (htmx)."""
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ControlInvalid("article id must be a number")
    article = await request.app[TICKETS].kb.get(int(raw))
    return aiohttp_jinja2.render_template("kb_article.html", request, {"article": article})


async def control(request: web.Request) -> web.Response:
    """Hold, resume, transfer, three-way or hang up the operator's own call."""
    who = actor(request)
    call_id = request.match_info["call_id"]
    body = await read_body(request, ControlBody, invalid=ControlInvalid)
    if body.action in ("transfer", "conference") and not body.target:
        raise ControlInvalid(f"{body.action} needs a number to call", action=body.action)
    result: Any = await request.app[CONTROLLER].desk_control(
        call_id, who.username, body.action, body.target
    )
    return json_response({"call_id": call_id, "action": body.action, "result": result})


def add_desk(app: web.Application) -> None:
    add(app, "GET", "/desk", desk_page, roles(Role.OPERATOR, page=True))
    add(app, "GET", "/desk/snapshot", snapshot, OPERATORS)
    add(app, "GET", "/desk/kb/{id}", kb_article, OPERATORS)
    add(app, "POST", "/desk/calls/{call_id}/control", control, OPERATORS)
