"""An operator's call controls from the desk, wherever the request lands.

The instance that owns the call (its runner is here) puts the control on the call's own
queue, so it is decided by the pure machine in order with the call's ARI events, and waits
for its reply. Another instance forwards it through Redis to the owner named in the call's
saved progress and waits for the owner's answer; an owner that does not answer in time is
reported as unavailable (503), and a request it takes too late is dropped unexecuted, so
the desk is never told "failed" about a control that then happens.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from hotline.errors import HotlineError

from . import session as s
from .exceptions import CallControlRefused, ControlUnavailable

if TYPE_CHECKING:
    from ..queue.store import RedisStore
    from .runner import CallRunner

log = logging.getLogger(__name__)

LOCAL_TIMEOUT_S = 2.5  # the call's own runner answers within this (it is busy otherwise)
FORWARD_TIMEOUT_S = 3.0  # a forwarded control: the owner's answer, or 503
BESIDE_PREFIX = "coach:"  # a supervisor's coaching, run by the owner beside the call


class DeskControls:
    """Runs desk controls on this instance's calls and forwards the others to their owner."""

    def __init__(
        self,
        calls: dict[str, CallRunner],
        replies: dict[str, asyncio.Future[s.ControlReply]],
        store: RedisStore,
        instance_id: str,
        clock: Callable[[], float],
        beside: Callable[[str, str, str, str], Awaitable[str]] | None = None,
    ) -> None:
        self.calls = calls
        self.beside = beside  # actions run beside the call's machine (coaching: coach:<mode>)
        self.replies = replies
        self.store = store
        self.instance_id = instance_id
        self.clock = clock
        self._stopping = False
        self._handling: set[asyncio.Task[None]] = set()

    async def control(
        self, call_id: str, operator_id: str, action: str, target: str, forwarded: bool = False
    ) -> str:
        runner = self.calls.get(call_id)
        if runner is not None:
            if action.startswith(BESIDE_PREFIX) and self.beside is not None:
                return await self.beside(call_id, operator_id, action, target)
            return await self._here(runner, operator_id, action, target)
        if forwarded:  # the sender thought the call was here: it has ended or moved
            raise CallControlRefused("this call has ended", call_id=call_id)
        try:
            owner = (await self.store.live_call(call_id)).get("owner", "")
        except Exception as exc:
            raise ControlUnavailable("call state is unreachable", call_id=call_id) from exc
        if not owner or owner == self.instance_id:
            raise CallControlRefused("this call is not live", call_id=call_id)
        return await self._forward(owner, call_id, operator_id, action, target)

    async def _here(self, runner: CallRunner, operator_id: str, action: str, target: str) -> str:
        request_id = uuid.uuid4().hex
        waiter: asyncio.Future[s.ControlReply] = asyncio.get_running_loop().create_future()
        self.replies[request_id] = waiter
        runner.put(s.Control(request_id, action, operator_id, target, self.clock()))
        try:
            pending: list[asyncio.Future[Any]] = [waiter, runner.task]
            await asyncio.wait(pending, timeout=LOCAL_TIMEOUT_S, return_when="FIRST_COMPLETED")
        finally:
            self.replies.pop(request_id, None)
        if waiter.done():
            reply = waiter.result()
            if reply.refused:
                raise CallControlRefused(reply.refused, action=action, call_id=runner.call_id)
            log.info("call %s: %s by %s: %s", runner.call_id, action, operator_id, reply.result)
            return reply.result
        if runner.task.done():
            raise CallControlRefused("the call ended before the control took effect")
        raise ControlUnavailable("the call did not take the control in time", action=action)

    async def _forward(
        self, owner: str, call_id: str, operator_id: str, action: str, target: str
    ) -> str:
        request_id = uuid.uuid4().hex
        request = {
            "id": request_id,
            "call_id": call_id,
            "operator": operator_id,
            "action": action,
            "target": target,
            "deadline": self.clock() + FORWARD_TIMEOUT_S - 0.2,
        }
        try:
            await self.store.push_control(owner, request)
            reply = await self.store.wait_control_reply(request_id, FORWARD_TIMEOUT_S)
        except Exception as exc:
            raise ControlUnavailable("call state is unreachable", call_id=call_id) from exc
        if reply is None:
            log.warning("call %s: owner %s did not answer a %s control", call_id, owner, action)
            raise ControlUnavailable(
                "the server holding this call does not answer", call_id=call_id, owner=owner
            )
        if "result" in reply:
            return str(reply["result"])
        details = dict(reply.get("details") or {})
        if int(reply.get("status", 409)) == 503:
            raise ControlUnavailable(str(reply.get("message", "")), **details)
        raise CallControlRefused(str(reply.get("message", "")), **details)

    # -- the owner's side of forwarding --------------------------------------------------

    async def serve(self) -> None:
        """Take controls other instances forwarded for this instance's calls."""
        while not self._stopping:
            try:
                request = await self.store.pop_control(self.instance_id, timeout_s=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self._stopping:
                    return
                log.exception("control inbox read failed")
                await asyncio.sleep(1.0)
                continue
            if request is not None:
                task = asyncio.create_task(self._serve_one(request))
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)

    async def _serve_one(self, request: dict[str, Any]) -> None:
        call_id = str(request.get("call_id", ""))
        if self.clock() > float(request.get("deadline", 0)):
            log.warning("call %s: forwarded control arrived too late; dropped", call_id)
            return
        reply: dict[str, Any]
        try:
            result = await self.control(
                call_id,
                str(request.get("operator", "")),
                str(request.get("action", "")),
                str(request.get("target", "")),
                forwarded=True,
            )
            reply = {"result": result}
        except HotlineError as exc:
            reply = {"message": exc.message, "details": exc.details, "status": exc.status}
        except Exception:
            log.exception("call %s: forwarded control failed", call_id)
            reply = {"message": "the control failed", "details": {}, "status": 503}
        try:
            await self.store.reply_control(str(request.get("id", "")), reply)
        except Exception as exc:
            log.warning("call %s: control answer not sent: %r", call_id, exc)

    def stop(self) -> None:
        self._stopping = True
        for task in list(self._handling):
            task.cancel()
