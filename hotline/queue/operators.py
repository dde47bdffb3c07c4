"""Operators' states: the changes operators and supervisors ask for, the end of each call,
and wrap-up, which ends by itself.

The states themselves live in Redis (``store.py``, atomic per change); this service checks
each requested change against the operator state machine, publishes ``agent.state`` events,
and tells the router when a seat becomes ready.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..errors import HotlineError
from .models import IllegalOperatorTransition, OperatorState, check_operator_transition
from .store import RedisStore

log = logging.getLogger(__name__)
S = OperatorState


class OperatorStates:
    def __init__(
        self,
        store: RedisStore,
        wrapup_s: float = 5.0,
        clock: Callable[[], float] = time.time,
        on_ready: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.wrapup_s = wrapup_s
        self.clock = clock
        self.on_ready = on_ready
        self._wrapup_timers: dict[str, asyncio.TimerHandle] = {}
        self._pending: set[asyncio.Future[None]] = set()

    def stop(self) -> None:
        for h in self._wrapup_timers.values():
            h.cancel()

    async def call_ended(self, op_id: str, talk_seconds: float) -> None:
        now = self.clock()
        await self.store.add_talk_seconds(op_id, talk_seconds)
        status, _ = await self.store.set_operator_state(
            op_id, S.WRAP_UP, now, allowed_from=[S.ON_CALL]
        )
        if status == "ok":
            until = now + self.wrapup_s
            await self.store.set_operator_fields(op_id, wrapup_until=until)
            await self.store.publish(
                "agent.state", now, operator=op_id, state="wrap_up", until=round(until, 3)
            )
            self._schedule_wrapup_end(op_id, self.wrapup_s)

    async def resume_wrapup(self, op_id: str) -> None:
        """A wrap-up whose timer died with another process ends when it was due."""
        if op_id not in self._wrapup_timers:
            self._schedule_wrapup_end(
                op_id, max(0.0, await self.store.wrapup_until(op_id) - self.clock())
            )

    async def set_state(
        self, op_id: str, state: OperatorState, reason: str = "", extend_wrapup_s: float = 0.0
    ) -> str:
        """Apply an operator's (or supervisor's) request; returns the previous state."""
        op = await self.store.get_operator(op_id)
        if op is None:
            raise HotlineError(f"unknown operator {op_id}", operator=op_id)
        now = self.clock()
        if state is S.WRAP_UP and op.state is S.WRAP_UP and extend_wrapup_s > 0:
            # more time on top of what is left (a second press adds again)
            until = max(await self.store.wrapup_until(op_id), now) + extend_wrapup_s
            await self.store.set_operator_fields(op_id, wrapup_until=until)
            self._schedule_wrapup_end(op_id, until - now)
            await self.store.publish(
                "agent.state", now, operator=op_id, state="wrap_up", until=round(until, 3)
            )
            return op.state.value
        if state in (S.RESERVED, S.ON_CALL):
            raise IllegalOperatorTransition(
                f"only the router puts a seat {state.value}", state=op.state, target=state
            )
        if op.state in (S.RESERVED, S.ON_CALL) and state is S.READY:
            raise IllegalOperatorTransition(  # it would be offered a second call
                "a seat that is ringing or on a call is ready again after the call",
                state=op.state,
                target=state,
            )
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
            self.on_ready()
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
            self.on_ready()
