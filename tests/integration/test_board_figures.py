"""The board's figures for a scripted stretch of stand-in traffic equal the figures computed
from the call records in SQL for the same windows: a plain query and figures.count."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select

from hotline.keys import SETTINGS, TICKETS
from hotline.metrics.figures import count, figures
from hotline.tickets.schema import calls
from tests.conftest import ADMIN, add_seats, make_settings, ready_all, seats, wait_for

CALLS = 10
HANGUPS = {3: 0.1, 6: 0.6, 8: 0.1, 9: 0.7}  # caller i hangs up after this (+0.3 s), if waiting


async def _rows(srv: Any) -> int:
    async with srv.app[TICKETS].tickets.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(calls))).scalar_one())


async def _sql_figures(srv: Any, start: float, end: float, group: tuple[str, str] | None) -> Any:
    q = select(calls.c.outcome, calls.c.wait_s).where(
        calls.c.started_at >= datetime.fromtimestamp(start, UTC),
        calls.c.started_at < datetime.fromtimestamp(end, UTC),
    )
    if group is not None:
        q = q.where(calls.c.queue == group[0], calls.c.line == group[1])
    async with srv.app[TICKETS].tickets.engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    s = srv.app[SETTINGS]
    c = count(
        [(r.outcome, r.wait_s) for r in rows],
        threshold_s=s.sla_seconds,
        short_abandon_s=s.short_abandon_seconds,
    )
    return c, [f.value for f in figures(c, s.sla_seconds)]


async def _earlier_records(srv: Any, now: float) -> None:
    """Two calls from earlier today (20 and 40 minutes ago, or just after midnight), so the
    three windows hold different calls."""
    async with srv.app[TICKETS].tickets.engine.begin() as conn:
        for i, (ago, outcome, wait) in enumerate(
            [(1200, "answered", 30.0), (2400, "abandoned", 9.0)]
        ):
            started = datetime.fromtimestamp(now - ago, UTC)
            await conn.execute(
                insert(calls).values(
                    call_id=f"earlier-{i}",
                    line="12345",
                    queue="general",
                    started_at=started,
                    ended_at=started,
                    outcome=outcome,
                    wait_s=wait,
                )
            )


async def test_given_scripted_traffic_then_the_board_equals_the_sql_figures(
    standin: Any,
    redis_url: str,
    server_factory: Any,
) -> None:
    add_seats(standin, 2, talk_s=0.6)
    srv = await server_factory(
        make_settings(
            standin,
            redis_url,
            operators=seats(2),
            sla_seconds=1.0,
            short_abandon_seconds=0.5,
            announce_first_s=0,
            describe_after_s=0,
        )
    )
    await ready_all(srv, ["1001", "1002"])
    await _earlier_records(srv, datetime.now(UTC).timestamp())

    async def hang_up_later(channel_id: str, after: float) -> None:
        await asyncio.sleep(after)
        standin.sim.remote_hangup(channel_id)

    tasks = []
    for i in range(CALLS):
        line = "96889" if i % 4 == 3 else "12345"
        ch = standin.sim.incoming_call(f"1380000{i:04d}", line)
        if i in HANGUPS:
            tasks.append(asyncio.create_task(hang_up_later(ch.id, HANGUPS[i] + 0.3)))
        await asyncio.sleep(0.15)
    await asyncio.gather(*tasks)
    await wait_for(lambda: _rows_at_least(srv, CALLS + 2), what="every call recorded", timeout=40)

    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.get(f"{srv.url}/board/snapshot") as resp:
            assert resp.status == 200, await resp.text()
            snap = await resp.json()
    groups = {g["key"]: g for g in snap["groups"]}
    assert {"*", "general|12345"} <= set(groups)
    checked = 0
    for key, g in groups.items():
        group = None if key == "*" else (g["queue"], g["line"])
        for name, span in snap["windows"].items():
            c, values = await _sql_figures(srv, span["start"], span["end"], group)
            board = g["windows"][name]
            assert (board["offered"], board["answered"], board["abandoned"]) == (
                c.offered,
                c.answered,
                c.abandoned,
            ), (key, name)
            assert board["short_abandoned"] == c.short_abandoned, (key, name)
            assert [f["value"] for f in board["figures"]] == values, (key, name)
            checked += 1
    total = groups["*"]["windows"]
    assert total["today"]["offered"] >= CALLS + 2
    assert total["today"]["offered"] > total["last_15m"]["offered"], "the earlier calls"
    assert total["last_15m"]["short_abandoned"] < total["last_15m"]["abandoned"]
    assert total["last_15m"]["abandoned"] >= 1 and total["last_15m"]["answered"] >= 1
    within = total["last_15m"]["answered_in_threshold"]
    assert 0 < within < total["last_15m"]["answered"], "some answered late"
    assert checked >= 6


async def _rows_at_least(srv: Any, n: int) -> bool:
    return await _rows(srv) >= n
