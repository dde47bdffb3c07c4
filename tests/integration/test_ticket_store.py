"""The ticket store on real SQLite and PostgreSQL: the loop, locking, repeats, migrations."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect

from hotline.tickets import workflow as wf
from hotline.tickets.db import make_engine, migrate
from hotline.tickets.exceptions import (
    Forbidden,
    IllegalTransition,
    StaleTicket,
    TicketNotFound,
)
from hotline.tickets.models import Channel, Kind, NewTicket, Satisfaction, Status, Urgency
from tests.conftest import TicketEnv

COMPLAINT = NewTicket(
    content="小区楼下餐馆油烟扰民，晚上十点后仍在营业",
    kind=Kind.COMPLAINT,
    caller_phone="138 0013 8000",
    caller_name="张先生",
    category="环境保护/油烟污染",
    location="蜀山区 长江西路 100号 翡翠花园",
)


async def test_given_new_ticket_when_created_then_numbered_by_day_with_history(
    tickets: TicketEnv,
) -> None:
    a = await tickets.service.create(COMPLAINT, tickets.actors["operator"])
    b = await tickets.service.create(
        NewTicket(content="咨询社保卡补办"), tickets.actors["operator"]
    )
    assert a["number"] == "2026112300001" and b["number"] == "2026112300002"
    assert a["status"] == "accepted" and a["caller_phone"] == "13800138000"
    tickets.clock.advance(days=1)
    c = await tickets.service.create(NewTicket(content="次日"), tickets.actors["operator"])
    assert c["number"] == "2026112400001"
    hist = await tickets.store.history(a["number"])
    assert [h["action"] for h in hist] == ["create"]


async def test_full_closed_loop_records_every_step(tickets: TicketEnv) -> None:
    s, act, d = tickets.service, tickets.actors, tickets.depts
    t = await s.create(COMPLAINT, act["operator"])
    n = t["number"]
    await s.act(n, wf.Dispatch(lead=d["district-a"], co_handlers=(d["housing"],)), act["operator"])
    await s.act(n, wf.SignFor(), act["district"])
    await s.act(n, wf.PassDown(to=d["street-a1"], note="请街道核实"), act["district"])
    await s.act(n, wf.SignFor(), act["street"])
    await s.act(n, wf.RequestExtension(2, "需联合执法"), act["street"])
    tickets.clock.advance(hours=3)
    await s.act(n, wf.DecideExtension(True, "同意延期"), act["dispatcher"])
    await s.act(n, wf.CoReply("已配合检查油烟净化设施"), act["housing"])
    await s.act(n, wf.Reply("已责令餐馆安装油烟净化器并限时整改"), act["street"])
    await s.act(n, wf.Review(True), act["dispatcher"])
    await s.add_follow_up(n, "no_answer", act["operator"])
    await s.add_follow_up(n, "answered", act["operator"])
    done = await s.act(n, wf.Rate(Satisfaction.UNSATISFIED, 2), act["operator"])
    assert done["status"] == "unsatisfied"
    await s.act(n, wf.Appeal("已按规定整改", "整改照片"), act["street"])
    await s.act(n, wf.DecideAppeal(False, "证据不足"), act["supervisor"])
    await s.act(n, wf.Supervise(wf.SupervisionForm.KEY, "重点督办"), act["supervisor"])
    final = await s.get(n)
    assert final["status"] == "in_progress" and final["handler_id"] == d["street-a1"]
    assert final["redo_count"] == 1 and final["version"] == 14
    rec = await s.records(n)
    assert [r["role"] for r in rec["assignments"]] == ["lead", "co", "lead"]
    assert rec["extension_requests"][0]["approved"] is True
    assert [r["co"] for r in rec["replies"]] == [True, False]
    assert [f["outcome"] for f in rec["follow_ups"]] == ["no_answer", "answered"]
    assert rec["ratings"][0]["stars"] == 2 and rec["appeals"][0]["upheld"] is False
    assert rec["supervisions"][0]["form"] == "key"
    hist = await s.history(n)
    assert len(hist) == 16
    assert hist[-1]["changes"]["status"] == ["unsatisfied", "in_progress"]


async def test_illegal_and_forbidden_actions_change_nothing(tickets: TicketEnv) -> None:
    s, act = tickets.service, tickets.actors
    n = (await s.create(COMPLAINT, act["operator"]))["number"]
    with pytest.raises(IllegalTransition, match="cannot sign a ticket that is accepted"):
        await s.act(n, wf.SignFor(), act["district"])
    with pytest.raises(Forbidden):
        await s.act(n, wf.Dispatch(lead=tickets.depts["water"]), act["district"])
    with pytest.raises(TicketNotFound):
        await s.act("2026112399999", wf.SignFor(), act["district"])
    t = await s.get(n)
    assert t["version"] == 1 and len(await s.history(n)) == 1


async def test_concurrent_comments_are_all_kept(tickets: TicketEnv) -> None:
    s, act = tickets.service, tickets.actors
    n = (await s.create(COMPLAINT, act["operator"]))["number"]
    await asyncio.gather(*(s.act(n, wf.Comment(f"补充 {i}"), act["operator"]) for i in range(12)))
    t = await s.get(n)
    hist = await s.history(n)
    assert t["version"] == 13
    assert sorted(h["note"] for h in hist if h["action"] == "comment") == sorted(
        f"补充 {i}" for i in range(12)
    )
    assert sorted(h["version"] for h in hist) == list(range(1, 14))


async def test_concurrent_conflicting_actions_exactly_one_wins(tickets: TicketEnv) -> None:
    s, act = tickets.service, tickets.actors
    n = (await s.create(COMPLAINT, act["operator"]))["number"]
    await s.act(n, wf.Dispatch(lead=tickets.depts["district-a"]), act["operator"])
    await s.act(n, wf.SignFor(), act["district"])
    await s.act(n, wf.Reply("已处理"), act["district"])
    # Two reviewers at once: one accepts, one sends it back; only one decision may stand.
    results = await asyncio.gather(
        s.act(n, wf.Review(True), act["dispatcher"]),
        s.act(n, wf.Review(False, "答复不清"), act["supervisor"]),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], IllegalTransition)
    t = await s.get(n)
    assert t["status"] in {"follow_up", "in_progress"} and t["version"] == 5
    assert [h["action"] for h in await s.history(n)].count("review") == 1


async def test_stale_version_is_refused_not_overwritten(tickets: TicketEnv) -> None:
    s, act = tickets.service, tickets.actors
    n = (await s.create(COMPLAINT, act["operator"]))["number"]
    await s.act(n, wf.Comment("第一次"), act["operator"], expected_version=1)
    with pytest.raises(StaleTicket):
        await s.act(n, wf.Comment("基于旧版本"), act["dispatcher"], expected_version=1)
    assert (await s.get(n))["version"] == 2


async def test_repeat_caller_and_same_place_are_linked_and_merge_keeps_both_histories(
    tickets: TicketEnv,
) -> None:
    s, act = tickets.service, tickets.actors
    first = (await s.create(COMPLAINT, act["operator"]))["number"]
    tickets.clock.advance(days=3)
    other_caller = NewTicket(
        content="翡翠花园楼下餐馆油烟很大",
        kind=Kind.COMPLAINT,
        caller_phone="13900000000",
        category="环境保护/油烟污染",
        location="蜀山区长江西路100号翡翠花园",
        channel=Channel.WECHAT,
    )
    second = (await s.create(other_caller, act["operator"]))["number"]
    again = (await s.create(COMPLAINT, act["operator"]))["number"]
    assert {(r["number"], r["kind"]) for r in (await s.records(second))["links"]} == {
        (first, "same_place")
    }
    assert {(r["number"], r["kind"]) for r in (await s.records(again))["links"]} == {
        (first, "same_caller"),
        (first, "same_place"),
        (second, "same_place"),
    }
    hist = await s.caller_history("+86 138-0013-8000")
    assert [h["number"] for h in hist] == [again, first]
    tickets.clock.advance(days=40)
    late = (await s.create(COMPLAINT, act["operator"]))["number"]
    assert (await s.records(late))["links"] == []
    await s.act(second, wf.Comment("与首单相同"), act["operator"])
    merged = await s.merge(second, first, act["dispatcher"])
    assert (await s.get(second))["status"] == "merged"
    assert (await s.get(second))["merged_into"] == first
    numbers = [h["number"] for h in await s.history(first)]
    assert numbers.count(second) == 3 and numbers.count(first) == 2
    assert merged["number"] == first


async def test_overdue_list_pages_most_overdue_first(tickets: TicketEnv) -> None:
    s, act, d = tickets.service, tickets.actors, tickets.depts
    numbers = []
    for i in range(5):
        n = (
            await s.create(NewTicket(content=f"咨询 {i}", kind=Kind.CONSULTATION), act["operator"])
        )["number"]
        await s.act(n, wf.Dispatch(lead=d["water"]), act["operator"])
        numbers.append(n)
        tickets.clock.advance(hours=30)
    urgent = (
        await s.create(NewTicket(content="燃气泄漏", urgency=Urgency.URGENT), act["operator"])
    )["number"]
    await s.act(urgent, wf.Dispatch(lead=d["water"]), act["operator"])
    await s.act(numbers[4], wf.SignFor(), act["water"])
    await s.act(numbers[4], wf.Reply("已答复"), act["water"])
    tickets.clock.advance(days=10)
    page1 = await s.overdue(limit=2)
    page2 = await s.overdue(limit=10, after=page1[-1]["number"])
    rows = page1 + page2
    assert {p["number"] for p in rows} == {*numbers[:4], urgent}
    keys = [(p["reply_due"], p["number"]) for p in rows]
    assert keys == sorted(keys) and len(page1) == 2
    assert all(p["reply_due"] < tickets.clock.now.isoformat() for p in rows)
    assert await s.overdue(department_id=d["housing"]) == []
    assert (await s.count_by_status())[Status.REPLIED.value] == 1


async def test_migrations_up_from_empty_and_down_to_nothing(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert {"tickets", "ticket_history", "outbox", "kb_articles", "departments"} <= names
        await migrate(engine, "base")
        async with engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await migrate(engine)  # and up again
    finally:
        await engine.dispose()
