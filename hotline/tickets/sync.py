"""Sync with an external work-order platform: the outbox sender and webhook checks.

Outbound: every ticket change writes an outbox row in its own transaction. The sender claims
rows with a lease, POSTs each as HMAC-signed JSON with an ``Idempotency-Key``, and marks it
sent on a 2xx. A failure backs off exponentially (with jitter) and is retried for as long as
it takes; only the oldest unsent event of a ticket is eligible, so each ticket's events arrive
in order. A sender killed mid-send leaves a lease that expires; the next sender resends with
the same key, and the remote drops the duplicate.

Inbound: ``verify_signature`` checks the same signature scheme with a timestamp window; the
webhook records each ``event_id`` once, so a replay is answered without being applied again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline.tickets import schema as t
from hotline.tickets.exceptions import Unauthorized

log = logging.getLogger(__name__)

SIGNATURE = "X-Hotline-Signature"
TIMESTAMP = "X-Hotline-Timestamp"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    *,
    tolerance_s: float = 300.0,
) -> None:
    """Raise :class:`Unauthorized` unless the body is signed with ``secret`` and recent."""
    if not secret:
        raise Unauthorized("the webhook is not configured (no sync secret)")
    if not timestamp or not signature:
        raise Unauthorized(f"missing {TIMESTAMP} or {SIGNATURE}")
    try:
        ts = float(timestamp)
    except ValueError:
        raise Unauthorized("bad timestamp") from None
    if abs(now - ts) > tolerance_s:
        raise Unauthorized("timestamp outside the allowed window (replay?)")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise Unauthorized("bad signature")


def backoff(attempts: int, *, base_s: float = 1.0, cap_s: float = 600.0) -> float:
    """Seconds before the next try: exponential with full jitter, at least a tenth."""
    ceiling = min(cap_s, base_s * 2 ** min(attempts, 30))
    return ceiling * (0.1 + 0.9 * random.random())


class OutboxSender:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        url: str,
        secret: str,
        clock: Callable[[], datetime],
        batch: int = 50,
        lease_s: float = 30.0,
        timeout_s: float = 10.0,
        interval_s: float = 1.0,
        base_backoff_s: float = 1.0,
        max_backoff_s: float = 600.0,
    ) -> None:
        self.engine = engine
        self.url = url
        self.secret = secret
        self.clock = clock
        self.batch = batch
        self.lease = timedelta(seconds=lease_s)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.interval_s = interval_s
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.sent = 0
        self.failed = 0
        self._stop = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None

    async def claim(self) -> list[dict[str, Any]]:
        """Lease the oldest unsent event of each ticket that is due."""
        now = self.clock()
        o = t.outbox
        head = (
            select(func.min(o.c.id)).where(o.c.sent_at.is_(None)).group_by(o.c.ticket_number)
        ).subquery()
        q = (
            select(o.c.id)
            .where(
                o.c.id.in_(select(head)),
                o.c.next_attempt_at <= now,
                (o.c.locked_until.is_(None)) | (o.c.locked_until < now),
            )
            .order_by(o.c.id)
            .limit(self.batch)
        )
        if self.engine.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        async with self.engine.begin() as conn:
            ids = [r.id for r in await conn.execute(q)]
            if not ids:
                return []
            await conn.execute(
                update(o).where(o.c.id.in_(ids)).values(locked_until=now + self.lease)
            )
            rows = await conn.execute(select(o).where(o.c.id.in_(ids)).order_by(o.c.id))
            return [dict(r._mapping) for r in rows]

    async def _post(self, row: dict[str, Any]) -> str | None:
        """Send one event; None when delivered, else the error."""
        assert self._session is not None
        body = json.dumps(row["payload"], ensure_ascii=False, separators=(",", ":")).encode()
        ts = str(int(self.clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": row["idempotency_key"],
            TIMESTAMP: ts,
            SIGNATURE: sign(self.secret, ts, body),
        }
        try:
            async with self._session.post(self.url, data=body, headers=headers) as resp:
                if 200 <= resp.status < 300:
                    return None
                return f"HTTP {resp.status}: {(await resp.text())[:200]}"
        except (aiohttp.ClientError, TimeoutError) as e:
            return f"{type(e).__name__}: {e}"[:300]

    async def _settle(self, row: dict[str, Any], error: str | None) -> None:
        now = self.clock()
        o = t.outbox
        if error is None:
            values: dict[str, Any] = {
                "sent_at": now,
                "locked_until": None,
                "last_error": None,
                "attempts": row["attempts"] + 1,
            }
            self.sent += 1
        else:
            delay = backoff(row["attempts"], base_s=self.base_backoff_s, cap_s=self.max_backoff_s)
            values = {
                "attempts": row["attempts"] + 1,
                "locked_until": None,
                "last_error": error,
                "next_attempt_at": now + timedelta(seconds=delay),
            }
            self.failed += 1
            log.warning(
                "outbox %s (%s) failed, retry in %.1f s: %s",
                row["idempotency_key"],
                row["event"],
                delay,
                error,
            )
        async with self.engine.begin() as conn:
            await conn.execute(update(o).where(and_(o.c.id == row["id"])).values(**values))

    async def run_once(self) -> int:
        rows = await self.claim()
        if not rows:
            return 0
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        results = await asyncio.gather(*(self._post(r) for r in rows))
        for row, error in zip(rows, results, strict=True):
            await self._settle(row, error)
        return len(rows)

    async def pending(self) -> int:
        async with self.engine.connect() as conn:
            q = select(func.count()).where(t.outbox.c.sent_at.is_(None))
            return int((await conn.execute(q)).scalar_one())

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    n = await self.run_once()
                except Exception:
                    log.exception("outbox pass failed")
                    n = 0
                if n == 0:
                    try:
                        await asyncio.wait_for(self._stop.wait(), self.interval_s)
                    except TimeoutError:
                        pass
        finally:
            await self.close()

    def stop(self) -> None:
        self._stop.set()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
