"""The department portal's reads: which tickets a department's staff may see, its inbox in
deadline order with each row's band (overdue, due soon, on time), one ticket with its
history, records and attachments.

A department sees the tickets it or a unit below it handles, co-handles, or passed down
(the tree of :class:`~hotline.tickets.workflow.DepartmentTree`); the hotline's own roles
see every ticket. Acting stays with the workflow: the portal only reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from hotline.tickets import schema as t
from hotline.tickets.attachments import AttachmentStore
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.exceptions import TicketNotFound
from hotline.tickets.models import Actor, Role, Status
from hotline.tickets.services import TicketService
from hotline.tickets.store import ticket_view
from hotline.tickets.workflow import DepartmentTree

INBOX_STATUSES = (
    Status.DISPATCHED,
    Status.IN_PROGRESS,
    Status.EXTENSION_PENDING,
    Status.REPLIED,
)
HANDLING = frozenset({Status.DISPATCHED, Status.IN_PROGRESS, Status.EXTENSION_PENDING})


def subtree(tree: DepartmentTree, dept: int) -> frozenset[int]:
    """The department and every unit below it."""
    return frozenset(d for d in tree.parents if d == dept or tree.is_below(d, dept))


def may_see(actor: Actor, ticket: Mapping[str, Any], tree: DepartmentTree) -> bool:
    if actor.role is not Role.DEPARTMENT:
        return True
    if actor.department_id is None:
        return False
    if ticket["handler_id"] in subtree(tree, actor.department_id):
        return True
    mine = {*(ticket["co_handler_ids"] or ()), *(ticket["delegated_by"] or ())}
    return actor.department_id in mine


def due_band(
    due: datetime | None, now: datetime, calendar: WorkCalendar, soon_days: int, status: str
) -> str:
    """``overdue``, ``soon`` (within ``soon_days`` working days) or ``ok``; a ticket no
    longer being handled (replied) is ``done``."""
    if status not in HANDLING or due is None:
        return "done"
    if now >= due:
        return "overdue"
    if now >= calendar.subtract_working_days(due, soon_days):
        return "soon"
    return "ok"


class Portal:
    """What a department's page reads, over the ticket service and the attachment store."""

    def __init__(
        self, tickets: TicketService, attachments: AttachmentStore, *, soon_days: int = 2
    ) -> None:
        self.tickets = tickets
        self.attachments = attachments
        self.soon_days = soon_days

    async def tree(self) -> DepartmentTree:
        return await self.tickets.directory.tree()

    async def subtree(self, dept: int) -> frozenset[int]:
        return subtree(await self.tree(), dept)

    async def departments(self) -> dict[int, dict[str, Any]]:
        return {d["id"]: d for d in await self.tickets.directory.departments()}

    def band(self, row: Mapping[str, Any], now: datetime) -> str:
        due = row["reply_due"]
        if isinstance(due, str):
            due = datetime.fromisoformat(due)
        return due_band(due, now, self.tickets.calendar, self.soon_days, str(row["status"]))

    async def inbox(self, dept: int, limit: int = 200) -> list[dict[str, Any]]:
        """Tickets the department and its units are working on, soonest deadline first."""
        scope = subtree(await self.tree(), dept)
        c = t.tickets.c
        q = (
            select(
                c.number,
                c.kind,
                c.category,
                c.status,
                c.urgency,
                c.handler_id,
                c.reply_due,
                c.contact_due,
                c.contacted_at,
                c.dispatched_at,
                c.location,
                c.content,
                c.supervision,
                c.returns,
            )
            .where(c.handler_id.in_(sorted(scope)), c.status.in_([s.value for s in INBOX_STATUSES]))
            .order_by(c.reply_due.is_(None), c.reply_due, c.number)
            .limit(limit)
        )
        now = self.tickets.clock()
        async with self.tickets.engine.connect() as conn:
            rows = [dict(r._mapping) for r in await conn.execute(q)]
        out = []
        for row in rows:
            view = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
            view["band"] = self.band(row, now)
            view["mine"] = row["handler_id"] == dept
            out.append(view)
        return out

    async def visible(self, actor: Actor, number: str) -> dict[str, Any]:
        """The ticket, if the actor may see it. Another department's ticket is "not found",
        as a missing one is: walking numbers tells nobody which exist."""
        ticket = await self.tickets.get(number)
        if not may_see(actor, ticket, await self.tree()):
            raise TicketNotFound("no such ticket", number=number)
        return ticket

    async def ticket(self, actor: Actor, number: str) -> dict[str, Any]:
        """One ticket as its page shows it: facts, band, history, records and attachments."""
        ticket = await self.visible(actor, number)
        ticket["band"] = self.band(ticket, self.tickets.clock())
        ticket["history"] = await self.tickets.history(number)
        ticket["records"] = await self.tickets.records(number)
        ticket["attachments"] = await self.attachments.for_ticket(int(ticket["id"]))
        ticket["children"] = await self._children(actor)
        return ticket

    async def _children(self, actor: Actor) -> list[dict[str, Any]]:
        """The units directly below the actor's department (where a ticket can be passed)."""
        if actor.department_id is None:
            return []
        d = t.departments.c
        async with self.tickets.engine.connect() as conn:
            rows = await conn.execute(
                select(d.id, d.code, d.name)
                .where(d.parent_id == actor.department_id, d.active.is_(True))
                .order_by(d.id)
            )
            return [ticket_view(r) for r in rows]
