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
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from .agent_desk.http import add_routes, error_middleware
from .agent_desk.keys import (
    AMI,
    ARI,
    CONTROLLER,
    LOOP_LAG,
    METRICS,
    REDIS,
    ROUTER,
    SETTINGS,
    STORE,
)
from .asr import http as asr_http
from .asr import service as asr_service
from .config import Settings
from .embedded_redis import EmbeddedRedis
from .ivr import http as ivr_http
from .ivr.runtime import BUILT_IN, IvrRuntime
from .metrics import Metrics
from .queue.models import Operator, widening_from_steps
from .queue.policy import PolicyConfig
from .queue.router import Router
from .queue.store import RedisStore
from .queue.wait import OverflowPolicy, WaitEstimator
from .surveys.calls import SurveyPolicy, SurveyScheduler
from .telephony.ami import AmiClient
from .telephony.ari import AriClient
from .telephony.stasis import StasisController
from .tickets import http as ticket_http
from .tickets import service as ticket_service
from .tickets.calls import CallLog
from .tickets.exceptions import TicketNotFound

log = logging.getLogger(__name__)


SURVEYS = web.AppKey("surveys", SurveyScheduler)


def _safe_url(url: str) -> str:
    """A database URL without its password, for logs."""
    head, sep, tail = url.rpartition("@")
    if not sep:
        return url
    scheme, _, cred = head.partition("://")
    return f"{scheme}://{cred.split(':')[0]}:***@{tail}"


