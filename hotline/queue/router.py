"""The router loop: turns the pure policy into reservations and offers.

It wakes on enqueue, on an operator becoming ready, on a periodic tick (which also moves
calls across widening steps, expires stale reservations and ends wrap-up), and routes
every waiting call it can. Several instances may share one Redis: reservations are atomic,
and an offer for a call owned by another instance goes to that instance's inbox.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .estimates import QueueEstimates
from .models import Operator, OperatorState, Task
from .operators import OperatorStates
from .policy import Description, PolicyConfig, Refinement, plan_assignments, refine_waiting
from .store import RedisStore
from .wait import OverflowPolicy, WaitEstimator

log = logging.getLogger(__name__)

S = OperatorState


@dataclass
class RouterStats:
    passes: int = 0
    offers: int = 0
    lost_races: int = 0
    expired: int = 0


class Router:
    """Routes waiting calls to free seats; owns the operator states and the estimates it
    routes by. Offers for this instance's calls are put on :attr:`offers` for the call
    side to take; offers for another instance's calls go to that instance's inbox."""

    def __init__(
        self,
        store: RedisStore,
        instance_id: str,
        policy: PolicyConfig = PolicyConfig(),
        ring_timeout_s: float = 10.0,
        wrapup_s: float = 5.0,
        tick_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        wait: WaitEstimator | None = None,
        overflow: OverflowPolicy = OverflowPolicy(),
        department_skills: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.instance_id = instance_id
        self.policy = policy
        self.ring_timeout_s = ring_timeout_s
        self.tick_s = tick_s
        self.clock = clock
        self.stats = RouterStats()
        self.department_skills = dict(department_skills or {})
        self.offers: asyncio.Queue[tuple[str, Operator]] = asyncio.Queue()
        self.operators = OperatorStates(store, wrapup_s, clock, on_ready=self.wake)
        self.estimates = QueueEstimates(store, wait, overflow, clock, every_s=max(tick_s, 2.0))
        self.head_margin = 200
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop(), name="router-loop"),
            asyncio.create_task(self._inbox_loop(), name="router-inbox"),
        ]

    async def stop(self) -> None:
        # A flag as well as cancel(): a Redis call interrupted by cancellation may surface
        # as a connection error, which the loops would otherwise log and retry forever.
        self._stopping = True
        for t in self._tasks:
            t.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=3.0)
        self.operators.stop()

    def wake(self) -> None:
        self._wake.set()

    # -- calls ---------------------------------------------------------------------------

    async def enqueue(self, task: Task) -> Task:
        kept = await self.store.enqueue(task)
        if task.owner == self.instance_id:
            self.estimates.own(task.call_id)
        if kept.enqueued_at == task.enqueued_at:
            await self.store.publish(
                "call.queued",
                self.clock(),
                call_id=task.call_id,
                queue=task.queue,
                skills=list(task.skills),
                priority=task.priority,
                line=task.line,
            )
        self.wake()
        return kept

    async def leave(self, call_id: str, reason: str) -> tuple[str, str, float] | None:
        """The caller hung up or left the queue; frees a reserved operator too."""
        now = self.clock()
        removed = await self.store.remove_task(call_id, now)
        if removed is None:
            return None
        state, op_id, enqueued_at = removed
        await self._forget(call_id)
        if state == "offered" and op_id:
            status, _ = await self.store.set_operator_state(
                op_id, S.READY, now, allowed_from=[S.RESERVED]
            )
            if status == "ok":
                await self.store.publish("agent.state", now, operator=op_id, state="ready")
            self.wake()
        await self.store.publish(
            "call.abandoned" if reason == "abandon" else "call.left",
            now,
            call_id=call_id,
            wait=round(now - enqueued_at, 3),
            reason=reason,
        )
        return removed

    async def offer_failed(self, call_id: str, op_id: str, missed: bool) -> bool:
        """The seat did not answer (missed: it goes not-ready) or could not be rung (it
        stays ready but is skipped for this call). The call keeps its place."""
        now = self.clock()
        target = S.NOT_READY if missed else S.READY
        exclude = () if missed else (op_id,)
        task = await self.store.get_task(call_id)
        excluded = set(task.excluded) if task else set()
        res = await self.store.release(
            op_id,
            call_id,
            target,
            now,
            "missed_call" if missed else "",
            exclude=excluded | set(exclude),
        )
        if res & 1:
            await self.store.publish(
                "agent.state",
                now,
                operator=op_id,
                state=target.value,
                reason="missed_call" if missed else "",
            )
        self.wake()
        return bool(res & 2)

    async def answered(self, call_id: str, op_id: str) -> float | None:
        now = self.clock()
        task = await self.store.get_task(call_id)
        if not await self.store.answered(op_id, call_id, now):
            return None
        wait = now - task.enqueued_at if task else 0.0
        if task:
            self.estimates.wait.answered(task.queue, now)
        await self._forget(call_id)
        await self.store.publish(
            "call.answered", now, call_id=call_id, operator=op_id, wait=round(wait, 3)
        )
        await self.store.publish("agent.state", now, operator=op_id, state=S.ON_CALL.value)
        return wait

    async def described(self, call_id: str, draft: Mapping[str, Any]) -> Refinement | None:
        """The draft of what a waiting caller recorded is known: an urgent one raises the
        call's priority, and a call on the general skill gets its department's skill first.
        Nothing changes for a call already offered, answered or gone."""
        description = Description.from_draft(draft)
        made: list[Refinement] = []

        def change(task: Task | None, state: str | None) -> Task | None:
            made.clear()
            refined = refine_waiting(task, state, description, self.department_skills)
            if refined is None:
                return None
            made.append(refined)
            return refined.task

        changed = await self.store.change_waiting_task(call_id, change)
        if changed is None:
            return None
        old, new = changed
        log.info(
            "call %s requeued: %s, skills %s -> %s, priority %d -> %d",
            call_id,
            "+".join(made[0].reasons),
            ",".join(old.skills),
            ",".join(new.skills),
            old.priority,
            new.priority,
        )
        await self.store.publish(
            "call.requeued",
            self.clock(),
            call_id=call_id,
            queue=new.queue,
            old_skill=old.skill,
            skill=new.skill,
            skills=list(new.skills),
            old_priority=old.priority,
            priority=new.priority,
            reason=list(made[0].reasons),
            department=description.department,
            urgent_reasons=list(description.urgent_reasons),
        )
        self.estimates.stale()
        self.wake()
        return made[0]

    async def release_offer(self, call_id: str, op_id: str) -> None:
        """Undo a reservation nobody is to blame for (the ring was lost in a restart): the
        seat is ready again and the call keeps its place, open to the same seat."""
        task = await self.store.get_task(call_id)
        excluded = set(task.excluded) if task else set()
        res = await self.store.release(op_id, call_id, S.READY, self.clock(), exclude=excluded)
        if res & 1:
            await self.store.publish("agent.state", self.clock(), operator=op_id, state="ready")
        self.wake()

    # -- routing -------------------------------------------------------------------------

    async def route_once(self) -> int:
        """One routing pass over all waiting calls; returns how many offers it made."""
        self.stats.passes += 1
        # Seats first: in a surge most passes find none, and then the queue is not read
        # at all. Then only the head of the queue: a pass can fill at most as many calls
        # as there are free seats, and the margin lets skilled calls behind an
        # unservable head through.
        operators = await self.store.ready_operators(
            with_counters=self.policy.order != "longest_idle"
        )
        if not operators:
            return 0
        tasks = await self.store.waiting_tasks(limit=self.head_margin + 10 * len(operators))
        if not tasks:
            return 0
        now = self.clock()
        made = 0
        for a in plan_assignments(tasks, operators, now, self.policy):
            deadline = now + self.ring_timeout_s + 5.0
            res = await self.store.reserve(a.operator.id, a.task.call_id, now, deadline)
            if res != 1:
                self.stats.lost_races += 1
                continue
            made += 1
            self.stats.offers += 1
            await self.store.publish(
                "call.offered", now, call_id=a.task.call_id, operator=a.operator.id, level=a.level
            )
            await self._deliver(a.task, a.operator)  # the ring first, then the desks hear
            await self.store.publish(
                "agent.state", now, operator=a.operator.id, state=S.RESERVED.value
            )
        return made

    async def _deliver(self, task: Task, op: Operator) -> None:
        if task.owner and task.owner != self.instance_id:
            await self.store.push_offer(task.owner, task.call_id, op.id)
            return
        self.offers.put_nowait((task.call_id, op))

    async def expire_reservations(self) -> int:
        """Safety net: reservations whose owner never answered or failed them."""
        now = self.clock()
        n = 0
        for call_id in await self.store.expired_reservations(now):
            op_id = await self.store.reservation_operator(call_id)
            log.warning("reservation of call %s to %s expired", call_id, op_id or "?")
            if op_id:
                await self.offer_failed(call_id, op_id, missed=True)
            else:
                await self.store.drop_reservation(call_id)
            n += 1
        self.stats.expired += n
        return n

    async def _forget(self, call_id: str) -> None:
        self.estimates.forget(call_id)
        await self.store.forget_task_queue(call_id)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_s)
            except TimeoutError:
                await self._safe(self.expire_reservations)
                await self._safe(self.estimates.update)
            self._wake.clear()
            await self._safe(self.route_once)

    async def _inbox_loop(self) -> None:
        while not self._stopping:
            try:
                item = await self.store.pop_offer(self.instance_id, timeout_s=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("router inbox read failed")
                await asyncio.sleep(1.0)
                continue
            if item is None:
                continue
            call_id, op_id = item
            op = await self.store.get_operator(op_id)
            if op is not None:
                self.offers.put_nowait((call_id, op))

    async def _safe(self, fn: Callable[[], Awaitable[int]]) -> None:
        try:
            await fn()
        except asyncio.CancelledError:
            raise
        except Exception:
            # Redis down or a bug: log, and try again on the next tick. Callers keep
            # hearing music; the dialplan fallback covers a dead server.
            log.exception("router pass failed")
            await asyncio.sleep(min(self.tick_s, 1.0))
