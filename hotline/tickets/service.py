"""Builds the ticket domain from settings: engine, directory, store and the use cases over
it, knowledge base, the notice scheduler and (when configured) the outbox sender."""

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
from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.db import make_engine, migrate
from hotline.tickets.directory import Directory
from hotline.tickets.kb import KnowledgeBase
from hotline.tickets.models import Kind, Role
from hotline.tickets.notices import NoticeScheduler
from hotline.tickets.services import Notifier, TicketService, TicketServices, notice_sender
from hotline.tickets.store import TicketStore
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
    store = TicketStore(engine, clock=now, tz=calendar.tz, outbox=bool(settings.sync_url))
    service = TicketService(
        store,
        directory,
        calendar=calendar,
        policy=policy,
        max_returns=settings.max_returns,
        notify=notify,
        repeat_window=timedelta(days=settings.repeat_window_days),
    )
    kb = KnowledgeBase(engine, clock=now)
    scheduler = NoticeScheduler(
        engine,
        calendar=calendar,
        clock=now,
        send=notice_sender(notify),
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
    services = TicketServices(service, directory, kb, settings.sync_secret)
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


def rating_hook(tickets: TicketService) -> Callable[[CallSummary], Awaitable[None]]:
    """Attach a caller's post-call rating to the tickets opened on that call."""

    async def attach(call: CallSummary) -> None:
        if call.stars is not None:
            await tickets.attach_call_rating(call.call_id, call.stars)

    return attach