def instance_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def create_app(settings: Settings, redis_client: aioredis.Redis | None = None) -> web.Application:
    app = web.Application(middlewares=[error_middleware])
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    app[METRICS].init_lines([(line.skill, line.number) for line in settings.lines])
    app[LOOP_LAG] = collections.deque(maxlen=100_000)
    add_routes(app)
    api = ticket_http.api()
    for op in [*ivr_http.ops(), *asr_http.ops()]:
        api.add(op)
    api.mount(app)

    async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
        embedded = None
        if redis_client is not None:
            client = redis_client
        elif settings.redis_url:
            client = aioredis.Redis.from_url(settings.redis_url)
        else:
            embedded = EmbeddedRedis(Path(settings.data_dir))
            client = await embedded.start()
        app[REDIS] = client
        yield
        if embedded is not None:
            await embedded.stop(client)
        if redis_client is None:
            await client.aclose()

    async def routing_ctx(app: web.Application) -> AsyncIterator[None]:
        store = RedisStore(app[REDIS], settings.redis_prefix)
        app[STORE] = store
        for seat in settings.operators:
            await store.upsert_operator(
                Operator(
                    id=seat.id,
                    endpoint=seat.endpoint,
                    skills=dict(seat.skills),
                    languages=frozenset(seat.languages),
                )
            )
        iid = instance_id()
        ari = AriClient(
            settings.ari_url,
            settings.ari_user,
            settings.ari_password,
            settings.ari_app,
            app[METRICS],
            settings.reconnect_initial_s,
            settings.reconnect_max_s,
        )
        holder: dict[str, StasisController] = {}

        async def on_offer(call_id: str, op: Operator) -> None:
            await holder["ctl"].on_offer(call_id, op)

        router = Router(
            store,
            iid,
            on_offer,
            PolicyConfig(widening_from_steps(settings.widening_steps_s), settings.operator_order),
            ring_timeout_s=settings.ring_timeout_s,
            wrapup_s=settings.wrapup_s,
            tick_s=settings.router_tick_s,
            wait=WaitEstimator(settings.answer_rate_half_life_s, settings.mean_handle_s),
            overflow=OverflowPolicy(
                settings.overflow_announce_after_s,
                settings.overflow_callback_after_s,
                settings.overflow_divert_after_s,
                settings.overflow_divert_queue,
            ),
        )
        ctl = StasisController(ari, router, settings, app[METRICS], iid)
        ctl.ivr = IvrRuntime(
            Path(settings.ivr_flows_dir) if settings.ivr_flows_dir else BUILT_IN,
            store,
            timezone=settings.timezone,
            greeting=settings.greeting_sound.removeprefix("sound:"),
        )
        ctl.ivr.start()
        holder["ctl"] = ctl
        app[ROUTER], app[ARI], app[CONTROLLER] = router, ari, ctl
        yield
        await ctl.ivr.stop()
        await router.stop()

    async def calls_ctx(app: web.Application) -> AsyncIterator[None]:
        """Calls are taken last, once records, speech and AMI are wired (a resync may
        close calls that ended while no server ran), and let go first on the way out."""
        router, ari, ctl = app[ROUTER], app[ARI], app[CONTROLLER]
        router.start()
        await ari.start()
        yield
        if settings.hand_back_on_stop:
            await ctl.drain(settings.stop_grace_s)
        await ari.close()
        await ctl.close()

    async def ami_ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.ami_enabled:
            yield
            return
        ami = AmiClient(
            settings.ami_host,
            settings.ami_port,
            settings.ami_user,
            settings.ami_secret,
            app[METRICS],
            settings.reconnect_max_s / 5,
        )
        app[AMI] = ami
        await ami.start()
        yield
        await ami.close()

    async def loop_lag_ctx(app: web.Application) -> AsyncIterator[None]:
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

    async def tickets_ctx(app: web.Application) -> AsyncIterator[None]:
        async def publish(event: str, now: float, **data: Any) -> None:
            await app[STORE].publish(event, now, **data)

        tickets = ticket_service.build(settings, notify=ticket_service.redis_notifier(publish))
        ticket_http.install(app, tickets.services)
        try:
            await ticket_service.prepare(settings, tickets)
        except Exception:
            # Calls must flow without the database; ticket routes answer 503 until it is back.
            log.exception("ticket database not ready at %s", _safe_url(settings.database_url))

        async def ticket_status(number: str) -> str | None:
            try:
                return str((await tickets.services.store.get(number))["status"])
            except TicketNotFound:
                return None

        ivr_runtime = app[CONTROLLER].ivr
        if ivr_runtime is not None:
            ivr_runtime.lookup = ticket_status
        call_log = CallLog(tickets.engine)
        app[CONTROLLER].on_call_end = call_log.put
        app[CONTROLLER].on_rating = ticket_service.rating_hook(tickets.services.store)
        tasks = [
            asyncio.create_task(tickets.scheduler.run(), name="ticket-notices"),
            asyncio.create_task(call_log.run(), name="call-log"),
        ]
        surveys = None
        if settings.survey_enabled:
            surveys = SurveyScheduler(
                tickets.services.store,
                app[ARI],
                clock=tickets.services.store.clock,
                endpoint=settings.callback_endpoint,
                caller_id=settings.callback_caller_id,
                policy=SurveyPolicy.from_settings(settings),
                interval_s=settings.survey_interval_s,
            )
            app[CONTROLLER].surveys = surveys
            app[SURVEYS] = surveys
            tasks.append(asyncio.create_task(surveys.run(), name="follow-up-surveys"))
        if tickets.sender is not None:
            tasks.append(asyncio.create_task(tickets.sender.run(), name="ticket-outbox"))
        yield
        tickets.scheduler.stop()
        if surveys is not None:
            surveys.stop()
        await call_log.stop()
        if tickets.sender is not None:
            tickets.sender.stop()
        await asyncio.wait(tasks, timeout=5)
        for task in tasks:
            task.cancel()
        await tickets.engine.dispose()

    async def asr_ctx(app: web.Application) -> AsyncIterator[None]:
        """Live transcripts; without a model (or if the workers cannot start) calls go on
        without them."""
        live = None
        if settings.asr_enabled:

            async def publish(event: str, now: float, **data: Any) -> None:
                await app[STORE].publish(event, now, **data)

            try:
                live = await asr_service.start(settings, app[ARI], publish, app[METRICS])
            except Exception as exc:
                log.error("speech recognition off: %s", exc)
        if live is not None:
            app[asr_http.TRANSCRIBER] = live.transcriber
            ctl = app[CONTROLLER]
            ctl.on_connected = live.transcriber.connected
            ctl.on_description = live.transcriber.describe
            if ctl.on_call_end is not None:
                ctl.on_call_end = asr_service.with_transcript(live.transcriber, ctl.on_call_end)
        yield
        if live is not None:
            await live.stop()

    app.cleanup_ctx.extend(
        _timed(ctx)
        for ctx in (redis_ctx, routing_ctx, tickets_ctx, asr_ctx, ami_ctx, loop_lag_ctx, calls_ctx)
    )
    return app


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
