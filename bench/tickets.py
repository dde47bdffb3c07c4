"""Ticket store speed on PostgreSQL with a year of tickets.

Setup (issue #6): a throwaway PostgreSQL cluster on loopback (Debian's postgresql, fsync
off as in the tests), migrated by Alembic; 1,000,000 tickets (``--quick``: 100,000) over the
past 365 days from 200,000 callers (a few call often), 60 departments, statuses as a real
hotline's year looks (most closed, a few thousand open, some overdue), and 3–6 history rows
per ticket; 1,000 knowledge base articles built from a Chinese vocabulary. Rows are loaded
with COPY, then ANALYZE. Every figure is timed through the real ``TicketService`` /
``KnowledgeBase`` code (SQLAlchemy async + asyncpg), one request at a time.

Targets: caller history p99 < 20 ms; overdue list first page < 100 ms; ticket creation p99 <
20 ms; knowledge base search p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _common import free_port, pct, print_table, write_results

from hotline.tickets.calendar import WorkCalendar
from hotline.tickets.db import make_engine, migrate
from hotline.tickets.directory import Directory
from hotline.tickets.kb import KnowledgeBase
from hotline.tickets.models import Actor, Kind, NewTicket, Role
from hotline.tickets.schema import OPEN_DUE
from hotline.tickets.services import TicketService
from hotline.tickets.store import TicketStore
from tests import pg

TZ = ZoneInfo("Asia/Shanghai")
KINDS = (
    ["consultation"] * 60
    + ["help"] * 30
    + ["complaint"] * 5
    + ["report"] * 2
    + ["suggestion"] * 2
    + ["praise"]
)
CATEGORIES = [
    "城乡建设/物业服务",
    "环境保护/噪声污染",
    "劳动社保/拖欠工资",
    "供水供电供暖",
    "交通运输",
    "市场监管/消费维权",
    "卫生健康",
    "教育",
    "公安户籍",
    "民政",
]
WORDS = (
    "社保 医保 公积金 户籍 居住证 噪声 施工 物业 停水 停电 供暖 拖欠 工资 消费 退款 学校 入学 "
    "交通 公交 地铁 违章 停车 垃圾 油烟 餐馆 路灯 井盖 绿化 养老 低保 残疾 证明 办理 补办 "
    "流程 材料 时间 地点 电话 网点 窗口 预约 线上 申请 审批 投诉 举报 维修 漏水 电梯 小区 "
    "业主 租房 中介 押金 燃气 管道 排水 积水 道路 占道 经营 食品 安全 药品 价格 收费"
).split()


def status_for(age_days: float, rng: random.Random) -> str:
    if age_days > 20:
        return "closed" if rng.random() < 0.995 else "unsatisfied"
    return rng.choice(
        [
            "closed",
            "closed",
            "closed",
            "in_progress",
            "dispatched",
            "replied",
            "follow_up",
            "answered",
            "extension_pending",
        ]
    )


def _naive(v: object) -> object:
    return v.replace(tzinfo=None) if isinstance(v, datetime) else v


def fake_year(
    n: int, depts: list[int], seed: int
) -> tuple[list[str], list[dict[str, Any]], list[dict[str, Any]]]:
    """Callers, ticket rows and history rows for ``n`` tickets over the past year."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    callers = [f"13{rng.randrange(10**9):09d}" for _ in range(200_000)]
    rows: list[dict[str, Any]] = []
    hist: list[dict[str, Any]] = []
    by_day: dict[str, int] = {}
    hid = 0
    for i in range(1, n + 1):
        age = rng.random() * 365
        created = now - timedelta(days=age)
        day = created.astimezone(TZ).strftime("%Y%m%d")
        by_day[day] = by_day.get(day, 0) + 1
        number = f"{day}{by_day[day]:05d}"
        status = status_for(age, rng)
        handled = status not in {"answered"}
        dispatched = created + timedelta(minutes=rng.randrange(1, 60)) if handled else None
        due = dispatched + timedelta(days=rng.choice([3, 5, 7, 9])) if dispatched else None
        caller = (
            callers[min(int(rng.paretovariate(1.2)) - 1, 199_999)]
            if rng.random() < 0.3
            else rng.choice(callers)
        )
        cat = rng.choice(CATEGORIES)
        rows.append(
            {
                "id": i,
                "number": number,
                "channel": "phone",
                "caller_phone": caller,
                "kind": rng.choice(KINDS),
                "category": cat,
                "content": " ".join(rng.sample(WORDS, 8)),
                "urgency": "normal",
                "status": status,
                "handler_id": rng.choice(depts) if handled else None,
                "co_handler_ids": "[]",
                "delegated_by": "[]",
                "returns": 0,
                "redo_count": 0,
                "reopen_count": 0,
                "ruled": False,
                "dispatched_at": dispatched,
                "reply_due": due,
                "extension_days": 0,
                "appeal_pending": False,
                "appealed": False,
                "rating_void": False,
                "emergency": False,
                "closed_at": created + timedelta(days=3) if status == "closed" else None,
                "created_at": created,
                "updated_at": created,
                "version": 1,
            }
        )
        for k in range(rng.randrange(3, 7)):
            hid += 1
            hist.append(
                {
                    "id": hid,
                    "ticket_id": i,
                    "at": created + timedelta(hours=k),
                    "actor_role": "operator",
                    "action": ["create", "dispatch", "sign", "reply", "review", "rate"][k],
                    "note": "",
                    "changes": "{}",
                    "version": k + 1,
                }
            )
    return callers, rows, hist


