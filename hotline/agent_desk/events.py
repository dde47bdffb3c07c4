"""Live domain events for desks and boards: ``GET /api/events``, Server-Sent Events.

The events (``transcript.*``, ``call.*``, ``agent.*``, ``ticket.*`` …) are read from the Redis
stream through the store, filtered by type prefix, operator and call; ``Last-Event-ID`` (or
``after``) resumes after a dropped connection without losing or repeating any.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..errors import HotlineError
from ..keys import STORE
from ..roles import HOTLINE_ROLES, Role
from ..web.access import ACTIVE, COOKIE, SESSIONS, ActiveCache, roles
from ..web.common import AUTH, SESSION, actor
from ..web.openapi import Op, Param
from .hub import EventFilter, EventHub, Subscriber, parse, stream_id

KEEPALIVE_MS = 15_000


class EventsInvalid(HotlineError):
    error_id = "events-invalid"
    status = 422


class EventsUnavailable(HotlineError):
    error_id = "events-unavailable"
    status = 503


HUB: web.AppKey[EventHub] = web.AppKey("event_hub", EventHub)


def _parse(request: web.Request) -> tuple[EventFilter, str]:
    who = actor(request)
    operator = request.query.get("operator", "")
    if who.role is Role.OPERATOR:
        operator = who.username  # an operator reads their own seat's events only
    flt = EventFilter(
        tuple(x for x in request.query.get("types", "").split(",") if x)[:20],
        operator[:64],
        request.query.get("call", "")[:64],
    )
    last = request.headers.get("Last-Event-ID") or request.query.get("after") or "$"
    if last != "$" and not re.fullmatch(r"\d{1,20}-\d{1,20}", last):
        raise EventsInvalid("Last-Event-ID is a Redis stream id like 1700000000000-0")
    return flt, last


async def events(request: web.Request) -> web.StreamResponse:
    """Subscribe to the hub first, then send what the tab missed (from Redis, after its last
    id), then the hub's events after that: nothing lost, nothing twice."""
    flt, last = _parse(request)
    store = request.app[STORE]
    hub = request.app[HUB]
    try:
        sub = await hub.subscribe(flt)
    except Exception as exc:
        raise EventsUnavailable(f"the event stream is unavailable: {exc}") from None
    start = hub.last  # the subscriber gets every event after this one
    try:
        return await _serve(request, store, sub, last, start)
    finally:
        hub.unsubscribe(sub)


async def _serve(
    request: web.Request, store: Any, sub: Subscriber, last: str, start: str
) -> web.StreamResponse:
    flt = sub.flt
    try:
        lost = last != "$" and await store.events_lost(last)
        if flt.operator:  # the seat's current call, from the server's own state
            op = await store.get_operator(flt.operator)
            if op is not None and op.call_id:
                flt.follow(op.call_id)
    except Exception as exc:
        raise EventsUnavailable(f"the event stream is unavailable: {exc}") from None
    resp = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    await resp.prepare(request)
    try:
        await resp.write(b": connected\n\nretry: 2000\n\n")
        if lost:  # older than the stream keeps: the page reloads its snapshot
            await resp.write(b"event: reset\ndata: {}\n\n")
            last = "$"
        if last == "$":  # an id without data: the tab resumes from here after a drop
            last = start
            await resp.write(f"id: {last}\n\n".encode())
        else:
            last = await _backlog(resp, store, flt, last)
        await _live(resp, sub, last, request.app[HUB], _validator(request))
    except ConnectionResetError:
        pass  # the tab went away
    return resp


async def _backlog(resp: web.StreamResponse, store: Any, flt: EventFilter, last: str) -> str:
    while True:
        batch = await store.read_events(last, count=500, block_ms=None)
        if not batch:
            return last
        out = []
        for last, kind, data in batch:
            if flt.accepts(kind, parse(data)):
                out.append(_frame(last, kind, data))
        if out:
            await resp.write("".join(out).encode())


async def _live(
    resp: web.StreamResponse,
    sub: Subscriber,
    last: str,
    hub: EventHub,
    still_valid: Callable[[], Awaitable[bool]],
) -> None:
    after = stream_id(last)
    while True:
        try:
            item = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_MS / 1000)
        except TimeoutError:
            if not await still_valid():  # signed out, timed out or disabled meanwhile
                await resp.write(b"event: signed-out\ndata: {}\n\n")
                return
            # Nothing is waiting for this tab, so every event up to the hub's position has
            # been seen: say so, and a quiet tab resumes from here, not from long ago.
            mark = f"id: {hub.last}\n" if sub.queue.empty() and hub.last else ""
            await resp.write(f": keep-alive\n{mark}\n".encode())
            continue
        if item is None:  # cut off (too slow, or Redis away): the tab resumes with its id
            await resp.write(b"event: error\ndata: \"resume\"\n\n")
            return
        out = [] if stream_id(item[0]) <= after else [_frame(*item)]
        while not sub.queue.empty() and len(out) < 200:
            more = sub.queue.get_nowait()
            if more is None:
                sub.queue.put_nowait(None)
                break
            if stream_id(more[0]) > after:
                out.append(_frame(*more))
        if out:
            await resp.write("".join(out).encode())


def _validator(request: web.Request) -> Callable[[], Awaitable[bool]]:
    """Whether the tab's session still stands (checked at each keep-alive; a bearer
    token's program is not signed out this way)."""
    session = request.get(SESSION)
    sid = request.cookies.get(COOKIE, "")
    cache = request.app.get(ACTIVE) or ActiveCache()

    async def valid() -> bool:
        if session is None:
            return True
        if not await request.app[SESSIONS].alive(sid):
            return False
        return await cache.valid(request.app[AUTH], session.actor.user_id, session.created)

    return valid


def _frame(ident: str, kind: str, data: str) -> str:
    return f"id: {ident}\nevent: {kind}\ndata: {data}\n\n"


def ops() -> list[Op]:
    return [
        Op(
            "GET",
            "/api/events",
            events,
            "Live domain events as Server-Sent Events (transcript.*, call.*, ticket.*)",
            "calls",
            params=(
                Param("types", description="comma-separated type prefixes, e.g. transcript."),
                Param("operator", description="only events of this operator's calls"),
                Param("call", description="only events of this call"),
                Param("Last-Event-ID", "header", description="resume after this event"),
            ),
            access=roles(HOTLINE_ROLES),
        ),
    ]
