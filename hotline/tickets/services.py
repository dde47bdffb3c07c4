"""The ticket use cases: open, act through the workflow, merge, follow-ups, a call's rating,
status updates from the external platform, and the notices the scheduler finds due.

Each change is one transaction of the store: the workflow decides (``workflow.py``, pure),
the store writes the ticket, its history, its records and the outbox row, and only after
the commit is the change published to the desks (``notify``). Reads go straight to the store.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline.tickets import deadlines as dl
from hotline.tickets import repeat
from hotline.tickets import workflow as wf
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.calls import satisfaction
from hotline.tickets.directory import Directory
from hotline.tickets.exceptions import InvalidInput, StaleTicket, TicketError
from hotline.tickets.kb import KnowledgeBase
from hotline.tickets.models import (
    Actor,
    Kind,
    NewTicket,
    Role,
    Satisfaction,
    Status,
    TicketState,
    Urgency,
)
from hotline.tickets.notices import Notice, Sender
from hotline.tickets.store import (
    TicketStore,
    changes_json,
    public_values,
    state_from_row,
    state_values,
    ticket_view,
)

log = logging.getLogger(__name__)

Notifier = Callable[[str, dict[str, Any]], Awaitable[None]]
T = TypeVar("T")
FOLLOW_UP_OUTCOMES = frozenset({"answered", "no_answer", "busy", "failed", "refused"})
_IVR = Actor(None, Role.SYSTEM, None, "ivr")


@dataclass(frozen=True)
class Change:
    """One workflow action written: what the outbox and the desks are told."""

    number: str
    version: int
    status: Status
    payload: dict[str, Any]


@dataclass(frozen=True)
class Inbound:
    """What became of a status update from the external platform."""

    duplicate: bool
    outcome: str
    version: int | None = None


class TicketService:
    """Tickets as the hotline works them, over a :class:`TicketStore`."""

    def __init__(
        self,
        store: TicketStore,
        directory: Directory,
        *,
        calendar: WorkCalendar,
        policy: dl.DeadlinePolicy | None = None,
        max_returns: int = 2,
        notify: Notifier | None = None,
        repeat_window: timedelta = timedelta(days=30),
        max_retries: int = 5,
    ) -> None:
        self.store = store
        self.directory = directory
        self.calendar = calendar
        self.policy = policy or dl.DeadlinePolicy()
        self.max_returns = max_returns
        self.notify = notify
        self.repeat_window = repeat_window
        self.max_retries = max_retries
        self.clock = store.clock

    @property
    def engine(self) -> AsyncEngine:
        """The store's database, for callers reading call records beside the tickets."""
        return self.store.engine

    async def rules(self) -> wf.Rules:
        return wf.Rules(
            calendar=self.calendar,
            tree=await self.directory.tree(),
            policy=self.policy,
            max_returns=self.max_returns,
            emergency=bool(await self.directory.flag("emergency", False)),
        )

    async def preview_deadlines(self, kind: Kind, urgency: Urgency) -> dict[str, Any]:
        """The deadlines a ticket dispatched now would get (shown before submitting)."""
        emergency = bool(await self.directory.flag("emergency", False))
        d = dl.compute_deadlines(
            kind,
            urgency,
            self.clock(),
            emergency=emergency,
            policy=self.policy,
            calendar=self.calendar,
        )
        return {
            "reply_due": d.reply_due.isoformat(),
            "contact_due": d.contact_due.isoformat() if d.contact_due else None,
            "in_working_days": d.in_working_days,
            "emergency": emergency,
        }

    # -- opening ------------------------------------------------------------------------------

    async def create(self, new: NewTicket, actor: Actor) -> dict[str, Any]:
        content = new.content.strip()
        if not content:
            raise InvalidInput("content must not be empty", field="content")
        now = self.clock()
        number = await self.store.next_number(now)
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
        async with self.store.transaction() as conn:
            created = await self.store.insert_ticket(conn, row)
            await self.store.add_history(conn, created.id, actor, now, "create", "", {}, 1)
            linked = await self._link_repeats(conn, created.id, phone, new.category, place, now)
            event = {"ticket": public_values(row)}
            await self.store.queue_event(conn, number, "ticket.created", 1, event)
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
        candidates = await self.store.repeat_candidates(
            conn, ticket_id, phone, category, place, since
        )
        found = repeat.find_links(
            caller_phone=phone,
            category=category,
            place=place,
            now=now,
            candidates=candidates,
            window=self.repeat_window,
        )
        await self.store.add_links(conn, ticket_id, [(c.id, kind) for c, kind in found], now)
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

        async def once() -> Change:
            rules = await self.rules()
            now = self.clock()
            async with self.store.transaction() as conn:
                return await self._apply(conn, number, action, actor, now, rules, expected_version)

        change = await self._retrying(once, number, action.name, expected_version)
        await self._published(change, action, actor)
        return await self.store.get(number)

    async def _retrying(
        self, once: Callable[[], Awaitable[T]], number: str, what: str, expected: int | None
    ) -> T:
        for attempt in range(self.max_retries):
            try:
                return await once()
            except StaleTicket:
                if expected is not None or attempt == self.max_retries - 1:
                    raise
                log.debug("ticket %s changed concurrently; retrying %s", number, what)
        raise AssertionError("unreachable")

    async def _apply(
        self,
        conn: AsyncConnection,
        number: str,
        action: wf.Action,
        actor: Actor,
        now: datetime,
        rules: wf.Rules,
        expected: int | None = None,
    ) -> Change:
        """The workflow's decision on the locked row, written with its history and records."""
        row = await self.store.locked_row(conn, number, expected)
        old = state_from_row(row)
        out = wf.apply(old, action, actor, now, rules)
        changes = wf.diff(old, out.state)
        version = await self.store.update_state(conn, row, out.state, now, action.name)
        await self.store.add_history(
            conn, row.id, actor, now, action.name, out.note, changes, version
        )
        for record in out.records:
            await self.store.add_record(conn, row.id, record, actor, now)
        payload = {
            "action": action.name,
            "note": out.note,
            "changes": changes_json(changes),
            "actor": {"id": actor.user_id, "role": actor.role.value},
            "records": [{"kind": r.kind, **r.data} for r in out.records],
        }
        await self.store.queue_event(conn, number, f"ticket.{action.name}", version, payload)
        return Change(number, version, out.state.status, payload)

    async def _published(self, change: Change, action: wf.Action, actor: Actor) -> None:
        log.info(
            "ticket %s: %s by %s %s → %s",
            change.number,
            action.name,
            actor.role.value,
            actor.user_id,
            change.status.value,
        )
        await self._notify(f"ticket.{action.name}", {"number": change.number, **change.payload})

    async def merge(self, duplicate: str, into: str, actor: Actor) -> dict[str, Any]:
        """Fold ``duplicate`` into ``into``: both histories stay and point at each other."""
        if duplicate == into:
            raise InvalidInput("a ticket cannot be merged into itself")
        target = await self.store.get(into)
        if target["status"] == Status.MERGED.value:
            raise InvalidInput(f"ticket {into} was itself merged into {target['merged_into']}")
        await self.act(duplicate, wf.Merge(into), actor)
        now = self.clock()
        async with self.store.transaction() as conn:
            dup_id = (await self.store.row(conn, duplicate)).id
            await self.store.add_links(conn, target["id"], [(dup_id, "merged")], now)
            await self.store.add_history(
                conn,
                target["id"],
                actor,
                now,
                "absorb",
                f"merged {duplicate}",
                {},
                target["version"],
            )
        return await self.store.get(into)

    async def add_follow_up(
        self, number: str, outcome: str, actor: Actor, *, note: str = "", channel: str = "phone"
    ) -> int:
        """Record one follow-up attempt (answered, no_answer, busy, failed, refused)."""
        if outcome not in FOLLOW_UP_OUTCOMES:
            raise InvalidInput(f"unknown follow-up outcome {outcome!r}")
        return await self.store.add_follow_up(
            number, outcome, actor, self.clock(), note=note, channel=channel
        )

    # -- intake from calls and from the external platform -----------------------------------

    async def attach_call_rating(self, call_id: str, stars: int) -> None:
        """A caller's post-call rating on the tickets opened on that call: it rates an
        answered ticket (or one awaiting follow-up) and is a comment on the others."""
        grade = Satisfaction(satisfaction(stars) or "unsatisfied")
        for number in await self.store.numbers_for_call(call_id):
            ticket = await self.store.get(number)
            try:
                if ticket["status"] in (Status.ANSWERED.value, Status.FOLLOW_UP.value):
                    await self.act(number, wf.Rate(grade, stars, "ivr"), _IVR)
                else:
                    note = f"来电后满意度评价：{stars} 星（{grade.value}）"
                    await self.act(number, wf.Comment(note), _IVR)
            except TicketError as e:
                log.warning(
                    "ticket %s: rating of call %s not attached: %s", number, call_id, e.message
                )

    async def apply_inbound(
        self, event_id: str, number: str, action: wf.Action, department: str | None
    ) -> Inbound:
        """Apply a status update from the external platform once per ``event_id``.

        Marking the event and changing the ticket are one transaction: a crash leaves
        neither, a refused action leaves neither (the platform may retry), and of two
        concurrent deliveries one applies and the other waits and answers duplicate.
        """
        dept_id = await self.directory.department_id(department) if department else None
        actor = Actor(None, Role.DEPARTMENT if dept_id else Role.SYSTEM, dept_id, "sync")

        async def once() -> Change | str:
            rules = await self.rules()
            now = self.clock()
            async with self.store.transaction() as conn:
                if not await self.store.claim_inbound(conn, event_id, number, now):
                    return await self.store.inbound_outcome(conn, event_id)
                change = await self._apply(conn, number, action, actor, now, rules)
                await self.store.settle_inbound(conn, event_id, f"applied v{change.version}")
                return change

        done = await self._retrying(once, number, action.name, None)
        if isinstance(done, str):
            log.info("sync event %s for ticket %s seen before: %s", event_id, number, done)
            return Inbound(True, done)
        await self._published(done, action, actor)
        return Inbound(False, f"applied v{done.version}", done.version)

    # -- reading ------------------------------------------------------------------------------

    async def get(self, number: str) -> dict[str, Any]:
        return await self.store.get(number)

    async def history(self, number: str) -> list[dict[str, Any]]:
        return await self.store.history(number)

    async def records(self, number: str) -> dict[str, list[dict[str, Any]]]:
        return await self.store.records(number)

    async def numbers_for_call(self, call_id: str) -> list[str]:
        return await self.store.numbers_for_call(call_id)

    async def caller_history(self, phone: str, limit: int = 20) -> list[dict[str, Any]]:
        return await self.store.caller_history(phone, limit)

    async def overdue(
        self, *, limit: int = 50, after: str | None = None, department_id: int | None = None
    ) -> list[dict[str, Any]]:
        return await self.store.overdue(limit=limit, after=after, department_id=department_id)

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
        return await self.store.search(
            status=status,
            handler_id=handler_id,
            kind=kind,
            category=category,
            since=since,
            limit=limit,
            offset=offset,
        )

    async def count_by_status(self) -> dict[str, int]:
        return await self.store.count_by_status()

    async def _notify(self, event: str, payload: dict[str, Any]) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(event, payload)
        except Exception:  # the record is committed; a missed live update is not fatal
            log.warning(
                "could not publish %s for ticket %s", event, payload.get("number"), exc_info=True
            )


def notice_sender(notify: Notifier | None) -> Sender:
    """Deadline notices published like every other ticket event."""

    async def send(n: Notice) -> None:
        if notify is not None:
            await notify(
                f"ticket.{n.kind}",
                {
                    "number": n.number,
                    "department_id": n.department_id,
                    "due_at": n.due_at.isoformat(),
                },
            )

    return send


@dataclass
class TicketServices:
    """What the ticket routes work with: the use cases, the directory (which also
    authenticates), the knowledge base and the secret the sync webhook is signed with."""

    tickets: TicketService
    directory: Directory
    kb: KnowledgeBase
    sync_secret: str = ""
