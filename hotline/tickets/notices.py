"""Deadline reminders and overdue escalation, each sent exactly once.

``due_notices`` is pure: given open tickets and the time, it lists the notices that are due.
The scheduler inserts them under a unique (ticket, kind, deadline) key and sends only those
its insert created, so a restart, a second instance or a second pass never repeats one; a
deadline that moves (an approved extension) earns a fresh reminder for the new date.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.tickets import deadlines as dl
from hotline.tickets import schema as t
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.models import HANDLING_STATUSES, Urgency

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Open:
    id: int
    number: str
    handler_id: int | None
    urgency: str
    emergency: bool
    dispatched_at: datetime | None
    reply_due: datetime | None
    contact_due: datetime | None
    contacted_at: datetime | None


@dataclass(frozen=True)
class Notice:
    ticket_id: int
    number: str
    kind: str  # reminder, overdue, contact_overdue
    due_at: datetime
    department_id: int | None


def due_notices(
    tickets: list[Open], now: datetime, *, policy: dl.DeadlinePolicy, calendar: WorkCalendar
) -> list[Notice]:
    out = []
    for tk in tickets:
        if tk.reply_due is not None:
            if now >= tk.reply_due:
                out.append(Notice(tk.id, tk.number, "overdue", tk.reply_due, tk.handler_id))
            else:
                working = tk.urgency != Urgency.URGENT.value and not tk.emergency
                remind = dl.reminder_time(
                    tk.dispatched_at or now,
                    tk.reply_due,
                    in_working_days=working,
                    policy=policy,
                    calendar=calendar,
                )
                if now >= remind:
                    out.append(Notice(tk.id, tk.number, "reminder", tk.reply_due, tk.handler_id))
        if tk.contact_due is not None and tk.contacted_at is None and now >= tk.contact_due:
            out.append(Notice(tk.id, tk.number, "contact_overdue", tk.contact_due, tk.handler_id))
    return out


Sender = Callable[[Notice], Awaitable[None]]


class NoticeScheduler:
    """Polls for due notices; ``send`` publishes each new one (desk, Redis, outbox)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        calendar: WorkCalendar,
        clock: Callable[[], datetime],
        send: Sender,
        policy: dl.DeadlinePolicy | None = None,
        interval_s: float = 30.0,
        horizon: timedelta = timedelta(days=20),
    ) -> None:
        self.engine = engine
        self.calendar = calendar
        self.clock = clock
        self.send = send
        self.policy = policy or dl.DeadlinePolicy()
        self.interval_s = interval_s
        self.horizon = horizon
        self._stop = asyncio.Event()

    async def run_once(self) -> list[Notice]:
        now = self.clock()
        c = t.tickets.c
        q = select(
            c.id,
            c.number,
            c.handler_id,
            c.urgency,
            c.emergency,
            c.dispatched_at,
            c.reply_due,
            c.contact_due,
            c.contacted_at,
        ).where(
            c.status.in_([s.value for s in HANDLING_STATUSES]),
            c.reply_due <= now + self.horizon,
        )
        async with self.engine.connect() as conn:
            rows = [Open(**r._mapping) for r in await conn.execute(q)]
        due = due_notices(rows, now, policy=self.policy, calendar=self.calendar)
        fresh = []
        mod: Any = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        async with self.engine.begin() as conn:
            for n in due:
                stmt = (
                    mod.insert(t.notices)
                    .values(
                        ticket_id=n.ticket_id,
                        kind=n.kind,
                        due_at=n.due_at,
                        created_at=now,
                        department_id=n.department_id,
                    )
                    .on_conflict_do_nothing()
                    .returning(t.notices.c.id)
                )
                if (await conn.execute(stmt)).first() is not None:
                    fresh.append(n)
        for n in fresh:
            log.info(
                "ticket %s: %s notice for department %s (due %s)",
                n.number,
                n.kind,
                n.department_id,
                n.due_at.isoformat(),
            )
            try:
                await self.send(n)
            except Exception:
                log.exception("ticket %s: could not send %s notice", n.number, n.kind)
        return fresh

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("notice pass failed; next try in %.0f s", self.interval_s)
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval_s)
            except TimeoutError:
                pass

    def stop(self) -> None:
        self._stop.set()