async def load(url: str, n: int, depts: list[int], seed: int) -> list[str]:
    """The fake year COPYed into the database, analysed; the callers."""
    import asyncpg

    callers, rows, hist = fake_year(n, depts, seed)
    hid = len(hist)
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        cols = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name='tickets' "
                "ORDER BY ordinal_position"
            )
        ]
        naive = [tuple(_naive(r.get(c)) for c in cols) for r in rows]
        await conn.copy_records_to_table("tickets", records=naive, columns=cols)
        hcols = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name="
                "'ticket_history' ORDER BY ordinal_position"
            )
        ]
        hnaive = [tuple(_naive(r.get(c)) for c in hcols) for r in hist]
        await conn.copy_records_to_table("ticket_history", records=hnaive, columns=hcols)
        await conn.execute("SELECT setval(pg_get_serial_sequence('tickets','id'), $1)", n)
        await conn.execute("SELECT setval(pg_get_serial_sequence('ticket_history','id'), $1)", hid)
        await conn.execute(
            "INSERT INTO ticket_counters(day, last) SELECT substr(number,1,8), "
            "max(substr(number,9)::int) FROM tickets GROUP BY 1"
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return callers


async def timed(fn, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(count):
        t0 = time.perf_counter()
        await fn(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def departments(directory: Directory) -> tuple[list[int], Actor]:
    await directory.add_department("centre", "热线中心")
    for d in range(60):
        await directory.add_department(f"d{d}", f"单位{d}", "centre")
    depts = [r["id"] for r in await directory.departments() if r["code"] != "centre"]
    user_id, _ = await directory.add_user("op", Role.OPERATOR)
    return depts, Actor(user_id, Role.OPERATOR)


async def fill_kb(kb: KnowledgeBase, rng: random.Random) -> None:
    for a in range(1000):
        title = f"{rng.choice(CATEGORIES)}：{''.join(rng.sample(WORDS, 3))}"
        body = "，".join("".join(rng.sample(WORDS, 4)) for _ in range(40)) + "。"
        await kb.upsert(title, body, source=f"bench:{a}")


async def measure(
    store: TicketService, kb: KnowledgeBase, actor: Actor, callers: list[str], reps: int, seed: int
) -> dict[str, Any]:
    """Timings in ms of each operation, one request at a time."""
    rng = random.Random(seed + 1)
    await fill_kb(kb, rng)
    # warm the pool and caches
    await store.caller_history(callers[0])
    await store.overdue(limit=50)
    history = await timed(lambda i: store.caller_history(rng.choice(callers)), reps)
    overdue = await timed(lambda i: store.overdue(limit=50), max(reps // 10, 20))
    first_page = await store.overdue(limit=50)

    async def create(i: int) -> None:
        await store.create(
            NewTicket(
                content="小区电梯坏了一周没人修",
                kind=Kind.COMPLAINT,
                caller_phone=rng.choice(callers),
                category=rng.choice(CATEGORIES),
                location=f"蜀山区长江西路{rng.randrange(1, 500)}号",
            ),
            actor,
        )

    creates = await timed(create, reps)
    search = await timed(lambda i: kb.search(" ".join(rng.sample(WORDS, 3))), reps)
    hits = len(await kb.search("社保 补办 材料"))
    return {
        "history": history,
        "overdue": overdue,
        "first_page": first_page,
        "creates": creates,
        "search": search,
        "hits": hits,
    }


async def explain(engine: AsyncEngine, sql: str, **params: Any) -> list[str]:
    from sqlalchemy import text

    async with engine.connect() as conn:
        return list((await conn.execute(text("EXPLAIN " + sql), params)).scalars().all())


async def run(args: argparse.Namespace) -> None:
    n = 100_000 if args.quick else args.tickets
    reps = 200 if args.quick else 1000
    with pg.cluster(free_port()) as base:
        import asyncpg

        c = await asyncpg.connect(base.replace("postgresql+asyncpg", "postgresql") + "/postgres")
        await c.execute("CREATE DATABASE bench")
        await c.close()
        url = f"{base}/bench"
        engine = make_engine(url)
        await migrate(engine)
        clock = lambda: datetime.now(UTC).astimezone(TZ)  # noqa: E731
        directory = Directory(engine, clock=clock)
        depts, actor = await departments(directory)
        calendar = WorkCalendar()
        store = TicketService(
            TicketStore(engine, clock=clock, tz=calendar.tz), directory, calendar=calendar
        )
        kb = KnowledgeBase(engine, clock=clock)
        t0 = time.perf_counter()
        callers = await load(url, n, depts, args.seed)
        load_s = time.perf_counter() - t0
        m = await measure(store, kb, actor, callers, reps, args.seed)
        overdue_plan = await explain(
            engine,
            "SELECT number FROM tickets WHERE " + OPEN_DUE + " AND "
            "reply_due < now() ORDER BY reply_due, number LIMIT 50",
        )
        plan = await explain(
            engine,
            "SELECT number FROM tickets WHERE caller_phone = :p ORDER BY created_at DESC LIMIT 20",
            p=callers[1],
        )
        await engine.dispose()
    report(args, n, reps, load_s, m, plan, overdue_plan)


def report(
    args: argparse.Namespace,
    n: int,
    reps: int,
    load_s: float,
    m: dict[str, Any],
    plan: list[str],
    overdue_plan: list[str],
) -> None:
    history, overdue, creates, search = m["history"], m["overdue"], m["creates"], m["search"]
    summary = {
        "tickets": n,
        "load_s": round(load_s, 1),
        "caller_history_p50_ms": round(pct(history, 0.5), 3),
        "caller_history_p99_ms": round(pct(history, 0.99), 3),
        "overdue_first_page_p50_ms": round(pct(overdue, 0.5), 3),
        "overdue_first_page_max_ms": round(max(overdue), 3),
        "overdue_rows_first_page": len(m["first_page"]),
        "create_p50_ms": round(pct(creates, 0.5), 3),
        "create_p99_ms": round(pct(creates, 0.99), 3),
        "kb_search_p50_ms": round(pct(search, 0.5), 3),
        "kb_search_p99_ms": round(pct(search, 0.99), 3),
        "kb_articles": 1000,
        "kb_hits_example": m["hits"],
    }
    print_table(
        f"ticket store on PostgreSQL, {n:,} tickets",
        [
            ("caller history p99 ms", summary["caller_history_p99_ms"], "target < 20"),
            ("overdue first page max ms", summary["overdue_first_page_max_ms"], "target < 100"),
            ("create p99 ms", summary["create_p99_ms"], "target < 20"),
            ("kb search p99 ms", summary["kb_search_p99_ms"], "target < 50"),
            ("load (COPY + ANALYZE) s", summary["load_s"], ""),
        ],
    )
    print("  caller history plan:", " / ".join(p.strip() for p in plan[:3]))
    print("  overdue plan:", " / ".join(p.strip() for p in overdue_plan[:3]))
    write_results(
        "tickets",
        {
            "tickets": n,
            "repetitions": reps,
            "seed": args.seed,
            "database": "PostgreSQL (Debian), fsync off, loopback",
            "kb_articles": 1000,
        },
        summary,
        notes=json.dumps(
            {"caller_history_plan": plan[:3], "overdue_plan": overdue_plan[:3]},
            ensure_ascii=False,
        ),
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--tickets", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=12345)
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
