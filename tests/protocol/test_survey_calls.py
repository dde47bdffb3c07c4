"""Follow-up survey calls through the server and the stand-in: the rating lands on the
ticket; an unanswered call is recorded and retried on schedule."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hotline.keys import SURVEYS
from hotline.simulator.model import SeatScript
from hotline.tickets import workflow as wf
from hotline.tickets.http import SERVICES
from hotline.tickets.models import Actor, NewTicket, Role
from tests.conftest import Clock, make_settings, wait_for

TZ = ZoneInfo("Asia/Shanghai")


async def ticket_in_follow_up(srv, phone: str) -> str:  # type: ignore[no-untyped-def]
    services = srv[SERVICES]
    directory, store = services.directory, services.tickets
    try:
        dept = await directory.department_id("water")
    except Exception:
        dept = (await directory.add_department("water", "市供水集团"))["id"]
    staff = Actor(None, Role.DEPARTMENT, dept)
    hotline = Actor(None, Role.DISPATCHER)
    t = await store.create(NewTicket(content="停水三天", caller_phone=phone), hotline)
    n = t["number"]
    for action, actor in [
        (wf.Dispatch(lead=dept), hotline),
        (wf.SignFor(), staff),
        (wf.Reply("已恢复供水"), staff),
        (wf.Review(True), hotline),
    ]:
        await store.act(n, action, actor)
    return str(n)


async def test_survey_call_collects_a_rating_that_closes_the_ticket(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url, operators=[]))
    number = await ticket_in_follow_up(srv, "13900000001")
    surveys = srv[SURVEYS]
    surveys.clock = lambda: datetime(2026, 11, 23, 10, 0, tzinfo=TZ)
    assert await surveys.run_once() == 1
    channel = f"survey-{number}-1"
    leg = await wait_for(lambda: standin.sim.channels.get(channel), what="citizen rung")
    assert leg.endpoint == "PJSIP/13900000001@trunk"
    await wait_for(lambda: "sound:hotline/survey-question" in leg.heard, what="question")
    assert f"digits:{number}" in leg.heard
    standin.sim.send_dtmf(channel, "1")
    store = srv[SERVICES].tickets

    async def closed():  # type: ignore[no-untyped-def]
        t = await store.get(number)
        return t if t["status"] == "closed" else None

    t = await wait_for(closed, what="ticket closed by the survey")
    assert t["satisfaction"] == "satisfied" and t["stars"] == 5
    rec = await store.records(number)
    assert [(f["outcome"], f["channel"]) for f in rec["follow_ups"]] == [("answered", "ivr")]
    assert [r["source"] for r in rec["ratings"]] == ["survey"]
    await wait_for(lambda: channel not in standin.sim.channels, what="hung up")
    assert await surveys.run_once() == 0  # closed: nothing more to call


async def test_unanswered_survey_is_recorded_and_retried_on_schedule(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url, operators=[]))
    standin.sim.citizens["13900000002"] = SeatScript(answer_prob=0.0)
    number = await ticket_in_follow_up(srv, "13900000002")
    surveys = srv[SURVEYS]
    surveys.ring_s = 1
    store = srv[SERVICES].tickets
    clock = Clock(datetime(2026, 11, 24, 10, 0, tzinfo=TZ))
    surveys.clock = store.clock = clock  # attempts are stamped by the store
    assert await surveys.run_once() == 1

    async def attempts() -> list[str]:
        return [f["outcome"] for f in (await store.records(number))["follow_ups"]]

    assert await wait_for(attempts, what="attempt recorded") == ["no_answer"]
    assert (await store.get(number))["status"] == "follow_up"
    assert await surveys.run_once() == 0  # not again until 4 hours later
    clock.advance(hours=3, minutes=59)
    assert await surveys.run_once() == 0
    clock.advance(minutes=2)
    assert await surveys.run_once() == 1
    await wait_for(lambda: len(surveys.results) == 2, what="second attempt")
    clock.advance(hours=20)  # 10:01 + 24 h: but 20 h after 14:01 is 10:01 the next day
    assert await surveys.run_once() == 1
    await wait_for(lambda: len(surveys.results) == 3, what="third attempt")
    assert await attempts() == ["no_answer"] * 3
    clock.advance(days=2)
    assert await surveys.run_once() == 0  # three tries is all; a person follows up
    assert (await store.get(number))["status"] == "follow_up"
