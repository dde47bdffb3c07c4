"""Builds the web desk's parts: routes and pages at construction, then (once Redis, the
tickets and speech are up) the session store, the sign-in limiter, the event hub and the
panel that pops on an operator's desk when their seat rings."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from ..config import Settings
from ..keys import HOOKS, PANELS, REDIS, STORE, TICKETS
from ..web.access import ACTIVE, SESSIONS, ActiveCache
from ..web.sessions import LoginLimiter, SessionStore, Throttle
from .board import add_board
from .desk import add_desk
from .events import HUB
from .hub import EventHub
from .pages import LIMITER, add_pages
from .panels import PanelStore, make_panel
from .portal import add_portal
from .wallboard import add_wallboard

log = logging.getLogger(__name__)
Ctx = Callable[[web.Application], AsyncIterator[None]]


def routes(app: web.Application) -> None:
    add_pages(app)
    add_desk(app)
    add_board(app)
    add_wallboard(app)
    add_portal(app)
    app.on_shutdown.append(_end_streams)


async def _end_streams(app: web.Application) -> None:
    """A stopping server ends its event streams at once (the tabs reconnect to another
    instance with their last ids) instead of holding the stop until a keep-alive."""
    hub = app.get(HUB)
    if hub is not None:
        await hub.stop()


def desk(settings: Settings) -> Ctx:
    async def desk_ctx(app: web.Application) -> AsyncIterator[None]:
        redis, prefix = app[REDIS], settings.redis_prefix
        app[SESSIONS] = SessionStore(
            redis, prefix, idle_s=settings.session_idle_s, absolute_s=settings.session_absolute_s
        )
        app[LIMITER] = LoginLimiter(
            redis,
            prefix,
            Throttle(
                settings.login_window_s,
                settings.login_max_failures_account,
                settings.login_max_failures_address,
            ),
        )
        app[ACTIVE] = ActiveCache()
        app[PANELS] = PanelStore(redis, prefix)
        app[HUB] = EventHub(app[STORE])
        app[HOOKS].on_ringing = ringing(app, settings)
        yield
        await app[HUB].stop()

    return desk_ctx


def ringing(app: web.Application, settings: Settings) -> Callable[[Any], Awaitable[None]]:
    """On each ring: the caller's tickets and what they said while waiting, kept as the
    call's panel and sent to the seat as ``desk.offer``. A dead database costs the history,
    never the pop."""

    async def on_ringing(ring: Any) -> None:
        t0 = time.perf_counter()
        store = app[STORE]
        history: list[dict[str, Any]] = []
        services = app.get(TICKETS)
        if services is not None and ring.caller:
            try:
                history = await services.tickets.caller_history(ring.caller, limit=10)
            except Exception as exc:
                log.warning("call %s: caller history unavailable: %r", ring.call_id, exc)
        try:
            progress = await store.live_call(ring.call_id)
            resume = await store.events_head()
            panel = make_panel(
                ring,
                history,
                progress,
                repeat_days=settings.repeat_window_days,
                resume_from=resume,
            )
            await app[PANELS].save(panel)
            await store.publish("desk.offer", ring.at, **panel)
        except Exception as exc:  # Redis away: the seat still rings; the page catches up
            log.warning("call %s: no desk panel for %s: %r", ring.call_id, ring.operator_id, exc)
            return
        took = (time.perf_counter() - t0) * 1000
        log.debug("call %s: panel for %s in %.1f ms", ring.call_id, ring.operator_id, took)

    return on_ringing
