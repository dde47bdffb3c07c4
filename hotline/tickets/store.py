"""Tickets in SQL: rows in and out, numbering, history rows, optimistic locking, outbox rows.

The store knows the tables and nothing of the workflow. A use case (``services.py``) opens
one :meth:`TicketStore.transaction` and passes its connection to the writing methods, so the
ticket update (guarded by its ``version``), the history entry, the side records, the outbox
row and an inbound event's mark commit together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import fields
from datetime import datetime, tzinfo
from enum import Enum
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.tickets import repeat
from hotline.tickets import schema as t
from hotline.tickets import workflow as wf
from hotline.tickets.exceptions import StaleTicket, TicketNotFound
from hotline.tickets.models import (
    Actor,
    Kind,
    Satisfaction,
    Status,
    SupervisionForm,
    TicketState,
    Urgency,
    ticket_number,
)

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_ENUMS: dict[str, type[Enum]] = {
    "status": Status,
    "kind": Kind,
    "urgency": Urgency,
    "satisfaction": Satisfaction,
    "supervision": SupervisionForm,
}
_STATE_FIELDS = [f.name for f in fields(TicketState) if f.name != "extra"]
_TUPLES = {"co_handler_ids", "delegated_by"}
_RECORD_TABLES = {
    "reply": t.replies,
    "review": t.reviews,
    "rating": t.ratings,
    "supervision": t.supervisions,
}


def state_from_row(row: Row[Any] | dict[str, Any]) -> TicketState:
    m = row if isinstance(row, dict) else row._mapping
    values: dict[str, Any] = {}
    for name in _STATE_FIELDS:
        v = m[name]
        if name in _ENUMS and v is not None:
            v = _ENUMS[name](v)
        elif name in _TUPLES:
            v = tuple(v or ())
        values[name] = v
    return TicketState(**values)


def state_values(state: TicketState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _STATE_FIELDS:
        v = getattr(state, name)
        if isinstance(v, Enum):
            v = v.value
        elif name in _TUPLES:
            v = list(v)
        out[name] = v
    return out


def jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, tuple):
        return list(v)
    return v


def ticket_view(row: Row[Any] | Any) -> dict[str, Any]:
    return {k: jsonable(v) for k, v in row._mapping.items()}


def public_values(row: dict[str, Any]) -> dict[str, Any]:
    """A new ticket's row as the outbox sends it (who typed it in stays here)."""
    return {k: jsonable(v) for k, v in row.items() if k != "created_by"}


def changes_json(changes: dict[str, tuple[Any, Any]]) -> dict[str, list[Any]]:
    return {k: [jsonable(a), jsonable(b)] for k, (a, b) in changes.items()}


