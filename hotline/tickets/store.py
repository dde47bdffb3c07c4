"""Tickets in SQL: create, act (optimistic locking), merge, history, caller history, overdue.

Every change is one transaction holding the ticket update (guarded by its ``version``), the
history entry, the side records and, when sync is on, the outbox row; so nothing is recorded
without its history and nothing is sent that was not committed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.tickets import deadlines as dl
from hotline.tickets import repeat
from hotline.tickets import schema as t
from hotline.tickets import workflow as wf
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.directory import Directory
from hotline.tickets.exceptions import InvalidInput, StaleTicket, TicketNotFound
from hotline.tickets.models import (
    Actor,
    Channel,
    Kind,
    Satisfaction,
    Status,
    SupervisionForm,
    TicketState,
    Urgency,
    ticket_number,
)

log = logging.getLogger(__name__)

Notifier = Callable[[str, dict[str, Any]], Awaitable[None]]
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


@dataclass(frozen=True)
class NewTicket:
    content: str
    kind: Kind = Kind.CONSULTATION
    channel: Channel = Channel.PHONE
    urgency: Urgency = Urgency.NORMAL
    caller_phone: str | None = None
    caller_name: str | None = None
    category: str | None = None
    location: str | None = None
    summary: str | None = None
    call_id: str | None = None


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


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Enum):
        return v.value
    if isinstance(v, tuple):
        return list(v)
    return v


def ticket_view(row: Row[Any] | Any) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in row._mapping.items()}


class TicketStore:
    """Tickets and their history over one async engine (SQLite or PostgreSQL)."""

    def __init__(
        self,
        engine: AsyncEngine,
        directory: Directory,
        *,
        calendar: WorkCalendar,
        clock: Clock,
        policy: dl.DeadlinePolicy | None = None,
        max_returns: int = 2,
        outbox: bool = False,
        notify: Notifier | None = None,
        repeat_window: timedelta = timedelta(days=30),
        max_retries: int = 5,
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.calendar = calendar
        self.policy = policy or dl.DeadlinePolicy()
        self.max_returns = max_returns
        self.clock = clock
        self.outbox = outbox
        self.notify = notify
        self.repeat_window = repeat_window
        self.max_retries = max_retries
        self.tz = calendar.tz

    async def rules(self) -> wf.Rules:
        return wf.Rules(
            calendar=self.calendar,
            tree=await self.directory.tree(),
            policy=self.policy,
            max_returns=self.max_returns,
            emergency=bool(await self.directory.flag("emergency", False)),
        )

    # -- creating -----------------------------------------------------------------------------

    async def _next_number(self, now: datetime) -> str:
        day = now.astimezone(self.tz)
        key = f"{day:%Y%m%d}"
        dialect = self.engine.dialect.name
        ins_mod = postgresql if dialect == "postgresql" else sqlite
        stmt = ins_mod.insert(t.counters).values(day=key, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["day"], set_={"last": t.counters.c.last + 1}
        ).returning(t.counters.c.last)
        async with self.engine.begin() as conn:
            seq = (await conn.execute(stmt)).scalar_one()
        return ticket_number(day, seq)

    async def create(self, new: NewTicket, actor: Actor) -> dict[str, Any]:
        content = new.content.strip()
        if not content:
            raise InvalidInput("content must not be empty", field="content")
        now = self.clock()
        number = await self._next_number(now)
        phone = repeat.normalise_phone(new.caller_phone)
        place = repeat.location_key(new.location)
        state = TicketState(
            status=Status.ACCEPTED, kind=new.kind, urgency=new.urgency, created_at=now
        )
        row = {
            **state_values(state),
            "number": number,
            "channel": new.channel.value,
            "caller_phone": phone,
            "caller_name": new.caller_name,
            "category": new.category,
            "location": new.location,
            "location_key": place,
            "content": content,
            "summary": new.summary,
            "call_id": new.call_id,
            "updated_at": now,
            "created_by": actor.user_id,
            "version": 1,
        }
        async with self.engine.begin() as conn:
            created = (
                await conn.execute(insert(t.tickets).values(**row).returning(t.tickets))
            ).one()
            ticket_id = created.id
            await self._history(conn, ticket_id, actor, now, "create", "", {}, 1)
            linked = await self._link_repeats(conn, ticket_id, phone, new.category, place, now)
            await self._queue_event(conn, number, "ticket.created", 1, {"ticket": _public(row)})
        log.info(
            "ticket %s created by %s (%s), %d links", number, actor.role, actor.user_id, len(linked)
        )
        await self._notify("ticket.created", {"number": number, "links": linked})
        return {**ticket_view(created), "links": linked}

    async def _link_repeats(
        self,
        conn: AsyncConnection,
        ticket_id: int,
        phone: str | None,
        category: str | None,
        place: str | None,
        now: datetime,
    ) -> list[dict[str, str]]:
        since = now - self.repeat_window
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
        candidates = list({r.id: repeat.Candidate(**r._mapping) for r in rows}.values())
        found = repeat.find_links(
            caller_phone=phone,
            category=category,
            place=place,
            now=now,
            candidates=candidates,
            window=self.repeat_window,
        )
        if found:
            await conn.execute(
                insert(t.links),
                [
                    {"ticket_id": ticket_id, "other_id": cand.id, "kind": kind, "at": now}
                    for cand, kind in found
                ],
            )
        return [{"number": cand.number, "kind": kind} for cand, kind in found]

    # -- acting -------------------------------------------------------------------------------

    async def act(
        self,
        number: str,
        action: wf.Action,
        actor: Actor,
        *,
        expected_version: int | None = None,
    ) -> dict[str, Any]:
        """Apply a workflow action; retried on a concurrent change unless a version was given."""
        for attempt in range(self.max_retries):
            try:
                return await self._act_once(number, action, actor, expected_version)
            except StaleTicket:
                if expected_version is not None or attempt == self.max_retries - 1:
                    raise
                log.debug("ticket %s changed concurrently; retrying %s", number, action.name)
        raise AssertionError("unreachable")

    async def _act_once(
        self, number: str, action: wf.Action, actor: Actor, expected: int | None
    ) -> dict[str, Any]:
        rules = await self.rules()
        now = self.clock()
        async with self.engine.begin() as conn:
            row = await self._row(conn, number, lock=True)
            version = row.version
            if expected is not None and expected != version:
                raise StaleTicket(
                    f"ticket {number} is at version {version}, not {expected}",
                    version=version,
                )
            old = state_from_row(row)
            out = wf.apply(old, action, actor, now, rules)
            changes = wf.diff(old, out.state)
            new_version = version + 1
            result = await conn.execute(
                update(t.tickets)
                .where(t.tickets.c.id == row.id, t.tickets.c.version == version)
                .values(**state_values(out.state), updated_at=now, version=new_version)
            )
            if result.rowcount != 1:
                raise StaleTicket(f"ticket {number} changed while {action.name} was applied")
            await self._history(
                conn, row.id, actor, now, action.name, out.note, changes, new_version
            )
            for record in out.records:
                await self._record(conn, row.id, record, actor, now)
            payload = {
                "action": action.name,
                "note": out.note,
                "changes": {k: [_jsonable(a), _jsonable(b)] for k, (a, b) in changes.items()},
                "actor": {"id": actor.user_id, "role": actor.role.value},
                "records": [{"kind": r.kind, **r.data} for r in out.records],
            }
            await self._queue_event(conn, number, f"ticket.{action.name}", new_version, payload)
        log.info(
            "ticket %s: %s by %s %s → %s",
            number,
            action.name,
            actor.role.value,
            actor.user_id,
            out.state.status.value,
        )
        await self._notify(f"ticket.{action.name}", {"number": number, **payload})
        return await self.get(number)

    async def merge(self, duplicate: str, into: str, actor: Actor) -> dict[str, Any]:
        """Fold ``duplicate`` into ``into``: both histories stay and point at each other."""
        if duplicate == into:
            raise InvalidInput("a ticket cannot be merged into itself")
        target = await self.get(into)
        if target["status"] == Status.MERGED.value:
            raise InvalidInput(f"ticket {into} was itself merged into {target['merged_into']}")
        await self.act(duplicate, wf.Merge(into), actor)
        now = self.clock()
        async with self.engine.begin() as conn:
            dup_id = (await self._row(conn, duplicate)).id
            await conn.execute(
                insert(t.links).values(
                    ticket_id=target["id"], other_id=dup_id, kind="merged", at=now
                )
            )
            await self._history(
                conn,
                target["id"],
                actor,
                now,
                "absorb",
                f"merged {duplicate}",
                {},
                target["version"],
            )
        return await self.get(into)

    # -- reading ------------------------------------------------------------------------------

    async def _row(self, conn: AsyncConnection, number: str, *, lock: bool = False) -> Row[Any]:
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
            return ticket_view(await self._row(conn, number))

    async def history(self, number: str) -> list[dict[str, Any]]:
        """The ticket's history and that of every ticket merged into it, oldest first."""
        h, tk = t.history, t.tickets
        async with self.engine.connect() as conn:
            row = await self._row(conn, number)
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
            ticket_id = (await self._row(conn, number)).id
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
                cursor = await self._row(conn, after)
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

    async def add_follow_up(
        self, number: str, outcome: str, actor: Actor, *, note: str = "", channel: str = "phone"
    ) -> int:
        """Record one follow-up attempt (answered, no_answer, busy, failed, refused)."""
        if outcome not in {"answered", "no_answer", "busy", "failed", "refused"}:
            raise InvalidInput(f"unknown follow-up outcome {outcome!r}")
        now = self.clock()
        async with self.engine.begin() as conn:
            row = await self._row(conn, number)
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
            await self._history(
                conn, row.id, actor, now, "follow_up", f"{outcome} ({attempt})", {}, row.version
            )
        return int(attempt)

    # -- writing helpers ----------------------------------------------------------------------

    async def _history(
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
                changes={k: [_jsonable(a), _jsonable(b)] for k, (a, b) in changes.items()},
                version=version,
            )
        )

    async def _record(
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

    async def _queue_event(
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

    async def _notify(self, event: str, payload: dict[str, Any]) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(event, payload)
        except Exception:  # the record is committed; a missed live update is not fatal
            log.warning(
                "could not publish %s for ticket %s", event, payload.get("number"), exc_info=True
            )


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: _jsonable(v) for k, v in row.items() if k != "created_by"}
