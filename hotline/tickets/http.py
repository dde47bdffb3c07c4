"""The ticket REST API: tickets, actions, history, departments, knowledge base, sync webhook.

Every route but the webhook needs a signed-in user (``Authorization: Bearer <token>`` or a
desk session); each route's roles are declared with it in :func:`api`. Department staff see
and act on only the tickets their department handles (or co-handles, or passed down).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from hotline.keys import PANELS, STORE, TICKETS
from hotline.tickets import schema as t
from hotline.tickets import schemas as sc
from hotline.tickets.exceptions import Forbidden, InvalidInput, TicketError, TicketNotFound
from hotline.tickets.kb import KbInvalid
from hotline.tickets.models import (
    DECIDING_ROLES,
    HOTLINE_ROLES,
    Actor,
    Kind,
    NewTicket,
    Role,
    Urgency,
)
from hotline.tickets.portal import may_see
from hotline.tickets.services import TicketServices
from hotline.tickets.sync import SIGNATURE, TIMESTAMP, verify_signature
from hotline.web.access import EVERYONE, SIGNED, roles
from hotline.web.common import AUTH, json_response, read_body
from hotline.web.common import actor as web_actor
from hotline.web.openapi import Api, Op, Param

log = logging.getLogger(__name__)
CALL_RECORD_TRIES = 4  # × 0.25 s for a just-ended call's record
ANYONE = roles(EVERYONE)  # any signed-in user; departments see only their own tickets
M = TypeVar("M", bound=BaseModel)


SERVICES = TICKETS


def install(app: web.Application, services: TicketServices) -> None:
    """The ticket services on the app; their directory authenticates every route."""
    app[SERVICES] = services
    app[AUTH] = services.directory


def _int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer") from None
    return max(lo, min(hi, value))


def _number(request: web.Request) -> str:
    number = request.match_info["number"]
    if not (len(number) == 13 and number.isdigit()):
        raise InvalidInput("a ticket number is 13 digits", number=number[:40])
    return number


async def _may_see(request: web.Request, actor: Actor, ticket: dict[str, Any]) -> None:
    """Department staff see the tickets their department or a unit below it handles (or
    co-handles, or passed down): the portal's rule, for the API too."""
    if actor.role is not Role.DEPARTMENT:
        return
    if not may_see(actor, ticket, await request.app[SERVICES].directory.tree()):
        # as a missing one: walking numbers tells a department nothing
        raise TicketNotFound("no such ticket", number=ticket["number"])


# -- tickets -----------------------------------------------------------------------------------


async def create_ticket(request: web.Request) -> web.Response:
    actor = web_actor(request)
    body = await read_body(request, sc.NewTicketBody, invalid=InvalidInput)
    ticket = await request.app[SERVICES].tickets.create(NewTicket(**body.model_dump()), actor)
    return json_response(ticket, status=201)


async def ticket_for_call(request: web.Request) -> web.Response:
    """Open a ticket for a call (the caller's number from the call's own record, not from
    the page), then answer it on the call or dispatch it: one request from the desk."""
    actor = web_actor(request)
    call_id = request.match_info["call_id"]
    if not 0 < len(call_id) <= 64:
        raise InvalidInput("a call id is 1-64 characters")
    body = await read_body(request, sc.CallTicketBody, invalid=InvalidInput)
    caller, operator_id = await _call_facts(request, call_id)
    if actor.role is Role.OPERATOR and operator_id != actor.username:
        raise Forbidden("an operator opens tickets for the calls they answered", call_id=call_id)
    fields = body.model_dump(exclude={"then"})
    new = NewTicket(**fields, caller_phone=caller or None, call_id=call_id)
    tickets = request.app[SERVICES].tickets
    ticket = await tickets.create(new, actor)
    try:
        ticket = await tickets.act(ticket["number"], body.then.to_action(), actor)
    except TicketError as exc:  # the ticket stays (accepted); the desk can act on it again
        exc.details["number"] = ticket["number"]
        raise
    return json_response(ticket, status=201)


