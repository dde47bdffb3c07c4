"""Builds the IVR domain: the flows in force and the runtime flags."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from ..config import Settings
from ..keys import IVR, STORE
from .runtime import BUILT_IN, IvrRuntime

Ctx = Callable[[web.Application], AsyncIterator[None]]


def runtime(settings: Settings) -> Ctx:
    async def ivr_ctx(app: web.Application) -> AsyncIterator[None]:
        rt = IvrRuntime(
            Path(settings.ivr_flows_dir) if settings.ivr_flows_dir else BUILT_IN,
            app[STORE],
            timezone=settings.timezone,
            greeting=settings.greeting_sound.removeprefix("sound:"),
        )
        rt.start()
        app[IVR] = rt
        yield
        await rt.stop()

    return ivr_ctx
