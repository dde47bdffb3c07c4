"""Builds the ticket domain from settings: engine, directory, store, knowledge base,
the notice scheduler and (when configured) the outbox sender."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.config import Settings
from hotline.telephony.records import CallSummary
from hotline.tickets import deadlines as dl
from hotline.tickets import workflow as wf
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.calls import satisfaction
from hotline.tickets.db import make_engine, migrate
from hotline.tickets.directory import Directory
from hotline.tickets.exceptions import TicketError
from hotline.tickets.http import TicketServices
from hotline.tickets.kb import KnowledgeBase
from hotline.tickets.models import Actor, Kind, Role, Satisfaction, Status
from hotline.tickets.notices import Notice, NoticeScheduler
from hotline.tickets.store import Notifier, TicketStore
from hotline.tickets.sync import OutboxSender

log = logging.getLogger(__name__)


def deadline_policy(settings: Settings) -> dl.DeadlinePolicy:
    working = dict(dl.DEFAULT_WORKING_DAYS)
    working.update({Kind(k): v for k, v in settings.deadline_working_days.items()})
    hours = dict(dl.DEFAULT_EMERGENCY_HOURS)
    hours.update({Kind(k): v for k, v in settings.emergency_hours.items()})
    return dl.DeadlinePolicy(
        working_days=working,
        emergency_hours=hours,
        urgent_contact=timedelta(minutes=settings.urgent_contact_minutes),
        urgent_reply=timedelta(hours=settings.urgent_reply_hours),
        max_extension_days=settings.max_extension_days,
        pause_on_extension=settings.pause_on_extension,
        remind_working_days=settings.remind_working_days,
    )


@dataclass
class Tickets:
    engine: AsyncEngine
    services: TicketServices
    scheduler: NoticeScheduler
    sender: OutboxSender | None


def build(
    settings: Settings,
    *,
    notify: Notifier | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Tickets:
    tz = ZoneInfo(settings.timezone)
    now = clock or (lambda: datetime.now(UTC).astimezone(tz))
    engine = make_engine(settings.database_url)
    calendar = WorkCalendar(
        tz=settings.timezone, holidays=settings.holidays, workdays=settings.workdays
    )
    policy = deadline_policy(settings)
    directory = Directory(engine, clock=now)
    store = TicketStore(
        engine,
        directory,
        calendar=calendar,
        clock=now,
        policy=policy,
        max_returns=settings.max_returns,
        outbox=bool(settings.sync_url),
        notify=notify,
        repeat_window=timedelta(days=settings.repeat_window_days),
    )
    kb = KnowledgeBase(engine, clock=now)

    async def send_notice(n: Notice) -> None:
        if notify is not None:
            await notify(
                f"ticket.{n.kind}",
                {
                    "number": n.number,
                    "department_id": n.department_id,
                    "due_at": n.due_at.isoformat(),
                },
            )

    scheduler = NoticeScheduler(
        engine,
        calendar=calendar,
        clock=now,
        send=send_notice,
        policy=policy,
        interval_s=settings.notice_interval_s,
    )
    sender = None
    if settings.sync_url:
        sender = OutboxSender(
            engine,
            url=settings.sync_url,
            secret=settings.sync_secret,
            clock=now,
            interval_s=settings.sync_interval_s,
            lease_s=settings.sync_lease_s,
        )
    services = TicketServices(store, directory, kb, settings.sync_secret)
    return Tickets(engine, services, scheduler, sender)


async def prepare(settings: Settings, tickets: Tickets) -> None:
    """Migrate (when configured) and make sure the bootstrap admin exists."""
    if settings.auto_migrate:
        await migrate(tickets.engine)
    if settings.admin_token:
        try:
            await tickets.services.directory.add_user(
                "admin", Role.ADMIN, name="管理员", token=settings.admin_token
            )
            log.info("created the admin user from HOTLINE_ADMIN_TOKEN")
        except IntegrityError:
            pass  # it exists already


def redis_notifier(publish: Callable[..., Awaitable[None]]) -> Notifier:
    """Publish ticket events on the Redis event stream the desks and boards read."""

    async def notify(event: str, payload: dict[str, Any]) -> None:
        await publish(event, datetime.now(UTC).timestamp(), **payload)

    return notify


def rating_hook(store: TicketStore) -> Callable[[CallSummary], Awaitable[None]]:
    """Attach a caller's post-call rating to the tickets opened on that call."""
    system = Actor(None, Role.SYSTEM, None, "ivr")

    async def attach(call: CallSummary) -> None:
        if call.stars is None:
            return
        grade = Satisfaction(satisfaction(call.stars) or "unsatisfied")
        for number in await store.numbers_for_call(call.call_id):
            ticket = await store.get(number)
            try:
                if ticket["status"] in (Status.ANSWERED.value, Status.FOLLOW_UP.value):
                    await store.act(number, wf.Rate(grade, call.stars, "ivr"), system)
                else:
                    note = f"来电后满意度评价：{call.stars} 星（{grade.value}）"
                    await store.act(number, wf.Comment(note), system)
            except TicketError as e:
                log.warning(
                    "ticket %s: rating of call %s not attached: %s", number, call.call_id, e.message
                )

    return attach
