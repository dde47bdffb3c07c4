"""Call records in SQL, written off the call path.

The call runner hands each finished call to :meth:`CallLog.put`, which only queues it; a
writer task inserts batches. If the database is down, records wait in memory (up to
``max_buffer``, oldest dropped first with a count) and are retried with backoff, so a slow
or dead database never delays a caller.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.telephony.records import CallSummary
from hotline.tickets import schema as t

log = logging.getLogger(__name__)


def _ts(v: float | None) -> datetime | None:
    return None if v is None else datetime.fromtimestamp(v, UTC)


def row(c: CallSummary) -> dict[str, Any]:
    return {
        "call_id": c.call_id,
        "channel_id": c.call_id,
        "line": c.line,
        "queue": c.queue or None,
        "caller": c.caller[:40] or None,
        "operator_id": c.operator_id or None,
        "started_at": _ts(c.started_at),
        "answered_at": _ts(c.answered_at),
        "ended_at": _ts(c.ended_at),
        "wait_s": c.wait_s,
        "talk_s": c.talk_s,
        "recording": c.recording or None,
        "description": c.description or None,
        "stars": c.stars,
        "satisfaction": satisfaction(c.stars),
        "outcome": c.outcome,
        "transcript": c.transcript or None,
        "transcript_status": c.transcript_status or None,
        "draft": c.draft or None,
    }


def satisfaction(stars: int | None) -> str | None:
    """Five keys onto the hotline's three grades."""
    if stars is None:
        return None
    if stars >= 4:
        return "satisfied"
    return "basically_satisfied" if stars == 3 else "unsatisfied"


class CallLog:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        max_buffer: int = 50_000,
        batch: int = 500,
        linger_s: float = 1.0,
    ) -> None:
        self.engine = engine
        self.buffer: collections.deque[CallSummary] = collections.deque()
        self.max_buffer = max_buffer
        self.batch = batch
        self.dropped = 0
        self.written = 0
        self.linger_s = linger_s
        self._wake = asyncio.Event()
        self._stop = False

    def put(self, call: CallSummary) -> None:
        if len(self.buffer) >= self.max_buffer:
            self.buffer.popleft()
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error("call log buffer full; %d call records dropped", self.dropped)
        self.buffer.append(call)
        self._wake.set()

    async def flush(self) -> int:
        """Write what is buffered; records already present (a retry) are skipped."""
        n = 0
        while self.buffer:
            chunk = [self.buffer[i] for i in range(min(self.batch, len(self.buffer)))]
            ids = [c.call_id for c in chunk]
            async with self.engine.begin() as conn:
                have = set(
                    (
                        await conn.execute(
                            select(t.calls.c.call_id).where(t.calls.c.call_id.in_(ids))
                        )
                    )
                    .scalars()
                    .all()
                )
                fresh = [row(c) for c in chunk if c.call_id not in have]
                if fresh:
                    await conn.execute(t.calls.insert(), fresh)
            for _ in chunk:
                self.buffer.popleft()
            n += len(fresh)
        self.written += n
        return n

    async def run(self) -> None:
        delay = 0.5
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), 1.0)
            except TimeoutError:
                pass
            if not self._stop:
                # Gather a second's worth of calls into one transaction: at 20 calls/s a
                # transaction per call costs the event loop more than the batch does.
                await asyncio.sleep(self.linger_s)
            self._wake.clear()
            try:
                await self.flush()
                delay = 0.5
            except Exception as e:
                log.warning(
                    "call log: database write failed (%s); %d records wait, retry in %.0fs",
                    type(e).__name__,
                    len(self.buffer),
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            if self._stop and not self.buffer:
                return

    async def stop(self) -> None:
        self._stop = True
        self._wake.set()
