"""Live domain events for desks and boards: ``GET /api/events``, Server-Sent Events.

The events (``transcript.*``, ``call.*``, ``agent.*``, ``ticket.*`` …) are read from the Redis
stream through the store, filtered by type prefix, operator and call; ``Last-Event-ID`` (or
``after``) resumes after a dropped connection without losing or repeating any.
"""

from __future__ import annotations

import json

from aiohttp import web

from ..errors import HotlineError
from ..keys import STORE
from ..roles import HOTLINE_ROLES
from .openapi import Op, Param
from .web import actor, require

KEEPALIVE_MS = 15_000


class EventsInvalid(HotlineError):
    error_id = "events-invalid"
    status = 422


class EventsUnavailable(HotlineError):
    error_id = "events-unavailable"
    status = 503


def wanted(kind: str, data: str, types: list[str], operator: str, call: str) -> bool:
    if types and not kind.startswith(tuple(types)):
        return False
    if not operator and not call:
        return True
    fields = json.loads(data or "{}")
    if operator and fields.get("operator_id") != operator:
        return False
    return not call or fields.get("call_id") == call


async def events(request: web.Request) -> web.StreamResponse:
    require(await actor(request), HOTLINE_ROLES)
    types = [x for x in request.query.get("types", "").split(",") if x]
    operator = request.query.get("operator", "")
    call = request.query.get("call", "")
    last = request.headers.get("Last-Event-ID") or request.query.get("after") or "$"
    if last != "$" and not all(p.isdigit() for p in last.split("-", 1)):
        raise EventsInvalid("Last-Event-ID is a Redis stream id like 1700000000000-0")
    store = request.app[STORE]
    if last == "$":  # start from now, but remember where "now" is for resuming
        try:
            last = await store.events_head()
        except Exception as exc:
            raise EventsUnavailable(f"the event stream is unavailable: {exc}") from None
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    try:
        await resp.write(b": connected\n\n")
        while True:
            try:
                batch = await store.read_events(last, count=200, block_ms=KEEPALIVE_MS)
            except Exception as exc:  # Redis went away: say so; the desk resumes with its id
                await resp.write(f"event: error\ndata: {json.dumps(str(exc))}\n\n".encode())
                break
            if not batch:
                await resp.write(b": keep-alive\n\n")
            for last, kind, data in batch:
                if wanted(kind, data, types, operator, call):
                    await resp.write(f"id: {last}\nevent: {kind}\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the desk went away
    return resp


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
        ),
    ]
