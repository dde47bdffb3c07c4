"""The wallboard (``/wallboard``): the office's big screen, for the hotline centre's
dispatchers, supervisors and admins (a screen in the room signed in with one of their
accounts). No interaction: the page loads, then asks for :func:`snapshot` every few seconds
and sooner when the event stream says a call was queued, answered or lost.

The day's figures come from SQL (:mod:`.wallboard_reads`, cached for every screen at once);
the callers waiting now come from the queue's own state in Redis at each request.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..keys import SETTINGS, STORE, TICKETS
from ..metrics.figures import Counts, figures
from ..roles import DECIDING_ROLES
from ..web.access import add, roles
from ..web.common import json_response
from . import i18n
from .pages import locale_of
from .wallboard_reads import WallboardReads

WALLBOARD: web.AppKey[WallboardReads] = web.AppKey("wallboard_reads", WallboardReads)
WATCHERS = roles(DECIDING_ROLES)
POLL_S = 5
SHOWN = ("answer_rate", "answered_in_threshold_share", "service_level")
JS_MESSAGES = (
    "connection_live",
    "connection_lost",
    "wb_stale",
    "wb_updated",
    "wb_today_series",
    "wb_usual_series",
    "wb_no_usual",
    "wb_no_topics",
    "wb_no_words",
    "wb_no_surge",
    "wb_surge_calls",
    "wb_surge_topic",
    "wb_surge_new",
    "wb_ratio",
    "wb_seconds",
    "wb_minutes",
    "wb_tickets",
)


async def wallboard_page(request: web.Request) -> web.Response:
    locale = locale_of(request)
    s = request.app[SETTINGS]
    config = {
        "poll_s": POLL_S,
        "locale": locale,
        "timezone": s.timezone,
        "messages": {k: i18n.text(locale, k) for k in JS_MESSAGES},
    }
    return aiohttp_jinja2.render_template(
        "wallboard.html",
        request,
        {
            "config": json.dumps(config, ensure_ascii=False),
            "target": s.service_level_target,
            "figures": _named(locale, s.sla_seconds),
        },
    )


def _named(locale: str, threshold_s: float, counts: Counts | None = None) -> dict[str, Any]:
    """The figures shown, by key: name and formula in the reader's language, and value."""
    zh = locale == "zh-CN"
    return {
        f.key: {
            "key": f.key,
            "name": f.name_zh if zh else f.name_en,
            "formula": f.formula_zh if zh else f.formula_en,
            "value": f.value,
        }
        for f in figures(counts or Counts(), threshold_s)
        if f.key in SHOWN
    }


async def snapshot(request: web.Request) -> web.Response:
    """The day's figures (SQL, cached) and the callers waiting now (Redis)."""
    s = request.app[SETTINGS]
    day = await request.app[WALLBOARD].snapshot()
    tasks = await request.app[STORE].waiting_tasks()
    now = time.time()
    oldest = min((x.enqueued_at for x in tasks if x.enqueued_at), default=None)
    shown = _named(locale_of(request), s.sla_seconds, Counts(**day["counts"]))
    return json_response(
        {
            **day,
            "figures": [shown[k] for k in SHOWN],
            "target": s.service_level_target,
            "threshold_s": s.sla_seconds,
            "waiting": {
                "count": len(tasks),
                "longest_s": round(now - oldest, 1) if oldest else None,
            },
            "timezone": s.timezone,
            "server_time": now,
        },
        headers={"Cache-Control": "no-store"},
    )


async def _reads(app: web.Application) -> None:
    """Built once the ticket engine is up (this runs after every cleanup context's start)."""
    s = app[SETTINGS]
    app[WALLBOARD] = WallboardReads(
        app[TICKETS].tickets.engine,
        timezone=s.timezone,
        threshold_s=s.sla_seconds,
        short_abandon_s=s.short_abandon_seconds,
    )


def add_wallboard(app: web.Application) -> None:
    add(app, "GET", "/wallboard", wallboard_page, roles(DECIDING_ROLES, page=True))
    add(app, "GET", "/wallboard/snapshot", snapshot, WATCHERS)
    app.on_startup.append(_reads)
