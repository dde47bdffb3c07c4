"""Builds the follow-up survey calls, when switched on: they need the tickets and ARI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from ..config import Settings
from ..keys import ARI, SURVEYS
from ..tickets.http import SERVICES
from .calls import SurveyPolicy, SurveyScheduler

Ctx = Callable[[web.Application], AsyncIterator[None]]


def surveys(settings: Settings) -> Ctx:
    async def surveys_ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.survey_enabled:
            yield
            return
        store = app[SERVICES].tickets
        scheduler = SurveyScheduler(
            store,
            app[ARI],
            clock=store.clock,
            endpoint=settings.callback_endpoint,
            caller_id=settings.callback_caller_id,
            policy=SurveyPolicy.from_settings(settings),
            interval_s=settings.survey_interval_s,
        )
        app[SURVEYS] = scheduler
        task = asyncio.create_task(scheduler.run(), name="follow-up-surveys")
        yield
        scheduler.stop()
        await asyncio.wait([task], timeout=5)
        task.cancel()

    return surveys_ctx
