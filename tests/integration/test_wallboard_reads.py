"""The wallboard's SQL reads on SQLite and PostgreSQL: the local day's calls and figures, the
usual day from the last four same weekdays, surges against a week before, the TOP5 and hot
words; one read serves every screen for the cache's life; a failing database keeps the last
figures, marked stale."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from hotline.agent_desk import wallboard_data as wd
from hotline.agent_desk.wallboard_reads import WallboardReads, WallboardUnavailable
from hotline.tickets.models import NewTicket
from hotline.tickets.schema import calls
from tests.conftest import TicketEnv

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday, as the ticket env's clock


def at(day: int, h: int, m: int = 0) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=SH)


def record(
    n: str, when: datetime, outcome: str = "answered", wait: float | None = 5.0
) -> dict[str, Any]:
    return {
        "call_id": n,
        "started_at": when.astimezone(UTC),
        "outcome": outcome,
        "wait_s": wait,
        "line": "12345",
    }


async def add_calls(env: TicketEnv, rows: list[dict[str, Any]]) -> None:
    async with env.engine.begin() as conn:
        await conn.execute(calls.insert(), rows)


async def add_ticket(env: TicketEnv, when: datetime, category: str, content: str) -> None:
    env.clock.now = when
    await env.service.create(NewTicket(content=content, category=category), env.actors["admin"])


def reads(env: TicketEnv, **kw: Any) -> WallboardReads:
    return WallboardReads(
        env.engine,
        timezone="Asia/Shanghai",
        threshold_s=15.0,
        short_abandon_s=5.0,
        clock=lambda: env.clock().timestamp(),
        **kw,
    )


async def test_given_records_then_the_day_the_usual_day_the_surges_and_the_top5(
    tickets: TicketEnv,
) -> None:
    env = tickets
    rows = [
        record("y", at(22, 23, 50)),  # yesterday: not today's
        record("a", at(23, 9, 10), "answered", 3.0),
        record("b", at(23, 9, 20), "answered", 40.0),
        record("c", at(23, 9, 30), "abandoned", 2.0),
        record("d", at(23, 9, 40), "abandoned", 60.0),
        record("e", at(23, 9, 50), "self_service", None),
        record("f", at(23, 0, 5)),
    ]
    rows += [record(f"t{i}", at(23, 9, 55)) for i in range(7)]
    for day, n in ((16, 1), (9, 2), (2, 3)):  # and 26 Oct: the system was off
        rows += [record(f"h{day}-{i}", at(day, 8, 5 + i)) for i in range(n)]
    rows.append(record("w", at(16, 9, 30)))  # the same hour a week before
    await add_calls(env, rows)
    for category, n in (("供水", 3), ("物业管理", 2), ("噪音", 1)):
        for _ in range(n):
            await add_ticket(env, at(23, 9, 45), category, "小区停水了")
    await add_ticket(env, at(16, 9, 45), "物业管理", "电梯坏了")  # a week before
    env.clock.now = NOW

    snap = await reads(env).snapshot()

    assert snap["day"] == "2026-11-23" and snap["calls_total"] == 13
    assert snap["counts"] == {
        "offered": 12,
        "answered": 10,
        "answered_in_threshold": 9,
        "abandoned": 2,
        "short_abandoned": 1,
    }
    today = snap["trend"]["today"]
    assert today[0] == 1 and today[18] == 2 and today[19] == 10 and today[20] == 0
    assert today[21:] == [None] * 27
    usual = snap["trend"]["usual"]
    assert snap["trend"]["usual_days"] == 3
    assert usual[16] == 2.0 and usual[19] == round(1 / 3, 2), "(1 + 2 + 3) / 3 and 1 / 3"
    calls_surge, *topic_surges = snap["surges"]
    assert calls_surge == {
        "kind": "calls",
        "name": "",
        "current": 12,
        "baseline": 1,
        "ratio": 12.0,
        "flagged": True,
    }
    assert topic_surges == [], "no category has five tickets in the hour"
    assert snap["topics"]["total"] == 6
    assert [(x["name"], x["count"]) for x in snap["topics"]["top"]] == [
        ("供水", 3),
        ("物业管理", 2),
        ("噪音", 1),
    ]
    assert dict((w["word"], w["count"]) for w in snap["hot_words"]) == {"小区": 6, "停水": 6}


async def test_given_just_after_midnight_then_the_last_hour_reaches_into_yesterday(
    tickets: TicketEnv,
) -> None:
    env = tickets
    await add_calls(env, [record(f"y{i}", at(22, 23, 40 + i)) for i in range(10)])
    env.clock.now = at(23, 0, 20)
    snap = await reads(env).snapshot()
    assert snap["calls_total"] == 0 and sum(v or 0 for v in snap["trend"]["today"]) == 0
    assert snap["surges"][0]["current"] == 10 and snap["surges"][0]["flagged"]


async def test_given_a_fresh_read_then_every_screen_shares_it_until_it_expires(
    tickets: TicketEnv,
) -> None:
    env = tickets
    env.clock.now = NOW
    board = reads(env, ttl_s=10.0)
    first = await board.snapshot()
    await add_calls(env, [record("late", at(23, 9, 58)), record("old", at(16, 12, 0))])
    assert await board.snapshot() is first
    env.clock.advance(seconds=11)
    again = await board.snapshot()
    assert again["calls_total"] == 1
    assert again["trend"]["usual"] is None, "the usual day is read once a day"
    env.clock.advance(days=7)
    assert (await board.snapshot())["trend"]["usual"] is not None


async def test_given_the_database_fails_then_the_last_figures_are_kept_marked_stale(
    tickets: TicketEnv, tmp_path: Any
) -> None:
    env = tickets
    env.clock.now = NOW
    board = reads(env)
    good = await board.snapshot()
    assert good["stale"] is False
    broken = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.sqlite3'}")
    board.engine = broken
    env.clock.advance(minutes=1)
    stale = await board.snapshot()
    assert stale["stale"] is True and stale["day"] == good["day"]
    fresh = reads(env)
    fresh.engine = broken
    with pytest.raises(WallboardUnavailable):
        await fresh.snapshot()
    await broken.dispose()


async def test_given_new_tickets_then_only_they_are_segmented_for_hot_words(
    tickets: TicketEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = tickets
    seen: list[str] = []
    real = wd.words_of

    def counting(text: str, stop: frozenset[str] = wd.STOP_WORDS) -> frozenset[str]:
        seen.append(text)
        return real(text, stop)

    monkeypatch.setattr(wd, "words_of", counting)
    await add_ticket(env, at(23, 9, 0), "供水", "小区停水")
    said = [
        {"side": "caller", "start": 0, "end": 2, "text": "楼下饭店油烟", "source": "description"},
        {"side": "operator", "start": 3, "end": 4, "text": "请问您贵姓", "source": "live"},
    ]
    await add_calls(env, [{**record("d1", at(23, 9, 5)), "transcript": json.dumps(said)}])
    env.clock.now = NOW
    board = reads(env, ttl_s=0.0, words_ttl_s=60.0)
    assert {w["word"] for w in (await board.snapshot())["hot_words"]} == {
        "小区",
        "停水",
        "饭店",
        "油烟",
    }
    await add_ticket(env, at(23, 9, 58), "供水", "小区又停水")
    env.clock.now = NOW + timedelta(seconds=30)
    assert len((await board.snapshot())["hot_words"]) == 4, "words are read once a minute"
    env.clock.now = NOW + timedelta(seconds=61)
    words = {w["word"]: w["count"] for w in (await board.snapshot())["hot_words"]}
    assert words["停水"] == 2
    assert sorted(seen) == sorted(["小区停水", "楼下饭店油烟", "小区又停水"]), "each text once"
