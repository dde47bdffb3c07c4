"""Where each waiting call stands: its position in its queue, its estimated wait, and when
its overflow action (announce, callback, divert) escalates.

Estimates are made for the calls this instance owns, from the shared queue order in Redis
and the answer rate the wait estimator has learnt.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .models import OperatorState
from .store import RedisStore
from .wait import OverflowAction, OverflowPolicy, WaitEstimator, overflow_action

_ESCALATION: tuple[OverflowAction, ...] = ("none", "announce", "callback", "divert")
S = OperatorState


class QueueEstimates:
    def __init__(
        self,
        store: RedisStore,
        wait: WaitEstimator | None = None,
        overflow: OverflowPolicy = OverflowPolicy(),
        clock: Callable[[], float] = time.time,
        every_s: float = 2.0,
    ) -> None:
        self.store = store
        self.wait = wait or WaitEstimator()
        self.overflow = overflow
        self.clock = clock
        self.every_s = every_s
        self.by_call: dict[str, tuple[int, float]] = {}  # call id → (position, seconds)
        self._escalated: dict[str, OverflowAction] = {}
        self._staffed: tuple[float, dict[str, int]] = (0.0, {})
        self._owned: set[str] = set()
        self._estimated_at = 0.0

    def own(self, call_id: str) -> None:
        self._owned.add(call_id)

    def stale(self) -> None:
        """The queue's order changed (a call moved up): estimate afresh on the next tick."""
        self._estimated_at = 0.0

    def forget(self, call_id: str) -> None:
        self.by_call.pop(call_id, None)
        self._escalated.pop(call_id, None)
        self._owned.discard(call_id)

    async def update(self, force: bool = False) -> int:
        """Position (within its queue) and estimated wait of each waiting call this
        instance owns; publishes ``call.overflow`` once each time a call's overflow
        action escalates. Runs at most every ``estimate_every_s``."""
        now = self.clock()
        if not self._owned or (not force and now - self._estimated_at < self.every_s):
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
            self.by_call[call_id] = (position[queue], ewt)
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
        for gone in set(self.by_call) - live:
            self.by_call.pop(gone, None)
        return escalations

    async def waiting_info(self, call_id: str) -> tuple[int, float | None, bool]:
        """Callers ahead, estimated wait (None if unknown) and whether to offer a callback."""
        # A call not estimated yet must not read as "nobody staffed, endless wait".
        await self.update(force=call_id not in self.by_call)
        position, ewt = self.by_call.get(call_id, (0, float("inf")))
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
