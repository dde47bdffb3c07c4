"""Composition root: builds the adapters, wires the domains, starts and stops them.

``create_app`` is used by ``hotline serve``, ``hotline demo`` and the tests alike. Each
resource is one ``cleanup_ctx`` entry, started in order and stopped in reverse.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from .agent_desk import events
from .agent_desk import setup as desk_setup
from .agent_desk.http import add_routes, error_middleware
from .agent_desk.pages import security_headers
from .asr import http as asr_http
from .asr import setup as asr_setup
from .config import Settings
from .embedded_redis import EmbeddedRedis
from .ivr import http as ivr_http
from .ivr import setup as ivr_setup
from .keys import HOOKS, INSTANCE, LOOP_LAG, METRICS, REDIS, SETTINGS
from .metrics import Metrics
from .queue import setup as queue_setup
from .surveys import setup as surveys_setup
from .telephony import setup as telephony_setup
from .telephony.hooks import CallHooks
from .tickets import http as ticket_http
from .tickets import portal_http
from .tickets import setup as tickets_setup
from .web.access import auth_middleware

log = logging.getLogger(__name__)


Ctx = Callable[[web.Application], AsyncIterator[None]]


def instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def create_app(settings: Settings, redis_client: aioredis.Redis | None = None) -> web.Application:
    """The server: each domain builds its parts in its own ``setup`` module; this only orders
    them. Started in order, stopped in reverse: calls are taken last and let go first."""
    app = web.Application(middlewares=[security_headers, error_middleware, auth_middleware])
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[METRICS].init_lines([(line.skill, line.number) for line in settings.lines])
    app[LOOP_LAG] = collections.deque(maxlen=100_000)
    app[INSTANCE] = instance_id()
    app[HOOKS] = CallHooks()  # filled by the ticket and speech domains, then given to the calls
    add_routes(app)
    desk_setup.routes(app)
    api = ticket_http.api()
    for op in [*ivr_http.ops(), *asr_http.ops(), *events.ops(), *portal_http.ops()]:
        api.add(op)
    api.mount(app)
    contexts = (
        _redis(settings, redis_client),
        queue_setup.routing(settings),
        telephony_setup.ari(settings),
        ivr_setup.runtime(settings),
        tickets_setup.tickets(settings),
        surveys_setup.surveys(settings),
        asr_setup.speech(settings),
        desk_setup.desk(settings),
        telephony_setup.ami(settings),
        _loop_lag,
        telephony_setup.calls(settings),
    )
    app.cleanup_ctx.extend(_timed(ctx) for ctx in contexts)
    return app


def _redis(settings: Settings, given: aioredis.Redis | None) -> Ctx:
    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        embedded = None
        if given is not None:
            client = given
        elif settings.redis_url:
            client = aioredis.Redis.from_url(settings.redis_url)
        else:
            embedded = EmbeddedRedis(Path(settings.data_dir))
            client = await embedded.start()
        app[REDIS] = client
        yield
        if embedded is not None:
            await embedded.stop(client)
        if given is None:
            await client.aclose()

    return redis_ctx


async def _loop_lag(app: web.Application) -> AsyncIterator[None]:
    async def watch() -> None:
        interval = 0.05
        while True:
            t0 = time.perf_counter()
            await asyncio.sleep(interval)
            lag = max(0.0, time.perf_counter() - t0 - interval)
            app[LOOP_LAG].append(lag)
            app[METRICS].loop_lag.observe(lag)

    task = asyncio.create_task(watch(), name="loop-lag")
    yield
    task.cancel()


def _timed(
    ctx: Callable[[web.Application], AsyncIterator[None]],
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that says how long its stop took (a stop should take seconds)."""

    async def timed(app: web.Application) -> AsyncIterator[None]:
        gen = ctx(app)
        await anext(gen)
        yield
        t0 = time.perf_counter()
        with contextlib.suppress(StopAsyncIteration):
            await anext(gen)
        log.info("stopped %s in %.2fs", ctx.__name__.removesuffix("_ctx"), time.perf_counter() - t0)

    timed.__name__ = ctx.__name__
    return timed
