"""One reader of the Redis event stream per server instance, fanned out to every browser
tab connected to it.

Each tab is a :class:`Subscriber` with its filter and a bounded queue. The hub parses each
event once and offers it only to the subscribers that can want it: those that take
everything (boards), those of the event's operator, and those following the event's call.
A subscriber that falls too far behind is cut off; its tab reconnects with its last event id
and catches up from Redis, so a slow tab costs itself, not the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)
QUEUE_MAX = 2000  # events a tab may have unsent before it is cut off
FOLLOWED_CALLS = 32  # calls a seat's subscriber remembers (the current one and a few before)


class EventSource(Protocol):
    async def events_head(self) -> str: ...

    async def read_events(
        self, after: str, count: int = 200, block_ms: int | None = 15_000
    ) -> list[tuple[str, str, str]]: ...


def stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms or 0), int(seq or 0)


@dataclass
class EventFilter:
    """Which events a reader gets: by type prefix, by operator (then also every event of a
    call offered to that operator, once the offer has been seen) and by call."""

    types: tuple[str, ...] = ()
    operator: str = ""
    call: str = ""
    calls: deque[str] = field(default_factory=lambda: deque(maxlen=FOLLOWED_CALLS))

    @property
    def takes_all(self) -> bool:
        return not self.operator and not self.call

    def follow(self, call_id: str) -> None:
        if call_id and call_id not in self.calls:
            self.calls.append(call_id)

    def accepts(self, kind: str, fields: dict[str, Any]) -> bool:
        call_id = fields.get("call_id")
        if self.operator:
            named = {fields.get("operator"), fields.get("operator_id")} - {None, ""}
            if self.operator in named:
                if isinstance(call_id, str):
                    self.follow(call_id)
            elif named:  # the call is another seat's now (this one did not answer)
                if isinstance(call_id, str) and call_id in self.calls:
                    self.calls.remove(call_id)
                return False
            elif call_id not in self.calls:
                return False
        if self.call and call_id != self.call:
            return False
        return not self.types or kind.startswith(self.types)


@dataclass(eq=False)  # each tab is itself, hashed by identity
class Subscriber:
    flt: EventFilter
    queue: asyncio.Queue[tuple[str, str, str] | None] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_MAX)
    )


def parse(data: str) -> dict[str, Any]:
    try:
        fields = json.loads(data or "{}")
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


class EventHub:
    def __init__(self, source: EventSource, block_ms: int = 2_000) -> None:
        # under the Redis client's read timeout (5 s by default in redis-py 8)
        self.source = source
        self.block_ms = block_ms
        self.subscribers: set[Subscriber] = set()
        self.last = ""
        self.delivered = 0
        self._task: asyncio.Task[None] | None = None
        self._started = asyncio.Event()
        self.closed = False

    async def subscribe(self, flt: EventFilter) -> Subscriber:
        """A new subscriber, receiving every event after the hub's current position."""
        if self.closed:
            raise RuntimeError("this server is stopping")
        if self._task is None or self._task.done():
            self._started.clear()
            self._task = asyncio.create_task(self._run(), name="event-hub")
        await asyncio.wait_for(self._started.wait(), 10)
        sub = Subscriber(flt)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    async def stop(self) -> None:
        self.closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for sub in list(self.subscribers):
            self._cut(sub)

    async def _run(self) -> None:
        while True:
            try:
                if not self.last:
                    self.last = await self.source.events_head()
                self._started.set()
                batch = await self.source.read_events(self.last, count=500, block_ms=self.block_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: tabs are told and reconnect with their ids
                log.warning("event hub: the event stream is unavailable: %r", exc)
                for sub in list(self.subscribers):
                    self._cut(sub)
                self._started.set()
                await asyncio.sleep(1.0)
                continue
            for item in batch:
                self.last = item[0]
                self._fan_out(item)

    def _fan_out(self, item: tuple[str, str, str]) -> None:
        _, kind, data = item
        fields: dict[str, Any] | None = None
        for sub in list(self.subscribers):
            flt = sub.flt
            if flt.takes_all and not flt.types:
                self._put(sub, item)
                continue
            if fields is None:
                fields = parse(data)
            if flt.accepts(kind, fields):
                self._put(sub, item)

    def _put(self, sub: Subscriber, item: tuple[str, str, str]) -> None:
        try:
            sub.queue.put_nowait(item)
            self.delivered += 1
        except asyncio.QueueFull:
            self._cut(sub)

    def _cut(self, sub: Subscriber) -> None:
        """Stop feeding a subscriber; its reader sees None and closes the connection."""
        self.subscribers.discard(sub)
        try:
            sub.queue.put_nowait(None)
        except asyncio.QueueFull:  # make room for the end marker
            sub.queue.get_nowait()
            sub.queue.put_nowait(None)
