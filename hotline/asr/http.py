"""Transcripts for the operator desk: a call's transcript so far, and the live event stream.

``GET /api/events`` is a Server-Sent Events stream of the domain events (``transcript.*``,
``call.*``, ``ticket.*`` …) read from Redis, filtered by type prefix, operator and call;
``Last-Event-ID`` resumes after a dropped connection without losing events.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlalchemy import select

from hotline.agent_desk.openapi import Op, Param
from hotline.agent_desk.web import actor, json_response, require
from hotline.errors import HotlineError
from hotline.keys import STORE
from hotline.tickets import schema as t
from hotline.tickets.exceptions import InvalidInput
from hotline.tickets.http import SERVICES
from hotline.tickets.models import HOTLINE_ROLES

from .tap import LiveTranscriber

TRANSCRIBER = web.AppKey("transcriber", LiveTranscriber)
KEEPALIVE_MS = 15_000


class TranscriptNotFound(HotlineError):
    error_id = "transcript-not-found"
    status = 404


class EventsUnavailable(HotlineError):
    error_id = "events-unavailable"
    status = 503


async def call_transcript(request: web.Request) -> web.Response:
    require(await actor(request), HOTLINE_ROLES)
    call_id = request.match_info["call_id"]
    if len(call_id) > 64:
        raise InvalidInput("a call id is at most 64 characters")
    live = request.app.get(TRANSCRIBER)
    tap = live.calls.get(call_id) if live is not None else None
    if tap is not None:
        segs = json.loads(tap.transcript.to_json())
        return json_response(
            {"call_id": call_id, "status": "live", "segments": segs, "draft": None}
        )
    async with request.app[SERVICES].store.engine.connect() as conn:
        row = (
            await conn.execute(
                select(t.calls.c.transcript, t.calls.c.transcript_status, t.calls.c.draft).where(
                    t.calls.c.call_id == call_id
                )
            )
        ).first()
    if row is None:
        raise TranscriptNotFound("no such call", call_id=call_id)
    return json_response(
        {
            "call_id": call_id,
            "status": row.transcript_status or "none",
            "segments": json.loads(row.transcript) if row.transcript else [],
            "draft": json.loads(row.draft) if row.draft else None,
        }
    )


def _wanted(fields: dict[bytes, bytes], types: list[str], operator: str, call: str) -> bool:
    kind = fields.get(b"type", b"").decode()
    if types and not kind.startswith(tuple(types)):
        return False
    if not operator and not call:
        return True
    data = json.loads(fields.get(b"data", b"{}"))
    if operator and data.get("operator_id") != operator:
        return False
    return not call or data.get("call_id") == call


async def events(request: web.Request) -> web.StreamResponse:
    require(await actor(request), HOTLINE_ROLES)
    types = [x for x in request.query.get("types", "").split(",") if x]
    operator = request.query.get("operator", "")
    call = request.query.get("call", "")
    last = request.headers.get("Last-Event-ID") or request.query.get("after") or "$"
    if last != "$" and not all(p.isdigit() for p in last.split("-", 1)):
        raise InvalidInput("Last-Event-ID is a Redis stream id like 1700000000000-0")
    store = request.app[STORE]
    try:
        if last == "$":  # start from now, but remember where "now" is for resuming
            info: Any = await store.r.xinfo_stream(store.k_events)
            last = info["last-generated-id"].decode() if info else "0-0"
    except Exception as exc:
        if "no such key" not in str(exc).lower():
            raise EventsUnavailable(f"the event stream is unavailable: {exc}") from None
        last = "0-0"
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    try:
        await resp.write(b": connected\n\n")
        await _stream(resp, store, last, types, operator, call)
    except ConnectionResetError:
        pass  # the desk went away
    return resp


async def _stream(
    resp: web.StreamResponse, store: Any, last: str, types: list[str], operator: str, call: str
) -> None:
    while True:
        try:
            batch = await store.r.xread({store.k_events: last}, count=200, block=KEEPALIVE_MS)
        except Exception as exc:  # Redis went away: say so; the desk reconnects with its id
            await resp.write(f"event: error\ndata: {json.dumps(str(exc))}\n\n".encode())
            return
        if not batch:
            await resp.write(b": keep-alive\n\n")
            continue
        for entry_id, fields in batch[0][1]:
            last = entry_id.decode()
            if _wanted(fields, types, operator, call):
                kind = fields[b"type"].decode()
                data = fields.get(b"data", b"{}").decode()
                await resp.write(f"id: {last}\nevent: {kind}\ndata: {data}\n\n".encode())


def ops() -> list[Op]:
    return [
        Op(
            "GET",
            "/api/calls/{call_id}/transcript",
            call_transcript,
            "A call's transcript (live while it lasts) and its ticket draft",
            "calls",
            params=(Param("call_id", "path", required=True),),
        ),
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
