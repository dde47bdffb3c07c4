"""What the supervisor board computes, and the one SQL read it needs.

The windows, the per-queue figures, the alerts and the staffing advice are pure (time and rows
in, numbers out) so the tests check them by table; :func:`read_calls` is the only part that
touches the database. A call is counted when its record is written, that is when it ends; it
falls in a window by when it started (``started_at``), so a call still going on is in none.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ..metrics.figures import Counts, count, figures
from ..queue.models import Operator, OperatorState
from ..queue.sla import required_agents, service_level
from ..tickets.schema import calls

WINDOWS = ("today", "last_15m", "interval_30m")
ALL = "*"  # the key of the every-queue, every-line total


@dataclass(frozen=True)
class CallRow:
    """One finished call as the board reads it."""

    started_at: float  # epoch seconds
    queue: str
    line: str
    outcome: str
    wait_s: float | None
    answered_at: float | None = None


def windows(now: float, tz: str) -> dict[str, tuple[float, float]]:
    """[start, end) in epoch seconds: since local midnight, the last 15 minutes, and the
    current half-hour interval of the local clock (the unit a hotline's reports use)."""
    local = datetime.fromtimestamp(now, ZoneInfo(tz))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    interval = local.replace(minute=30 if local.minute >= 30 else 0, second=0, microsecond=0)
    return {
        "today": (midnight.timestamp(), now),
        "last_15m": (now - 900.0, now),
        "interval_30m": (interval.timestamp(), now),
    }


def group_key(row: CallRow) -> str:
    return f"{row.queue or '-'}|{row.line or '-'}"


def window_counts(
    rows: Iterable[CallRow],
    spans: dict[str, tuple[float, float]],
    *,
    threshold_s: float,
    short_abandon_s: float,
) -> dict[str, dict[str, Counts]]:
    """Counts per ``queue|line`` (and :data:`ALL`) per window, by figures.count."""
    picked: dict[str, dict[str, list[tuple[str, float | None]]]] = {}
    for row in rows:
        for name, (start, end) in spans.items():
            if start <= row.started_at < end:
                for key in (group_key(row), ALL):
                    picked.setdefault(key, {}).setdefault(name, []).append(
                        (row.outcome, row.wait_s)
                    )
    out: dict[str, dict[str, Counts]] = {}
    for key in {ALL, *picked}:
        out[key] = {
            name: count(
                picked.get(key, {}).get(name, ()),
                threshold_s=threshold_s,
                short_abandon_s=short_abandon_s,
            )
            for name in spans
        }
    return out


def counts_json(c: Counts, threshold_s: float) -> dict[str, Any]:
    return {
        "offered": c.offered,
        "answered": c.answered,
        "answered_in_threshold": c.answered_in_threshold,
        "abandoned": c.abandoned,
        "short_abandoned": c.short_abandoned,
        "figures": [
            {
                "key": f.key,
                "name_zh": f.name_zh,
                "name_en": f.name_en,
                "formula_zh": f.formula_zh,
                "formula_en": f.formula_en,
                "value": f.value,
            }
            for f in figures(c, threshold_s)
        ],
    }


def service_level_of(c: Counts, threshold_s: float) -> float | None:
    return next(f.value for f in figures(c, threshold_s) if f.key == "service_level")


@dataclass(frozen=True)
class Staffing:
    """Erlang C advice: seats needed for the target at the recent arrival rate."""

    arrivals: int
    window_s: float
    rate_per_s: float
    handle_s: float
    traffic_erlangs: float
    needed: int | None  # None: nothing arrived (no advice)
    ready: int
    working: int  # seats ready, ringing, talking or in wrap-up
    predicted_level: float | None  # with the seats working now


def staffing(
    arrivals: int,
    window_s: float,
    handle_s: float,
    *,
    target_s: float,
    target_level: float,
    ready: int,
    working: int,
) -> Staffing:
    """Seats needed now: Erlang C for ``arrivals`` in the last ``window_s`` seconds, each
    held ``handle_s`` on average (talk plus wrap-up), to answer ``target_level`` of calls
    within ``target_s``; compared with the seats that are working."""
    rate = arrivals / window_s if window_s > 0 else 0.0
    handle = max(handle_s, 1.0)
    traffic = rate * handle
    if arrivals <= 0:
        return Staffing(arrivals, window_s, 0.0, handle, 0.0, None, ready, working, None)
    needed = required_agents(rate, handle, target_s, min(target_level, 0.999))
    level = service_level(working, rate, handle, target_s) if working > 0 else 0.0
    return Staffing(
        arrivals, window_s, rate, handle, round(traffic, 3), needed, ready, working, level
    )


def mean_handle_s(talks: Sequence[float], wrapup_s: float, default_s: float) -> float:
    """Mean talk of today's answered calls plus the wrap-up time; the configured mean
    until a call has been answered."""
    if not talks:
        return default_s
    return sum(talks) / len(talks) + wrapup_s


@dataclass(frozen=True)
class Alert:
    kind: str  # service_level, queue_waiting, operator_stuck, ari_down, ami_down
    subject: str
    value: float | None = None
    limit: float | None = None


def stuck(op: Operator, now: float, *, not_ready_s: float, wrapup_s: float) -> bool:
    since = now - op.state_since if op.state_since else 0.0
    if op.state is OperatorState.NOT_READY:
        return since > not_ready_s
    if op.state is OperatorState.WRAP_UP:
        return since > wrapup_s
    return False


def alerts(
    *,
    level_15m: float | None,
    target: float,
    waiting: dict[str, int],
    waiting_max: int,
    stuck_ops: Iterable[str],
    ari: bool,
    ami: bool | None,
) -> list[Alert]:
    """What the supervisor must look at now, most serious first. ``ami`` None: AMI is not
    used by this server."""
    out: list[Alert] = []
    if not ari:
        out.append(Alert("ari_down", "ARI"))
    if ami is False:
        out.append(Alert("ami_down", "AMI"))
    if level_15m is not None and level_15m < target:
        out.append(Alert("service_level", "last_15m", round(level_15m, 4), target))
    for queue, n in sorted(waiting.items()):
        if n > waiting_max:
            out.append(Alert("queue_waiting", queue, n, waiting_max))
    out.extend(Alert("operator_stuck", op) for op in sorted(stuck_ops))
    return out


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()  # the schema's times are aware UTC


async def read_calls(engine: AsyncEngine, since: float) -> tuple[list[CallRow], list[float]]:
    """The call records started since ``since`` (epoch s), and the talk times of the answered
    ones (for the mean handle time)."""
    start = datetime.fromtimestamp(since, UTC)
    q = select(
        calls.c.started_at,
        calls.c.queue,
        calls.c.line,
        calls.c.outcome,
        calls.c.wait_s,
        calls.c.answered_at,
        calls.c.talk_s,
    ).where(calls.c.started_at >= start)
    async with engine.connect() as conn:
        result = await conn.execute(q)
        rows = result.all()
    out = [
        CallRow(
            _epoch(r.started_at) or 0.0,
            r.queue or "",
            r.line or "",
            r.outcome,
            r.wait_s,
            _epoch(r.answered_at),
        )
        for r in rows
    ]
    talks = [float(r.talk_s) for r in rows if r.outcome == "answered" and r.talk_s is not None]
    return out, talks


def finite(x: float | None) -> float | None:
    return None if x is None or math.isnan(x) or math.isinf(x) else x
