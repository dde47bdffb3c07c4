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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from ..errors import HotlineError
from .models import Operator, OperatorState, Task, check_operator_transition
from .policy import PolicyConfig, plan_assignments
from .store import RedisStore
from .wait import OverflowAction, OverflowPolicy, WaitEstimator, overflow_action

log = logging.getLogger(__name__)

OfferHandler = Callable[[str, Operator], Awaitable[None]]
_ESCALATION: tuple[OverflowAction, ...] = ("none", "announce", "callback", "divert")
S = OperatorState


@dataclass
class RouterStats:
    passes: int = 0
    offers: int = 0
    lost_races: int = 0
    expired: int = 0


class Router:
    def __init__(
        self,
        store: RedisStore,
        instance_id: str,
        on_offer: OfferHandler,
        policy: PolicyConfig = PolicyConfig(),
        ring_timeout_s: float = 10.0,
        wrapup_s: float = 5.0,
        tick_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        wait: WaitEstimator | None = None,
        overflow: OverflowPolicy = OverflowPolicy(),
    ) -> None:
        self.store = store
        self.instance_id = instance_id
        self.on_offer = on_offer
        self.policy = policy
        self.ring_timeout_s = ring_timeout_s
        self.wrapup_s = wrapup_s
        self.tick_s = tick_s
        self.clock = clock
        self.stats = RouterStats()
        self.wait = wait or WaitEstimator()
        self.overflow = overflow
        self.estimates: dict[str, tuple[int, float]] = {}
        self._escalated: dict[str, OverflowAction] = {}
        self._staffed: tuple[float, dict[str, int]] = (0.0, {})
        self._owned: set[str] = set()
        self._estimated_at = 0.0
        self.estimate_every_s = max(tick_s, 2.0)
        self.head_margin = 200
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._wrapup_timers: dict[str, asyncio.TimerHandle] = {}
        self._pending: set[asyncio.Future[None]] = set()

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
        for h in self._wrapup_timers.values():
            h.cancel()

    def wake(self) -> None:
        self._wake.set()

    # -- calls ---------------------------------------------------------------------------

    async def enqueue(self, task: Task) -> Task:
        kept = await self.store.enqueue(task)
        if task.owner == self.instance_id:
            self._owned.add(task.call_id)
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
            await self.store.set_operator_state(op_id, S.READY, now, allowed_from=[S.RESERVED])
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
            self.wait.answered(task.queue, now)
        await self._forget(call_id)
        await self.store.publish(
            "call.answered", now, call_id=call_id, operator=op_id, wait=round(wait, 3)
        )
        await self.store.publish("agent.state", now, operator=op_id, state=S.ON_CALL.value)
        return wait

    async def call_ended(self, op_id: str, talk_seconds: float) -> None:
        now = self.clock()
        await self.store.add_talk_seconds(op_id, talk_seconds)
        status, _ = await self.store.set_operator_state(
            op_id, S.WRAP_UP, now, allowed_from=[S.ON_CALL]
        )
        if status == "ok":
            await self.store.set_operator_fields(op_id, wrapup_until=now + self.wrapup_s)
            await self.store.publish("agent.state", now, operator=op_id, state="wrap_up")
            self._schedule_wrapup_end(op_id, self.wrapup_s)

    async def release_offer(self, call_id: str, op_id: str) -> None:
        """Undo a reservation nobody is to blame for (the ring was lost in a restart): the
        seat is ready again and the call keeps its place, open to the same seat."""
        task = await self.store.get_task(call_id)
        excluded = set(task.excluded) if task else set()
        res = await self.store.release(op_id, call_id, S.READY, self.clock(), exclude=excluded)
        if res & 1:
            await self.store.publish("agent.state", self.clock(), operator=op_id, state="ready")
        self.wake()

    async def resume_wrapup(self, op_id: str) -> None:
        """A wrap-up whose timer died with another process ends when it was due."""
        if op_id not in self._wrapup_timers:
            self._schedule_wrapup_end(
                op_id, max(0.0, await self.store.wrapup_until(op_id) - self.clock())
            )

    # -- operators -----------------------------------------------------------------------

    async def set_operator_state(
        self, op_id: str, state: OperatorState, reason: str = "", extend_wrapup_s: float = 0.0
    ) -> str:
        """Apply an operator's (or supervisor's) request; returns the previous state."""
        op = await self.store.get_operator(op_id)
        if op is None:
            raise HotlineError(f"unknown operator {op_id}", operator=op_id)
        now = self.clock()
        if state is S.WRAP_UP and op.state is S.WRAP_UP and extend_wrapup_s > 0:
            await self.store.set_operator_fields(op_id, wrapup_until=now + extend_wrapup_s)
            self._schedule_wrapup_end(op_id, extend_wrapup_s)
            return op.state.value
        check_operator_transition(op.state, state)
        status, prev = await self.store.set_operator_state(
            op_id, state, now, reason, allowed_from=[op.state]
        )
        if status != "ok":
            check_operator_transition(OperatorState(prev), state)
            status, prev = await self.store.set_operator_state(
                op_id, state, now, reason, allowed_from=[OperatorState(prev)]
            )
        await self.store.publish(
            "agent.state", now, operator=op_id, state=state.value, reason=reason
        )
        if state is S.READY:
            self.wake()
        return prev

    def _schedule_wrapup_end(self, op_id: str, delay: float) -> None:
        old = self._wrapup_timers.pop(op_id, None)
        if old:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._wrapup_timers[op_id] = loop.call_later(delay, self._end_wrapup_soon, op_id)

    def _end_wrapup_soon(self, op_id: str) -> None:
        task = asyncio.ensure_future(self._end_wrapup(op_id))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _end_wrapup(self, op_id: str) -> None:
        self._wrapup_timers.pop(op_id, None)
        op = await self.store.get_operator(op_id)
        if op is None or op.state is not S.WRAP_UP:
            return
        until = await self.store.wrapup_until(op_id)
        if until > self.clock() + 0.001:
            self._schedule_wrapup_end(op_id, until - self.clock())
            return
        status, _ = await self.store.set_operator_state(
            op_id, S.READY, self.clock(), allowed_from=[S.WRAP_UP]
        )
        if status == "ok":
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
            await self._deliver(a.task, a.operator)
        return made

    async def _deliver(self, task: Task, op: Operator) -> None:
        if task.owner and task.owner != self.instance_id:
            await self.store.push_offer(task.owner, task.call_id, op.id)
            return
        try:
            await self.on_offer(task.call_id, op)
        except Exception:
            log.exception("offer of call %s to %s failed; releasing", task.call_id, op.id)
            await self.offer_failed(task.call_id, op.id, missed=False)

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
                await self.store.r.zrem(self.store.k_reservations, call_id)
            n += 1
        self.stats.expired += n
        return n

    async def _forget(self, call_id: str) -> None:
        self.estimates.pop(call_id, None)
        self._escalated.pop(call_id, None)
        self._owned.discard(call_id)
        await self.store.forget_task_queue(call_id)

    async def update_estimates(self, force: bool = False) -> int:
        """Position (within its queue) and estimated wait of each waiting call this
        instance owns; publishes ``call.overflow`` once each time a call's overflow
        action escalates. Runs at most every ``estimate_every_s``."""
        now = self.clock()
        if not self._owned or (not force and now - self._estimated_at < self.estimate_every_s):
            return 0
        self._estimated_at = now
        staffed = await self._staffed_by_skill(now)
        position: dict[str, int] = {}
        live = set()
        escalations = 0
        for call_id, queue in await self.store.waiting_queues():
            position[queue] = position.get(queue, 0) + 1
            if call_id not in self._owned:
                continue
            live.add(call_id)
            ewt = self.wait.estimate(queue, position[queue], now, staffed.get(queue, 0))
            self.estimates[call_id] = (position[queue], ewt)
            action = overflow_action(ewt, self.overflow)
            if _ESCALATION.index(action) > _ESCALATION.index(self._escalated.get(call_id, "none")):
                self._escalated[call_id] = action
                escalations += 1
                await self.store.publish(
                    "call.overflow",
                    now,
                    call_id=call_id,
                    action=action,
                    ewt=round(min(ewt, 1e6), 1),
                    position=position[queue],
                    queue=queue,
                )
        for gone in set(self.estimates) - live:
            self.estimates.pop(gone, None)
        return escalations

    async def waiting_info(self, call_id: str) -> tuple[int, float | None, bool]:
        """Callers ahead, estimated wait (None if unknown) and whether to offer a callback."""
        # A call not estimated yet must not read as "nobody staffed, endless wait".
        await self.update_estimates(force=call_id not in self.estimates)
        position, ewt = self.estimates.get(call_id, (0, float("inf")))
        eta = None if ewt == float("inf") else ewt
        offer = self._escalated.get(call_id, "none") in ("callback", "divert")
        return max(0, position - 1), eta, offer

    async def _staffed_by_skill(self, now: float) -> dict[str, int]:
        at, counts = self._staffed
        if now - at < 10.0 and counts:
            return counts
        counts = {}
        for op in await self.store.operators():
            if op.state in (S.LOGGED_OUT, S.NOT_READY):
                continue
            for skill in op.skills:
                counts[skill] = counts.get(skill, 0) + 1
        self._staffed = (now, counts)
        return counts

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.tick_s)
            except TimeoutError:
                await self._safe(self.expire_reservations)
                await self._safe(self.update_estimates)
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
                await self.on_offer(call_id, op)

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
