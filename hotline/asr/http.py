"""Transcripts for the operator desk: a call's transcript so far (live while the call lasts,
then the stored one) and its ticket draft. Live events reach desks through ``/api/events``
(``agent_desk/events.py``)."""

from __future__ import annotations

import json

from aiohttp import web
from sqlalchemy import select

from hotline.errors import HotlineError
from hotline.keys import TICKETS as SERVICES
from hotline.keys import TRANSCRIBER
from hotline.roles import HOTLINE_ROLES
from hotline.tickets import schema as t
from hotline.tickets.exceptions import InvalidInput
from hotline.web.access import roles
from hotline.web.common import json_response
from hotline.web.openapi import Op, Param


class TranscriptNotFound(HotlineError):
    error_id = "transcript-not-found"
    status = 404


async def call_transcript(request: web.Request) -> web.Response:
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
    async with request.app[SERVICES].tickets.engine.connect() as conn:
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


def ops() -> list[Op]:
    return [
        Op(
            "GET",
            "/api/calls/{call_id}/transcript",
            call_transcript,
            "A call's transcript (live while it lasts) and its ticket draft",
            "calls",
            params=(Param("call_id", "path", required=True),),
            access=roles(HOTLINE_ROLES),
        ),
    ]
