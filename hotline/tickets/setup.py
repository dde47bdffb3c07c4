"""Builds the ticket domain: the database and its services, the notice scheduler, the call
log and the outbox sender; fills the call hooks that record calls, attach post-call ratings
and read a ticket's status to the IVR. Calls flow without the database: ticket routes answer
503 until it is back, and call records wait in the log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from ..config import Settings
from ..keys import HOOKS, STORE
from . import http, kb, portal_http, service
from .calls import CallLog
from .exceptions import TicketNotFound

log = logging.getLogger(__name__)
Ctx = Callable[[web.Application], AsyncIterator[None]]


def safe_url(url: str) -> str:
    """A database URL without its password, for logs."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, cred = head.partition("://")
    return f"{scheme}://{cred.split(':')[0]}:***@{tail}"


def tickets(settings: Settings) -> Ctx:
    async def tickets_ctx(app: web.Application) -> AsyncIterator[None]:
        async def publish(event: str, now: float, **data: Any) -> None:
            await app[STORE].publish(event, now, **data)

        tickets = service.build(settings, notify=service.redis_notifier(publish))
        http.install(app, tickets.services)
        await portal_http.install(app)
        try:
            await service.prepare(settings, tickets)
        except Exception:
            # Calls must flow without the database; ticket routes answer 503 until it is back.
            log.exception("ticket database not ready at %s", safe_url(settings.database_url))

        async def ticket_status(number: str) -> str | None:
            try:
                return str((await tickets.services.tickets.get(number))["status"])
            except TicketNotFound:
                return None

        await asyncio.to_thread(kb.warm)  # jieba's dictionary, off the event loop
        call_log = CallLog(tickets.engine)
        hooks = app[HOOKS]
        hooks.on_call_end = call_log.put
        hooks.on_rating = service.rating_hook(tickets.services.tickets)
        hooks.ticket_status = ticket_status
        tasks = [
            asyncio.create_task(tickets.scheduler.run(), name="ticket-notices"),
            asyncio.create_task(call_log.run(), name="call-log"),
        ]
        if tickets.sender is not None:
            tasks.append(asyncio.create_task(tickets.sender.run(), name="ticket-outbox"))
        yield
        tickets.scheduler.stop()
        await call_log.stop()
        if tickets.sender is not None:
            tickets.sender.stop()
        await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()
        await tickets.engine.dispose()

    return tickets_ctx