async def _call_facts(request: web.Request, call_id: str) -> tuple[str, str]:
    """The call's caller and operator: from its live record while it lasts, then from its
    SQL record (written just after it ends, so a ticket filed in wrap-up waits a moment)."""
    progress = await request.app[STORE].live_call(call_id)
    if progress.get("caller"):
        return progress["caller"], progress.get("operator_id", "")
    panels = request.app.get(PANELS)  # a rung call's panel outlives the call by hours
    panel = await panels.get(call_id) if panels is not None else None
    if panel is not None and panel.get("caller"):
        return str(panel["caller"]), str(panel.get("operator", ""))
    engine = request.app[SERVICES].tickets.engine
    for _ in range(CALL_RECORD_TRIES):
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(t.calls.c.caller, t.calls.c.operator_id).where(
                        t.calls.c.call_id == call_id
                    )
                )
            ).first()
        if row is not None:
            return row.caller or "", row.operator_id or ""
        await asyncio.sleep(0.25)
    raise TicketNotFound("no such call", call_id=call_id)


async def list_tickets(request: web.Request) -> web.Response:
    actor = web_actor(request)
    q = request.query
    handler = int(q["handler"]) if q.get("handler", "").isdigit() else None
    if actor.role is Role.DEPARTMENT:
        handler = actor.department_id
    since = None
    if q.get("since"):
        try:
            since = datetime.fromisoformat(q["since"])
        except ValueError:
            raise InvalidInput("since must be an ISO date-time with an offset") from None
        if since.tzinfo is None:
            raise InvalidInput("since must carry a UTC offset")
    rows = await request.app[SERVICES].tickets.search(
        status=[s for s in q.get("status", "").split(",") if s],
        handler_id=handler,
        kind=q.get("kind") or None,
        category=q.get("category") or None,
        since=since,
        limit=_int(request, "limit", 50, 1, 500),
        offset=_int(request, "offset", 0, 0, 1_000_000),
    )
    return json_response({"tickets": rows})


async def get_ticket(request: web.Request) -> web.Response:
    actor = web_actor(request)
    store = request.app[SERVICES].tickets
    ticket = await store.get(_number(request))
    await _may_see(request, actor, ticket)
    ticket["records"] = await store.records(ticket["number"])
    return json_response(ticket)


async def ticket_history(request: web.Request) -> web.Response:
    actor = web_actor(request)
    store = request.app[SERVICES].tickets
    ticket = await store.get(_number(request))
    await _may_see(request, actor, ticket)
    return json_response({"history": await store.history(ticket["number"])})


async def act_on_ticket(request: web.Request) -> web.Response:
    actor = web_actor(request)
    number = _number(request)
    body = await read_body(request, sc.ACTION_ADAPTER, invalid=InvalidInput)
    expected = None
    if_match = request.headers.get("If-Match", "").strip('" ')
    if if_match:
        if not if_match.isdigit():
            raise InvalidInput("If-Match must be the ticket version")
        expected = int(if_match)
    ticket = await request.app[SERVICES].tickets.act(
        number, body.to_action(), actor, expected_version=expected
    )
    return json_response(ticket, headers={"ETag": f'"{ticket["version"]}"'})


async def merge_ticket(request: web.Request) -> web.Response:
    actor = web_actor(request)
    body = await read_body(request, sc.MergeBody, invalid=InvalidInput)
    return json_response(
        await request.app[SERVICES].tickets.merge(_number(request), body.into, actor)
    )


async def add_follow_up(request: web.Request) -> web.Response:
    actor = web_actor(request)
    body = await read_body(request, sc.FollowUpBody, invalid=InvalidInput)
    attempt = await request.app[SERVICES].tickets.add_follow_up(
        _number(request), body.outcome, actor, note=body.note, channel=body.channel
    )
    return json_response({"attempt": attempt}, status=201)


async def overdue(request: web.Request) -> web.Response:
    actor = web_actor(request)
    dept = actor.department_id if actor.role is Role.DEPARTMENT else None
    if dept is None and request.query.get("department", "").isdigit():
        dept = int(request.query["department"])
    rows = await request.app[SERVICES].tickets.overdue(
        limit=_int(request, "limit", 50, 1, 500),
        after=request.query.get("after") or None,
        department_id=dept,
    )
    return json_response({"tickets": rows, "next": rows[-1]["number"] if rows else None})


