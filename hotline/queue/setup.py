"""Builds the routing domain: the Redis store, the seats from the settings, the router, and
the call hook by which a waiting caller's described problem re-queues the call."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from ..config import Settings
from ..keys import HOOKS, INSTANCE, REDIS, ROUTER, STORE
from .models import Operator, widening_from_steps
from .policy import PolicyConfig
from .router import Router
from .store import RedisStore
from .wait import OverflowPolicy, WaitEstimator

Ctx = Callable[[web.Application], AsyncIterator[None]]


def routing(settings: Settings) -> Ctx:
    async def routing_ctx(app: web.Application) -> AsyncIterator[None]:
        store = RedisStore(app[REDIS], settings.redis_prefix)
        for seat in settings.operators:
            await store.upsert_operator(
                Operator(
                    id=seat.id,
                    endpoint=seat.endpoint,
                    skills=dict(seat.skills),
                    languages=frozenset(seat.languages),
                )
            )
        router = Router(
            store,
            app[INSTANCE],
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
            department_skills=settings.department_skills,
        )
        app[STORE], app[ROUTER] = store, router
        app[HOOKS].on_description_draft = router.described  # called by speech, built later
        yield
        await router.stop()  # started by the call side, once calls are taken

    return routing_ctx
