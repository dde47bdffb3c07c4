"""One call's runner: applies events to the pure call machine and executes its commands.

Each call has its own task and queue, so a call's events are handled in order without a
global lock; any exception sends the caller to the dialplan's fallback queue. Commands are
executed by the handlers in ``execute.py`` and counted and recorded by ``book.py``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from . import session as s
from .book import CallBook
from .exceptions import AriNotFound
from .execute import HANDLERS
from .hooks import CallHooks
from .records import CallSummary

if TYPE_CHECKING:
    from ..config import Settings
    from ..metrics import Metrics
    from ..queue.router import Router
    from .ari import AriClient

log = logging.getLogger(__name__)


@dataclass
class Queued:
    event: s.Event
    received: float  # perf_counter when the ARI frame arrived


HAND_BACK = Queued(s.CallerHungUp(0.0), 0.0)  # marker: the server is stopping


class LatencyLog:
    """Raw samples of the controller's added latency, for benchmarks and /api/debug."""

    def __init__(self, metrics: Metrics, size: int = 200_000) -> None:
        self.metrics = metrics
        self.samples: dict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=size)
        )

    def observe(self, step: str, seconds: float) -> None:
        self.samples[step].append(seconds)
        self.metrics.controller_latency.labels(step=step).observe(seconds)


class CallHost(Protocol):
    """What a runner needs from the controller that owns it."""

    ari: AriClient
    router: Router
    settings: Settings
    metrics: Metrics
    latency: LatencyLog
    hooks: CallHooks
    instance_id: str
    channel_owner: dict[str, str]
    recording_owner: dict[str, str]
    control_replies: dict[str, asyncio.Future[s.ControlReply]]  # desk controls awaiting

    clock: Callable[[], float]

    def background(self, coro: Awaitable[Any]) -> None: ...
    def forget(self, runner: CallRunner) -> None: ...


class CallRunner:
    """Runs one call: applies events to the pure machine and executes the commands."""

    def __init__(self, host: CallHost, call: s.Call, caller_number: str) -> None:
        self.host = host
        self.call = call
        self.caller_number = caller_number
        self.queue: asyncio.Queue[Queued | None] = asyncio.Queue()
        self.closed = False
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.book = CallBook(host, call, caller_number)
        self.task: asyncio.Task[None] = asyncio.create_task(self._run(), name=call.call_id)

    @property
    def call_id(self) -> str:
        return self.call.call_id

    @property
    def summary(self) -> CallSummary:
        return self.book.summary

    def put(self, event: s.Event, received: float | None = None) -> None:
        self.queue.put_nowait(Queued(event, received or time.perf_counter()))

    def hand_back(self) -> None:
        """The server is stopping: after what is queued, hand the caller to the dialplan."""
        self.queue.put_nowait(HAND_BACK)

    async def _run(self) -> None:
        while self.call.state not in (s.CallState.ENDED, s.CallState.FALLBACK):
            item = await self.queue.get()
            if item is None or self.closed:
                break
            if item is HAND_BACK:
                await self.fallback("shutdown")
                break
            before = self.call
            try:
                self.call, commands = s.step(self.call, item.event)
                self.book.transition(before, self.call, item.event)
                await self._execute(commands, item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "call %s: error in state %s; falling back to the dialplan",
                    self.call_id,
                    before.state.value,
                )
                self.host.metrics.session_errors.labels(state=before.state.value).inc()
                await self.fallback("error")
        for h in self.timers.values():
            h.cancel()
        summary = self.book.ended(self.call.state)
        self.host.forget(self)
        if self.closed:
            # The server is stopping and the call goes on in Asterisk: its record is written
            # by whichever server adopts it, from the progress saved in Redis.
            return
        self.host.hooks.call_ended(summary)
        self.host.background(self.host.router.store.drop_call(self.call_id))

    async def _execute(self, commands: list[s.Command], item: Queued) -> None:
        first = True
        for cmd in commands:
            if first and not isinstance(cmd, (s.StartTimer, s.CancelTimer)):
                first = False
                self.book.first_command(item.event, item.received)
            try:
                result = await HANDLERS[type(cmd)](self, cmd)
            except AriNotFound as exc:
                # The channel or bridge went away under us (it raced a hangup); the
                # hangup event that follows decides what happens next.
                log.debug("call %s: %s: %s", self.call_id, type(cmd).__name__, exc)
                continue
            self.book.observe(cmd, result, item.received)

    def start_timer(self, name: str, seconds: float, token: str) -> None:
        old = self.timers.pop(name, None)
        if old:
            old.cancel()
        loop = asyncio.get_running_loop()
        self.timers[name] = loop.call_later(seconds, self.put, s.TimerFired(name, token))

    async def fallback(self, reason: str) -> None:
        """Hand the caller to the dialplan's fallback queue; never leave them in silence."""
        host, call = self.host, self.call
        self.book.fell_back(reason)
        playing = [
            pb
            for pb in (
                call.playback_id,
                call.activity_pb if call.activity != "recording" else "",
                call.ivr.playback_id if call.ivr else "",
            )
            if pb
        ]
        recording = call.activity_pb if call.activity == "recording" else ""
        self.call = replace(call, state=s.CallState.FALLBACK)
        ari, cfg = host.ari, host.settings
        steps: list[Callable[[], Awaitable[Any]]] = [
            # Asterisk would run the continue only after a prompt still playing.
            *(functools.partial(ari.stop_playback, pb) for pb in playing),
            *([functools.partial(ari.stop_recording, recording)] if recording else []),
            functools.partial(host.router.leave, self.call_id, "fallback"),
            *([functools.partial(ari.destroy_bridge, call.bridge_id)] if call.bridge_id else []),
            *([functools.partial(ari.hangup, call.agent_channel)] if call.agent_channel else []),
            *([functools.partial(ari.hangup, call.third_channel)] if call.third_channel else []),
            # A held caller's voice stays muted on the channel wherever it goes next.
            *(
                [functools.partial(ari.unhold, call.chan), functools.partial(ari.unmute, call.chan)]
                if call.held_at
                else []
            ),
            functools.partial(
                ari.continue_in_dialplan,
                self.call_id,
                cfg.fallback_context,
                cfg.fallback_extension,
                1,
            ),
        ]
        for step in steps:
            try:
                await step()
            except Exception as exc:
                log.warning("call %s: fallback step failed: %r", self.call_id, exc)
