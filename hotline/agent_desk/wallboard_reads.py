"""What the wallboard reads from SQL, cached so any number of big screens cost one read.

Call records (written when each call ends) and tickets, through the ticket engine. The last
four same weekdays do not change during a day, so their half-hour counts (and a week ago's
call times, for the surge) are read once a day; today's calls and topics at most every
``ttl_s`` (one range read of ``calls.started_at``, indexed since migration 0005). Hot
words come from the tickets and the call descriptions
(the caller's words recorded while waiting, at the head of the call's transcript) that are
new since the last read, each text segmented once a day, at most every ``words_ttl_s``.
If the database fails, the last good figures are shown marked stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..errors import HotlineError
from ..metrics.figures import count
from ..tickets.schema import calls as CALLS
from ..tickets.schema import tickets as TICKETS
from . import wallboard_data as wd

log = logging.getLogger(__name__)
HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)
WORDS_PER_READ = 500  # texts segmented per refresh at most; the rest on the next ones
TEXT_CHARS = 500


class WallboardUnavailable(HotlineError):
    error_id = "wallboard-unavailable"
    status = 503


@dataclass
class _Words:
    day: date
    after_ticket: int = 0
    after_call: int = 0
    sets: list[frozenset[str]] = field(default_factory=list)
    top: list[tuple[str, int]] = field(default_factory=list)
    at: float = 0.0


@dataclass(frozen=True)
class _Usual:
    day: date
    mean: list[float] | None
    days: int  # of the four that had calls
    week_before: list[datetime]  # sorted


class WallboardReads:
    """The day's figures for the wallboard: :meth:`snapshot` (cached, one read at a time)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        timezone: str,
        threshold_s: float,
        short_abandon_s: float,
        ttl_s: float = 10.0,
        words_ttl_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.tz = ZoneInfo(timezone)
        self.threshold_s = threshold_s
        self.short_abandon_s = short_abandon_s
        self.ttl_s = ttl_s
        self.words_ttl_s = words_ttl_s
        self.clock = clock
        self._lock = asyncio.Lock()
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._usual: _Usual | None = None
        self._words: _Words | None = None

    async def snapshot(self) -> dict[str, Any]:
        async with self._lock:
            now_s = self.clock()
            if self._cached is not None and now_s - self._cached_at < self.ttl_s:
                return self._cached
            try:
                fresh = await self._read(datetime.fromtimestamp(now_s, UTC))
            except Exception as exc:
                log.warning("wallboard: figures unavailable: %r", exc)
                if self._cached is None:
                    raise WallboardUnavailable("the call records cannot be read now") from None
                return {**self._cached, "stale": True}
            self._cached, self._cached_at = fresh, now_s
            return fresh

    async def _read(self, now: datetime) -> dict[str, Any]:
        day = wd.local_day(now, self.tz)
        start, end = wd.day_window(day, self.tz)
        usual = await self._usual_day(day)
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(CALLS.c.started_at, CALLS.c.wait_s, CALLS.c.outcome).where(
                        CALLS.c.started_at >= min(start, now - HOUR), CALLS.c.started_at < end
                    )
                )
            ).all()
            topics = await self._categories(conn, start, end)
            hour_topics = await self._categories(conn, now - HOUR, now)
            week_topics = await self._categories(conn, now - WEEK - HOUR, now - WEEK)
        today = [r for r in rows if r.started_at >= start]
        counts = count(
            ((r.outcome, r.wait_s) for r in today),
            threshold_s=self.threshold_s,
            short_abandon_s=self.short_abandon_s,
        )
        last_hour = sum(1 for r in rows if r.started_at >= now - HOUR)
        top, total = wd.top_topics(topics.items())
        week_before = wd.count_between(usual.week_before, now - WEEK - HOUR, now - WEEK)
        surges = [wd.surge(last_hour, week_before)]
        surges += wd.topic_surges(hour_topics, week_topics)
        series = wd.bucket_counts((r.started_at for r in today), day, self.tz)
        return {
            "day": day.isoformat(),
            "weekday": day.isoweekday(),
            "calls_total": len(today),
            "counts": asdict(counts),
            "topics": {"total": total, "top": [asdict(x) for x in top]},
            "surges": [asdict(s) for s in surges],
            "trend": {
                "labels": wd.slot_labels(),
                "today": wd.upto_now(series, now, day, self.tz),
                "usual": usual.mean,
                "usual_days": usual.days,
            },
            "hot_words": [
                {"word": w, "count": n} for w, n in await self._hot_words(day, start, end)
            ],
            "read_at": now.timestamp(),
            "stale": False,
        }

    async def _categories(self, conn: Any, start: datetime, end: datetime) -> dict[str, int]:
        c = TICKETS.c
        rows = await conn.execute(
            select(c.category, func.count())
            .where(c.created_at >= start, c.created_at < end)
            .group_by(c.category)
        )
        out: dict[str, int] = {}
        for name, n in rows:
            key = (name or "").strip()
            out[key] = out.get(key, 0) + int(n)
        return out

    async def _usual_day(self, day: date) -> _Usual:
        """The mean half-hour counts of the last four same weekdays, read once a day, with
        a week ago's call times (from the hour before its midnight) for the surge."""
        if self._usual is not None and self._usual.day == day:
            return self._usual
        days = wd.same_weekdays(day)
        windows = [wd.day_window(d, self.tz) for d in days]
        windows[0] = (windows[0][0] - HOUR, windows[0][1])
        started = CALLS.c.started_at
        async with self.engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        select(started).where(
                            or_(*(and_(started >= a, started < b) for a, b in windows))
                        )
                    )
                )
                .scalars()
                .all()
            )
        per_day = [wd.bucket_counts(rows, d, self.tz) for d in days]
        week_ago = sorted(r for r in rows if windows[0][0] <= r < windows[0][1])
        kept = sum(1 for s in per_day if any(s))
        self._usual = _Usual(day, wd.mean_series(per_day), kept, week_ago)
        return self._usual

    async def _hot_words(self, day: date, start: datetime, end: datetime) -> list[tuple[str, int]]:
        w = self._words
        if w is None or w.day != day:
            w = self._words = _Words(day)
        if w.at and self.clock() - w.at < self.words_ttl_s:
            return w.top
        tk, cl = TICKETS.c, CALLS.c
        async with self.engine.connect() as conn:
            tickets = (
                await conn.execute(
                    select(tk.id, tk.content)
                    .where(tk.created_at >= start, tk.created_at < end, tk.id > w.after_ticket)
                    .order_by(tk.id)
                    .limit(WORDS_PER_READ)
                )
            ).all()
            calls = (
                await conn.execute(
                    select(cl.id, cl.transcript)
                    .where(
                        cl.started_at >= start,
                        cl.started_at < end,
                        cl.id > w.after_call,
                        cl.transcript.is_not(None),
                    )
                    .order_by(cl.id)
                    .limit(WORDS_PER_READ)
                )
            ).all()
        texts = [(r[1] or "")[:TEXT_CHARS] for r in tickets]
        texts += [wd.description_of(r[1])[:TEXT_CHARS] for r in calls]
        texts = [x for x in texts if x]
        if texts:
            w.sets += await asyncio.to_thread(lambda: [wd.words_of(x) for x in texts])
        if tickets:
            w.after_ticket = tickets[-1][0]
        if calls:
            w.after_call = calls[-1][0]
        w.top, w.at = wd.hot_words(w.sets), self.clock()
        return w.top
