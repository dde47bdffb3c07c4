"""Several router instances sharing one real Redis never double-book and never lose a call."""

from __future__ import annotations

import asyncio
import json
import random
import time

import redis.asyncio as aioredis

from hotline.queue.models import IllegalOperatorTransition, Operator, OperatorState, Task
from hotline.queue.router import Router
from hotline.queue.store import RedisStore

S = OperatorState


class Ledger:
    """What every instance saw, to check invariants across all of them."""

    def __init__(self) -> None:
        self.op_busy: dict[str, str] = {}
        self.call_offered: dict[str, str] = {}
        self.double_offers: list[tuple[str, str]] = []
        self.answered: set[str] = set()
        self.abandoned: set[str] = set()
        self.offers = 0


async def test_eight_routers_ten_thousand_calls_no_double_offer_no_lost_call(
    redis_url: str, redis: aioredis.Redis
) -> None:
    rng = random.Random(42)
    n_instances, n_ops, n_calls = 8, 40, 10_000
    ledger = Ledger()
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(n_instances)]
    stores = [RedisStore(c, "t:") for c in clients]
    routers: list[Router] = []
    work: set[asyncio.Task[None]] = set()
    errors: list[BaseException] = []

    def finished(t: asyncio.Task[None]) -> None:
        work.discard(t)
        if not t.cancelled() and t.exception() is not None:
            errors.append(t.exception())  # type: ignore[arg-type]

    def spawn(coro: object) -> None:
        t = asyncio.ensure_future(coro)  # type: ignore[call-overload]
        work.add(t)
        t.add_done_callback(finished)

    def make_offer_handler(idx: int):  # type: ignore[no-untyped-def]
        async def on_offer(call_id: str, op: Operator) -> None:
            ledger.offers += 1
            if op.id in ledger.op_busy:
                ledger.double_offers.append((op.id, call_id))
            if call_id in ledger.call_offered:
                ledger.double_offers.append((op.id, call_id))
            ledger.op_busy[op.id] = call_id
            ledger.call_offered[call_id] = op.id
            spawn(handle(routers[idx], call_id, op.id))

        return on_offer

    async def handle(router: Router, call_id: str, op_id: str) -> None:
        await asyncio.sleep(rng.uniform(0, 0.003))
        outcome = rng.random()
        if outcome < 0.08:  # the seat does not answer: the call keeps its place
            del ledger.op_busy[op_id], ledger.call_offered[call_id]
            await router.offer_failed(call_id, op_id, missed=rng.random() < 0.5)
            if rng.random() < 0.7:
                await ready_again(router, op_id)
            return
        if outcome < 0.11:  # the caller hangs up while the seat rings
            del ledger.op_busy[op_id], ledger.call_offered[call_id]
            if await router.leave(call_id, "abandon"):
                ledger.abandoned.add(call_id)
            return
        wait = await router.answered(call_id, op_id)
        if wait is None:
            # The caller hung up while the seat was answering (the enqueue loop abandons
            # random calls): the call must be gone, and the seat freed by that hang-up.
            assert await router.store.task_state(call_id) is None, call_id
            del ledger.op_busy[op_id], ledger.call_offered[call_id]
            return
        ledger.answered.add(call_id)
        del ledger.call_offered[call_id]
        await asyncio.sleep(rng.uniform(0, 0.002))
        del ledger.op_busy[op_id]
        await router.operators.call_ended(op_id, 1.0)

    async def ready_again(router: Router, op_id: str) -> None:
        try:
            await router.operators.set_state(op_id, S.READY)
        except IllegalOperatorTransition:
            pass  # the seat moved on meanwhile (offered again, or went on a break): refused

    for i, store in enumerate(stores):
        routers.append(Router(store, f"inst{i}", ring_timeout_s=30, wrapup_s=0.001, tick_s=0.05))
    for j in range(n_ops):
        await stores[0].upsert_operator(Operator(f"op{j}", f"PJSIP/{j}", {"general": 3}))
        await routers[0].operators.set_state(f"op{j}", S.READY)

    async def take_offers(idx: int) -> None:  # what each instance's call side does
        on_offer = make_offer_handler(idx)
        while True:
            call_id, op = await routers[idx].offers.get()
            await on_offer(call_id, op)

    takers = [asyncio.create_task(take_offers(i)) for i in range(n_instances)]
    for r in routers:
        r.start()

    async def churn() -> None:
        """Operators take breaks and come back at random."""
        while True:
            await asyncio.sleep(0.01)
            op_id = f"op{rng.randrange(n_ops)}"
            op = await stores[0].get_operator(op_id)
            if op is None:
                continue
            router = rng.choice(routers)
            if op.state is S.READY:
                await stores[0].set_operator_state(
                    op_id, S.NOT_READY, time.time(), "break", allowed_from=[S.READY]
                )
            elif op.state is S.NOT_READY:
                await ready_again(router, op_id)

    churner = asyncio.create_task(churn())
    call_ids = [f"c{k}" for k in range(n_calls)]
    for k, call_id in enumerate(call_ids):
        idx = k % n_instances
        await routers[idx].enqueue(
            Task(call_id, "general", ("general",), enqueued_at=time.time(), owner=f"inst{idx}")
        )
        if k % 50 == 0:
            await asyncio.sleep(0)
        if rng.random() < 0.01:  # a caller gives up while still queued (if still there)
            await routers[idx].leave(call_ids[rng.randrange(k + 1)], "abandon")

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if errors or churner.done():
            break
        if await stores[0].waiting_count() == 0 and not ledger.call_offered and not work:
            break
        await asyncio.sleep(0.1)
    assert not churner.done(), churner  # a dead churner would leave every seat not ready
    churner.cancel()
    for r in routers:
        await r.stop()
    for t in takers:
        t.cancel()

    assert errors == []
    assert ledger.double_offers == []
    assert not ledger.call_offered, "offers still open at the end"
    still_queued = {t.call_id for t in await stores[0].waiting_tasks()}
    # Every call is answered, abandoned, or still queued: none is lost.
    abandoned_in_queue = {
        c
        for c in call_ids
        if c not in ledger.answered and c not in ledger.abandoned and c not in still_queued
    }
    queue_leavers = await _abandoned_while_queued(redis, abandoned_in_queue)
    lost = abandoned_in_queue - queue_leavers
    assert lost == set()
    assert len(ledger.answered) > n_calls * 0.8
    for c in clients:
        await c.aclose()


async def _abandoned_while_queued(redis: aioredis.Redis, candidates: set[str]) -> set[str]:
    """Calls whose abandonment the router published on the event stream."""
    found: set[str] = set()
    last = "0-0"
    while True:
        batch = await redis.xread({"t:events": last}, count=5000)
        if not batch:
            break
        for entry_id, fields in batch[0][1]:
            last = entry_id
            if fields[b"type"] == b"call.abandoned":
                found.add(json.loads(fields[b"data"])["call_id"])
    return found & candidates