async def deadline_preview(request: web.Request) -> web.Response:
    try:
        kind = Kind(request.query.get("kind", "consultation"))
        urgency = Urgency(request.query.get("urgency", "normal"))
    except ValueError:
        raise InvalidInput("kind or urgency is not one the tickets know") from None
    return json_response(await request.app[SERVICES].tickets.preview_deadlines(kind, urgency))


async def caller_history(request: web.Request) -> web.Response:
    rows = await request.app[SERVICES].tickets.caller_history(
        request.match_info["phone"], limit=_int(request, "limit", 20, 1, 200)
    )
    return json_response({"tickets": rows})


async def get_emergency(request: web.Request) -> web.Response:
    on = await request.app[SERVICES].directory.flag("emergency", False)
    return json_response({"on": bool(on)})


async def set_emergency(request: web.Request) -> web.Response:
    actor = web_actor(request)
    body = await read_body(request, sc.FlagBody, invalid=InvalidInput)
    await request.app[SERVICES].directory.set_flag("emergency", body.on, actor)
    log.warning("emergency deadline mode %s by user %s", "ON" if body.on else "off", actor.user_id)
    return json_response({"on": body.on})


# -- departments -------------------------------------------------------------------------------


async def list_departments(request: web.Request) -> web.Response:
    return json_response({"departments": await request.app[SERVICES].directory.departments()})


async def add_department(request: web.Request) -> web.Response:
    body = await read_body(request, sc.DepartmentBody, invalid=InvalidInput)
    dept = await request.app[SERVICES].directory.add_department(body.code, body.name, body.parent)
    return json_response(dept, status=201)


# -- knowledge base ----------------------------------------------------------------------------


async def kb_search(request: web.Request) -> web.Response:
    query = request.query.get("q", "")[:500]
    hits = await request.app[SERVICES].kb.search(query, limit=_int(request, "limit", 10, 1, 50))
    return json_response({"articles": hits})


