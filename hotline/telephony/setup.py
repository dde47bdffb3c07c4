"""Builds the call side: the ARI and AMI adapters first (other domains use ARI), then, last
of all, the Stasis controller with the hooks the other domains filled in, and starts taking
calls. On the way out calls are let go first: waiting callers handed to the dialplan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from ..config import Settings
from ..keys import AMI, ARI, CONTROLLER, HOOKS, INSTANCE, IVR, METRICS, ROUTER, SURVEYS
from .ami import AmiClient
from .ari import AriClient
from .stasis import StasisController

Ctx = Callable[[web.Application], AsyncIterator[None]]


def ari(settings: Settings) -> Ctx:
    async def ari_ctx(app: web.Application) -> AsyncIterator[None]:
        app[ARI] = AriClient(
            settings.ari_url,
            settings.ari_user,
            settings.ari_password,
            settings.ari_app,
            app[METRICS],
            settings.reconnect_initial_s,
            settings.reconnect_max_s,
        )
        yield  # connected by the calls context, closed there too

    return ari_ctx


def ami(settings: Settings) -> Ctx:
    async def ami_ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.ami_enabled:
            yield
            return
        client = AmiClient(
            settings.ami_host,
            settings.ami_port,
            settings.ami_user,
            settings.ami_secret,
            app[METRICS],
            settings.reconnect_max_s / 5,
        )
        app[AMI] = client
        await client.start()
        yield
        await client.close()

    return ami_ctx


def calls(settings: Settings) -> Ctx:
    async def calls_ctx(app: web.Application) -> AsyncIterator[None]:
        """Calls are taken last, once records, speech and AMI are wired (a resync may
        close calls that ended while no server ran), and let go first on the way out."""
        ctl = StasisController(
            app[ARI],
            app[ROUTER],
            settings,
            app[METRICS],
            app[INSTANCE],
            hooks=app[HOOKS],
            ivr=app[IVR],
            surveys=app.get(SURVEYS),
        )
        app[CONTROLLER] = ctl
        app[ROUTER].start()
        await app[ARI].start()
        yield
        if settings.hand_back_on_stop:
            await ctl.drain(settings.stop_grace_s)
        await app[ARI].close()
        await ctl.close()

    return calls_ctx
