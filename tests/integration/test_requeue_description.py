"""A waiting caller's recorded description re-queues the call in the real Redis store: an
urgent one moves it up, its department's skill goes first, its place among equals is kept,
and a call being offered is never touched (not even by an offer made mid-change)."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from redis import Redis as SyncRedis

from hotline.queue import scripts
from hotline.queue.models import PRIORITY_URGENT, Operator, OperatorState, Task
from hotline.queue.router import Router
from hotline.queue.store import RedisStore, task_score

S = OperatorState
URGENT_WATER = {"urgent": True, "urgent_reasons": ["停水"], "department": "water", "kind": "求助"}
NORMAL_WATER = {"urgent": False, "urgent_reasons": [], "department": "water", "kind": "求助"}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def general(call_id: str, at: float) -> Task:
    return Task(call_id, "general", ("general",), enqueued_at=at, line="12345", owner="i1")


async def make_router(client: aioredis.Redis, clock: Clock) -> Router:
    store = RedisStore(client, "t:")
    for op_id, skills in (("g", {"general": 3}), ("w", {"water": 3})):
        await store.upsert_operator(Operator(op_id, f"PJSIP/{op_id}", skills))
    return Router(store, "i1", clock=clock, department_skills={"water": "water"})


async def events(store: RedisStore, kind: str) -> list[dict[str, Any]]:
    return [
        json.loads(f[b"data"])
        for _, f in await store.r.xrange(store.k_events)
        if f[b"type"].decode() == kind
    ]


async def test_given_waiting_general_calls_when_descriptions_come_then_requeued_in_place(
    redis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    router = await make_router(redis, clock)
    store = router.store
    for i, call_id in enumerate(("a", "b", "c")):
        await router.enqueue(general(call_id, 1000.0 + i))
    clock.now = 1100.0
    assert (await router.estimates.waiting_info("c"))[0] == 2  # two callers ahead

    urgent = await router.described("c", URGENT_WATER)
    normal = await router.described("b", NORMAL_WATER)

    assert urgent is not None and urgent.reasons == ("urgent", "department")
    assert normal is not None and normal.reasons == ("department",)
    c, b, a = [await store.get_task(x) for x in ("c", "b", "a")]
    assert c is not None and b is not None and a is not None
    assert (c.skills, c.priority, c.enqueued_at, c.urgent) == (
        ("water", "general"),
        PRIORITY_URGENT,
        1002.0,
        True,
    )
    assert (b.skills, b.priority, b.enqueued_at, b.urgent) == (
        ("water", "general"),
        0,
        1001.0,
        False,
    )
    assert a == general("a", 1000.0)
    # The urgent call is first now; the others keep their order (a before b).
    assert [t.call_id for t in await store.waiting_tasks()] == ["c", "a", "b"]
    assert await store.position("c") == 1 and await store.position("b") == 3
    requeued = await events(store, "call.requeued")
    assert requeued[0] == {
        "call_id": "c",
        "queue": "general",
        "old_skill": "general",
        "skill": "water",
        "skills": ["water", "general"],
        "old_priority": 0,
        "priority": PRIORITY_URGENT,
        "reason": ["urgent", "department"],
        "department": "water",
        "urgent_reasons": ["停水"],
    }
    assert [e["call_id"] for e in requeued] == ["c", "b"]
    assert router._wake.is_set()
    # The waiting announcements follow at once: the urgent caller has nobody ahead now.
    assert (await router.estimates.waiting_info("c"))[0] == 0
    assert (await router.estimates.waiting_info("b"))[0] == 2
    # The same description again changes nothing (the priority is raised once).
    assert await router.described("c", URGENT_WATER) is None

    # Seats free up: the urgent water call goes to the water seat, the next to the general.
    for op_id in ("g", "w"):
        await store.set_operator_state(op_id, S.READY, clock.now)
    assert await router.route_once() == 2
    offered = {call_id: op.id for call_id, op in [router.offers.get_nowait() for _ in range(2)]}
    assert offered == {"c": "w", "a": "g"}

    # An offer not taken: the call goes back with its raised priority (the stored score).
    await router.offer_failed("c", "w", missed=False)
    assert await store.position("c") == 1
    assert float(await store.r.hget(store.k_task("c"), "score")) == task_score(c)


async def test_given_a_call_being_offered_when_its_description_comes_then_it_is_untouched(
    redis: aioredis.Redis,
) -> None:
    clock = Clock(1000.0)
    router = await make_router(redis, clock)
    store = router.store
    await router.enqueue(general("d", 1000.0))
    await store.set_operator_state("g", S.READY, 1000.0)
    assert await store.reserve("g", "d", 1001.0, 1020.0) == 1
    before = await redis.hgetall(store.k_task("d"))

    assert await router.described("d", URGENT_WATER) is None

    assert await redis.hgetall(store.k_task("d")) == before
    assert await store.waiting_count() == 0  # not put back in the queue by the change
    assert await router.described("gone", URGENT_WATER) is None
    assert await events(store, "call.requeued") == []


async def test_given_an_offer_made_mid_change_then_the_change_gives_way(
    redis: aioredis.Redis, redis_url: str
) -> None:
    """Another instance reserves the call between the read and the write: the transaction
    fails, the change looks again, sees the offer and leaves the call alone."""
    clock = Clock(1000.0)
    router = await make_router(redis, clock)
    store = router.store
    await router.enqueue(general("e", 1000.0))
    await store.set_operator_state("g", S.READY, 1000.0)
    other = SyncRedis.from_url(redis_url)
    seen: list[str | None] = []

    def change(task: Task | None, state: str | None) -> Task | None:
        seen.append(state)
        if len(seen) == 1:  # the other instance's offer lands now
            keys = [store.k_op("g"), store.k_task("e"), store.k_waiting, store.k_ready]
            other.eval(scripts.RESERVE, 5, *keys, store.k_reservations, "g", "e", 1001, 1020)
        if task is None or state != "waiting":
            return None
        return Task(task.call_id, task.queue, ("water", "general"), priority=99, enqueued_at=1.0)

    assert await store.change_waiting_task("e", change) is None
    assert seen == ["waiting", "offered"]
    task = await store.get_task("e")
    assert task is not None and (task.priority, task.skills) == (0, ("general",))
    assert await store.task_state("e") == "offered" and await store.waiting_count() == 0
    other.close()
