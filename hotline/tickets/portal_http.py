"""The department portal's API: reply attachments (upload, list, download) and scorecards.

An upload is ``multipart/form-data`` with one ``file`` part, sent by the handling
department while it works the ticket (a browser sends its CSRF token in the header: the
body is streamed to disk, never read whole). A download is for whoever may see the ticket;
an id of a ticket one may not see answers as an id that does not exist.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from hotline.config import Settings
from hotline.keys import PORTAL, SETTINGS, TICKETS
from hotline.tickets.attachments import (
    AttachmentInvalid,
    AttachmentNotFound,
    AttachmentRules,
    AttachmentStore,
    AttachmentTooLarge,
)
from hotline.tickets.exceptions import Forbidden, IllegalTransition, InvalidInput
from hotline.tickets.models import Role, Status
from hotline.tickets.portal import HANDLING, Portal, may_see, subtree
from hotline.tickets.scorecard import Scorecards
from hotline.web.access import EVERYONE, roles
from hotline.web.common import actor as web_actor
from hotline.web.common import json_response
from hotline.web.openapi import Op, Param

MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the one file


@dataclass(frozen=True)
class PortalServices:
    portal: Portal
    attachments: AttachmentStore
    scorecards: Scorecards




def attachment_rules(settings: Settings) -> AttachmentRules:
    folder = Path(settings.attachments_dir)
    if not folder.is_absolute():
        folder = Path(settings.data_dir) / folder
    return AttachmentRules(
        folder,
        settings.attachment_max_bytes,
        frozenset(t.lower() for t in settings.attachment_types),
    )


async def install(app: web.Application) -> None:
    """Built once the ticket domain is up (an ``on_startup`` hook after the contexts)."""
    settings, tickets = app[SETTINGS], app[TICKETS].tickets
    store = AttachmentStore(tickets.engine, attachment_rules(settings), clock=tickets.clock)
    app[PORTAL] = PortalServices(
        Portal(tickets, store, soon_days=settings.portal_due_soon_days),
        store,
        Scorecards(tickets.engine, tickets.calendar),
    )


def _number(request: web.Request) -> str:
    number = request.match_info["number"]
    if not (len(number) == 13 and number.isdigit()):
        raise InvalidInput("a ticket number is 13 digits", number=number[:40])
    return number


async def upload_attachment(request: web.Request) -> web.Response:
    who = web_actor(request)
    services = request.app[PORTAL]
    rules = services.attachments.rules
    ticket = await services.portal.visible(who, _number(request))
    if ticket["handler_id"] != who.department_id:
        raise Forbidden("only the handling department may attach files to its reply")
    if Status(ticket["status"]) not in HANDLING:
        raise IllegalTransition(ticket["status"], "attach a file")
    if request.content_type != "multipart/form-data":
        raise AttachmentInvalid("send the file as multipart/form-data with a 'file' part")
    if (request.content_length or 0) > rules.max_bytes + MULTIPART_OVERHEAD:
        raise AttachmentTooLarge(
            f"a file may be at most {rules.max_bytes} bytes", max_bytes=rules.max_bytes
        )
    reader = await request.multipart()
    part = await reader.next()
    if not isinstance(part, BodyPartReader) or part.name != "file":
        raise AttachmentInvalid("the form needs one part named 'file'")
    filename = part.filename
    if not filename:
        raise AttachmentInvalid("the 'file' part has no file name")

    async def chunks() -> AsyncIterator[bytes]:
        while chunk := await part.read_chunk(65536):
            yield bytes(chunk)

    saved = await services.attachments.save(int(ticket["id"]), filename, chunks(), who)
    return json_response(saved, status=201)


async def list_attachments(request: web.Request) -> web.Response:
    services = request.app[PORTAL]
    ticket = await services.portal.visible(web_actor(request), _number(request))
    return json_response({"attachments": await services.attachments.for_ticket(int(ticket["id"]))})


async def download_attachment(request: web.Request) -> web.Response:
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise AttachmentNotFound("no such attachment")
    services = request.app[PORTAL]
    row, number = await services.attachments.get(int(raw))
    ticket = await services.portal.tickets.get(number)
    if not may_see(web_actor(request), ticket, await services.portal.tree()):
        raise AttachmentNotFound("no such attachment")
    body = await services.attachments.read(row)
    disposition = "inline" if str(row["content_type"]).startswith("image/") else "attachment"
    return web.Response(
        body=body,
        headers={
            "Content-Type": str(row["content_type"]),
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row['filename'])}",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )


async def scorecard(request: web.Request) -> web.Response:
    who = web_actor(request)
    raw = request.match_info["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidInput("a department id is a number")
    dept = int(raw)
    services = request.app[PORTAL]
    tree = await services.portal.tree()
    if who.role is Role.DEPARTMENT and (
        who.department_id is None or dept not in subtree(tree, who.department_id)
    ):
        raise Forbidden("a department sees only its own scorecard and its units'")
    if not tree.exists(dept):
        raise InvalidInput(f"department {dept} does not exist", department_id=dept)
    now = services.portal.tickets.clock()
    card = await services.scorecards.card(subtree(tree, dept), now)
    return json_response({"department_id": dept, **card})


def ops() -> list[Op]:
    num = Param("number", "path", required=True, description="13-digit ticket number")
    anyone = roles(EVERYONE)
    return [
        Op(
            "POST",
            "/api/tickets/{number}/attachments",
            upload_attachment,
            "Attach a file to the department's reply (multipart/form-data, part 'file')",
            "portal",
            params=(num,),
            statuses=(201,),
            access=roles(Role.DEPARTMENT),
        ),
        Op(
            "GET",
            "/api/tickets/{number}/attachments",
            list_attachments,
            "The ticket's attachments",
            "portal",
            params=(num,),
            access=anyone,
        ),
        Op(
            "GET",
            "/api/attachments/{id}",
            download_attachment,
            "Download an attachment (only of a ticket one may see)",
            "portal",
            params=(Param("id", "path", type="integer", required=True),),
            access=anyone,
        ),
        Op(
            "GET",
            "/api/departments/{id}/scorecard",
            scorecard,
            "A department's scorecard this month against the city's",
            "portal",
            params=(Param("id", "path", type="integer", required=True),),
            access=anyone,
        ),
    ]