class TicketStore:
    """Ticket rows and their history over one async engine (SQLite or PostgreSQL).

    Methods taking ``conn`` write inside the caller's transaction; the others open their own.
    With ``outbox`` every queued event becomes an outbox row for the sync sender.
    """

    def __init__(
        self, engine: AsyncEngine, *, clock: Clock, tz: tzinfo, outbox: bool = False
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.tz = tz
        self.outbox = outbox

    def transaction(self) -> AbstractAsyncContextManager[AsyncConnection]:
        return self.engine.begin()

    # -- writing ------------------------------------------------------------------------------

    async def next_number(self, now: datetime) -> str:
        """The day's next ticket number, in a transaction of its own (a number is never reused)."""
        day = now.astimezone(self.tz)
        key = f"{day:%Y%m%d}"
        ins_mod = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = ins_mod.insert(t.counters).values(day=key, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"], set_={"last": t.counters.c.last + 1}
        ).returning(t.counters.c.last)
        async with self.engine.begin() as conn:
            seq = (await conn.execute(stmt)).scalar_one()
        return ticket_number(day, seq)

    async def insert_ticket(self, conn: AsyncConnection, row: dict[str, Any]) -> Row[Any]:
        return (await conn.execute(insert(t.tickets).values(**row).returning(t.tickets))).one()

    async def locked_row(
        self, conn: AsyncConnection, number: str, expected: int | None = None
    ) -> Row[Any]:
        """The ticket to change; :class:`StaleTicket` unless it is at ``expected`` (If-Match)."""
        row = await self.row(conn, number, lock=True)
        if expected is not None and expected != row.version:
            raise StaleTicket(
                f"ticket {number} is at version {row.version}, not {expected}",
                version=row.version,
            )
        return row

    async def update_state(
        self, conn: AsyncConnection, row: Row[Any], state: TicketState, now: datetime, why: str
    ) -> int:
        """Write ``state`` over ``row`` if nobody changed it since; the new version."""
        version = row.version + 1
        result = await conn.execute(
            update(t.tickets)
            .where(t.tickets.c.id == row.id, t.tickets.c.version == row.version)
            .values(**state_values(state), updated_at=now, version=version)
        )
        if result.rowcount != 1:
            raise StaleTicket(f"ticket {row.number} changed while {why} was applied")
        return version

    async def add_history(
        self,
        conn: AsyncConnection,
        ticket_id: int,
        actor: Actor,
        now: datetime,
        action: str,
        note: str,
        changes: dict[str, tuple[Any, Any]],
        version: int,
    ) -> None:
        await conn.execute(
            insert(t.history).values(
                ticket_id=ticket_id,
                at=now,
                actor_id=actor.user_id,
                actor_role=actor.role.value,
                actor_department_id=actor.department_id,
                action=action,
                note=note,
                changes=changes_json(changes),
                version=version,
            )
        )

    async def add_record(
        self,
        conn: AsyncConnection,
        ticket_id: int,
        record: wf.Record,
        actor: Actor,
        now: datetime,
    ) -> None:
        d = dict(record.data)
        if record.kind in _RECORD_TABLES:
            if record.kind == "reply":
                d.setdefault("department_id", actor.department_id)
            await conn.execute(
                insert(_RECORD_TABLES[record.kind]).values(
                    ticket_id=ticket_id, by=actor.user_id, at=now, **d
                )
            )
        elif record.kind == "assignment":
            await conn.execute(insert(t.assignments).values(ticket_id=ticket_id, at=now, **d))
        elif record.kind == "extension":
            await conn.execute(
                insert(t.extension_requests).values(
                    ticket_id=ticket_id, department_id=actor.department_id, at=now, **d
                )
            )
        elif record.kind == "extension_decision":
            await self._decide(
                conn,
                t.extension_requests,
                ticket_id,
                now,
                actor,
                approved=d["approved"],
                note=d["note"],
            )
        elif record.kind == "appeal":
            await conn.execute(
                insert(t.appeals).values(
                    ticket_id=ticket_id, department_id=actor.department_id, at=now, **d
                )
            )
        elif record.kind == "appeal_decision":
            await self._decide(
                conn, t.appeals, ticket_id, now, actor, upheld=d["upheld"], note=d["note"]
            )
        elif record.kind != "return":
            raise AssertionError(f"no table for record {record.kind}")

    async def _decide(
        self,
        conn: AsyncConnection,
        table: Any,
        ticket_id: int,
        now: datetime,
        actor: Actor,
        **values: Any,
    ) -> None:
        pending = (
            select(func.max(table.c.id))
            .where(table.c.ticket_id == ticket_id, table.c.decided_at.is_(None))
            .scalar_subquery()
        )
        await conn.execute(
            update(table)
            .where(table.c.id == pending)
            .values(decided_at=now, decided_by=actor.user_id, **values)
        )

    async def queue_event(
        self,
        conn: AsyncConnection,
        number: str,
        event: str,
        version: int,
        payload: dict[str, Any],
    ) -> None:
        if not self.outbox:
            return
        now = self.clock()
        await conn.execute(
            insert(t.outbox).values(
                ticket_number=number,
                event=event,
                payload={
                    "number": number,
                    "version": version,
                    "event": event,
                    "at": now.isoformat(),
                    **payload,
                },
                idempotency_key=f"{number}:{version}:{event}",
                created_at=now,
                next_attempt_at=now,
            )
        )

    async def repeat_candidates(
        self,
        conn: AsyncConnection,
        ticket_id: int,
        phone: str | None,
        category: str | None,
        place: str | None,
        since: datetime,
    ) -> list[repeat.Candidate]:
        """Recent tickets from the same caller, or of the same category at the same place."""
        c = t.tickets.c
        conds = []
        if phone:
            conds.append(c.caller_phone == phone)
        if category and place:
            conds.append(and_(c.category == category, c.location_key == place))
        rows: list[Any] = []
        for cond in conds:  # one indexed query per kind, so neither crowds out the other
            rows += await conn.execute(
                select(c.id, c.number, c.created_at, c.caller_phone, c.category, c.location_key)
                .where(cond, c.created_at >= since, c.id != ticket_id)
                .order_by(c.created_at.desc())
                .limit(10)
            )
        return list({r.id: repeat.Candidate(**r._mapping) for r in rows}.values())

    async def add_links(
        self, conn: AsyncConnection, ticket_id: int, links: list[tuple[int, str]], now: datetime
    ) -> None:
        """Link ``ticket_id`` to other tickets: (other id, kind) pairs."""
        if links:
            await conn.execute(
                insert(t.links),
                [
                    {"ticket_id": ticket_id, "other_id": other, "kind": kind, "at": now}
                    for other, kind in links
                ],
            )

    async def claim_inbound(
        self, conn: AsyncConnection, event_id: str, number: str, now: datetime
    ) -> bool:
        """Mark an inbound event as taken; False when it was taken before.

        A concurrent claim of the same id waits for this transaction (the unique index) and
        then finds it, so an event is applied by exactly one of its deliveries.
        """
        mod: Any = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = (
            mod.insert(t.inbound_events)
            .values(event_id=event_id, ticket_number=number, received_at=now, outcome="applying")
            .on_conflict_do_nothing()
            .returning(t.inbound_events.c.id)
        )
        return (await conn.execute(stmt)).first() is not None

    async def inbound_outcome(self, conn: AsyncConnection, event_id: str) -> str:
        ie = t.inbound_events.c
        q = select(ie.outcome).where(ie.event_id == event_id)
        return str((await conn.execute(q)).scalar_one())

    async def settle_inbound(self, conn: AsyncConnection, event_id: str, outcome: str) -> None:
        ie = t.inbound_events
        await conn.execute(update(ie).where(ie.c.event_id == event_id).values(outcome=outcome))

    async def add_follow_up(
        self, number: str, outcome: str, actor: Actor, now: datetime, *, note: str, channel: str
    ) -> int:
        """One follow-up attempt and its history entry; the attempt's number."""
        async with self.engine.begin() as conn:
            row = await self.row(conn, number)
            attempt = (
                await conn.execute(select(func.count()).where(t.follow_ups.c.ticket_id == row.id))
            ).scalar_one() + 1
            await conn.execute(
                insert(t.follow_ups).values(
                    ticket_id=row.id,
                    attempt=attempt,
                    outcome=outcome,
                    channel=channel,
                    by=actor.user_id,
                    note=note,
                    at=now,
                )
            )
            await self.add_history(
                conn, row.id, actor, now, "follow_up", f"{outcome} ({attempt})", {}, row.version
            )
        return int(attempt)

    # -- reading ------------------------------------------------------------------------------

    async def row(self, conn: AsyncConnection, number: str, *, lock: bool = False) -> Row[Any]:
        q = select(t.tickets).where(t.tickets.c.number == number)
        if lock and conn.dialect.name == "postgresql":
            # Writers queue on the row instead of racing and retrying; the version check
            # in the update still guards clients acting on what they last read (If-Match).
            q = q.with_for_update()
        row = (await conn.execute(q)).first()
        if row is None:
            raise TicketNotFound(f"no ticket {number}", number=number)
        return row

    async def get(self, number: str) -> dict[str, Any]:
        async with self.engine.connect() as conn:
            return ticket_view(await self.row(conn, number))

    async def history(self, number: str) -> list[dict[str, Any]]:
        """The ticket's history and that of every ticket merged into it, oldest first."""
        h, tk = t.history, t.tickets
        async with self.engine.connect() as conn:
            row = await self.row(conn, number)
            ids = select(tk.c.id).where(or_(tk.c.id == row.id, tk.c.merged_into == number))
            rows = await conn.execute(
                select(h, tk.c.number)
                .join(tk, tk.c.id == h.c.ticket_id)
                .where(h.c.ticket_id.in_(ids))
                .order_by(h.c.at, h.c.id)
            )
            return [ticket_view(r) for r in rows]

    async def records(self, number: str) -> dict[str, list[dict[str, Any]]]:
        async with self.engine.connect() as conn:
            ticket_id = (await self.row(conn, number)).id
            out = {}
            for name, table in [
                ("assignments", t.assignments),
                ("extension_requests", t.extension_requests),
                ("replies", t.replies),
                ("reviews", t.reviews),
                ("follow_ups", t.follow_ups),
                ("ratings", t.ratings),
                ("appeals", t.appeals),
                ("supervisions", t.supervisions),
            ]:
                rows = await conn.execute(
                    select(table).where(table.c.ticket_id == ticket_id).order_by(table.c.id)
                )
                out[name] = [ticket_view(r) for r in rows]
            links = await conn.execute(
                select(t.links.c.kind, t.tickets.c.number)
                .join(t.tickets, t.tickets.c.id == t.links.c.other_id)
                .where(t.links.c.ticket_id == ticket_id)
            )
            out["links"] = [dict(r._mapping) for r in links]
            return out

    async def numbers_for_call(self, call_id: str) -> list[str]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(t.tickets.c.number).where(t.tickets.c.call_id == call_id).limit(20)
            )
            return [r.number for r in rows]

    async def caller_history(self, phone: str, limit: int = 20) -> list[dict[str, Any]]:
        key = repeat.normalise_phone(phone)
        if not key:
            return []
        c = t.tickets.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    c.number,
                    c.created_at,
                    c.kind,
                    c.category,
                    c.status,
                    c.content,
                    c.handler_id,
                    c.satisfaction,
                )
                .where(c.caller_phone == key)
                .order_by(c.created_at.desc())
                .limit(min(max(limit, 1), 200))
            )
            return [ticket_view(r) for r in rows]

    async def overdue(
        self, *, limit: int = 50, after: str | None = None, department_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Tickets past their reply deadline, most overdue first; ``after`` is a page cursor."""
        c = t.tickets.c
        now = self.clock()
        q = select(
            c.number,
            c.kind,
            c.status,
            c.handler_id,
            c.reply_due,
            c.category,
            c.urgency,
            c.supervision,
        ).where(text(t.OPEN_DUE), c.reply_due < now)  # the partial index's own predicate
        if department_id is not None:
            q = q.where(c.handler_id == department_id)
        async with self.engine.connect() as conn:
            if after:
                cursor = await self.row(conn, after)
                q = q.where(
                    or_(
                        c.reply_due > cursor.reply_due,
                        and_(c.reply_due == cursor.reply_due, c.number > after),
                    )
                )
            rows = await conn.execute(q.order_by(c.reply_due, c.number).limit(min(limit, 500)))
            return [ticket_view(r) for r in rows]

    async def search(
        self,
        *,
        status: Sequence[str] = (),
        handler_id: int | None = None,
        kind: str | None = None,
        category: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        c = t.tickets.c
        q = select(
            c.number,
            c.created_at,
            c.kind,
            c.category,
            c.status,
            c.urgency,
            c.handler_id,
            c.reply_due,
            c.caller_phone,
            c.location,
        )
        if status:
            q = q.where(c.status.in_(list(status)))
        if handler_id is not None:
            q = q.where(c.handler_id == handler_id)
        if kind:
            q = q.where(c.kind == kind)
        if category:
            q = q.where(c.category == category)
        if since:
            q = q.where(c.created_at >= since)
        q = q.order_by(c.created_at.desc(), c.id.desc()).limit(min(limit, 500)).offset(offset)
        async with self.engine.connect() as conn:
            return [ticket_view(r) for r in await conn.execute(q)]

    async def count_by_status(self) -> dict[str, int]:
        c = t.tickets.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(c.status, func.count()).group_by(c.status))
            return {r[0]: r[1] for r in rows}