async def kb_get(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    if not raw.isdigit():
        raise KbInvalid("article id must be a number")
    return json_response(await request.app[SERVICES].kb.get(int(raw)))


async def kb_add(request: web.Request) -> web.Response:
    body = await read_body(request, sc.ArticleBody, invalid=KbInvalid)
    article_id, changed = await request.app[SERVICES].kb.upsert(
        body.title, body.body, source=body.source, category=body.category
    )
    return json_response({"id": article_id, "changed": changed}, status=201)


async def kb_suggest(request: web.Request) -> web.Response:
    body = await read_body(request, sc.SuggestBody, invalid=KbInvalid)
    return json_response(
        {"articles": await request.app[SERVICES].kb.suggest(body.text, limit=body.limit)}
    )


# -- sync webhook ------------------------------------------------------------------------------


async def sync_webhook(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    raw = await request.read()
    verify_signature(
        services.sync_secret,
        request.headers.get(TIMESTAMP),
        request.headers.get(SIGNATURE),
        raw,
        time.time(),
    )
    try:
        event = sc.InboundEvent.model_validate_json(raw)
    except ValidationError as e:
        raise InvalidInput("invalid event", errors=[err["msg"] for err in e.errors()]) from None
    done = await services.tickets.apply_inbound(
        event.event_id, event.ticket, event.to_action(), event.department
    )
    if done.duplicate:
        return json_response({"duplicate": True, "outcome": done.outcome})
    return json_response({"applied": True, "version": done.version})


def api() -> Api:
    a = Api(title="hotline tickets API", version="1")
    num = Param("number", "path", required=True, description="13-digit ticket number")
    paging = (Param("limit", type="integer"), Param("offset", type="integer"))
    for op in [
        Op(
            "POST",
            "/api/tickets",
            create_ticket,
            "Open a ticket",
            "tickets",
            sc.NewTicketBody,
            statuses=(201,),
            access=roles(HOTLINE_ROLES, Role.SYSTEM),
        ),
        Op(
            "POST",
            "/api/calls/{call_id}/ticket",
            ticket_for_call,
            "Open a ticket for a call and answer or dispatch it",
            "tickets",
            sc.CallTicketBody,
            params=(Param("call_id", "path", required=True),),
            statuses=(201,),
            access=roles(HOTLINE_ROLES),
        ),
        Op(
            "GET",
            "/api/tickets",
            list_tickets,
            "Search tickets",
            "tickets",
            params=(
                Param("status"),
                Param("handler", type="integer"),
                Param("kind"),
                Param("category"),
                Param("since"),
                *paging,
            ),
            access=ANYONE,
        ),
        Op(
            "GET",
            "/api/tickets/overdue",
            overdue,
            "Overdue tickets, most overdue first",
            "tickets",
            params=(
                Param("after"),
                Param("department", type="integer"),
                Param("limit", type="integer"),
            ),
            access=ANYONE,
        ),
        Op(
            "GET",
            "/api/tickets/emergency",
            get_emergency,
            "Emergency deadline mode",
            "tickets",
            access=ANYONE,
        ),
        Op(
            "PUT",
            "/api/tickets/emergency",
            set_emergency,
            "Switch emergency deadline mode",
            "tickets",
            sc.FlagBody,
            access=roles(Role.SUPERVISOR, Role.ADMIN),
        ),
        Op(
            "GET",
            "/api/tickets/deadline",
            deadline_preview,
            "The deadlines a ticket dispatched now would get",
            "tickets",
            params=(Param("kind"), Param("urgency")),
            access=roles(HOTLINE_ROLES),
        ),
        Op(
            "GET",
            "/api/tickets/{number}",
            get_ticket,
            "One ticket with its records",
            "tickets",
            params=(num,),
            access=ANYONE,
        ),
        Op(
            "GET",
            "/api/tickets/{number}/history",
            ticket_history,
            "The ticket's history, with tickets merged into it",
            "tickets",
            params=(num,),
            access=ANYONE,
        ),
        Op(
            "POST",
            "/api/tickets/{number}/actions",
            act_on_ticket,
            "Apply a workflow action (If-Match: version for optimistic locking)",
            "tickets",
            sc.ACTION_ADAPTER,
            params=(num, Param("If-Match", "header")),
            access=ANYONE,
        ),
        Op(
            "POST",
            "/api/tickets/{number}/merge",
            merge_ticket,
            "Merge a duplicate",
            "tickets",
            sc.MergeBody,
            params=(num,),
            access=roles(HOTLINE_ROLES),
        ),
        Op(
            "POST",
            "/api/tickets/{number}/follow-ups",
            add_follow_up,
            "Record a follow-up attempt",
            "tickets",
            sc.FollowUpBody,
            params=(num,),
            statuses=(201,),
            access=roles(HOTLINE_ROLES, Role.SYSTEM),
        ),
        Op(
            "GET",
            "/api/callers/{phone}/tickets",
            caller_history,
            "A caller's tickets",
            "tickets",
            params=(Param("phone", "path", required=True), Param("limit", type="integer")),
            access=roles(HOTLINE_ROLES),
        ),
        Op(
            "GET",
            "/api/departments",
            list_departments,
            "The department tree",
            "departments",
            access=ANYONE,
        ),
        Op(
            "POST",
            "/api/departments",
            add_department,
            "Add a department",
            "departments",
            sc.DepartmentBody,
            statuses=(201,),
            access=roles(Role.ADMIN),
        ),
        Op(
            "GET",
            "/api/kb/search",
            kb_search,
            "Full-text search of the knowledge base",
            "kb",
            params=(Param("q", required=True), Param("limit", type="integer")),
            access=ANYONE,
        ),
        Op(
            "POST",
            "/api/kb/suggest",
            kb_suggest,
            "Articles for a transcript or draft",
            "kb",
            sc.SuggestBody,
            access=ANYONE,
        ),
        Op(
            "POST",
            "/api/kb/articles",
            kb_add,
            "Add or update an article",
            "kb",
            sc.ArticleBody,
            statuses=(201,),
            access=roles(DECIDING_ROLES),
        ),
        Op(
            "GET",
            "/api/kb/articles/{id}",
            kb_get,
            "One article",
            "kb",
            params=(Param("id", "path", type="integer", required=True),),
            access=ANYONE,
        ),
        Op(
            "POST",
            "/api/sync/webhook",
            sync_webhook,
            "Status update from the external work-order platform",
            "sync",
            sc.InboundEvent,
            access=SIGNED,
        ),
    ]:
        a.add(op)
    return a


__all__ = ["SERVICES", "TicketError", "TicketServices", "api"]
