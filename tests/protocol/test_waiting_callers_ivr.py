"""What a waiting caller hears and does, through the server and the stand-in: a callback
that keeps the caller's place, the invitation to describe the problem, and the post-call
rating landing on the call and its ticket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import select

from hotline.keys import REDIS
from hotline.tickets import workflow as wf
from hotline.tickets.http import SERVICES
from hotline.tickets.models import Actor, NewTicket, Role
from hotline.tickets.schema import calls
from tests.conftest import add_seats, make_settings, ready_all, seats, wait_for


def press(standin: Any, channel: str, digits: str) -> None:
    for i, d in enumerate(digits):
        standin.sim.later(0.02 * (i + 1), standin.sim.send_dtmf, channel, d)


async def call_row(srv: Any, call_id: str) -> Any:
    async def check() -> Any:
        async with srv[SERVICES].tickets.engine.connect() as conn:
            return (await conn.execute(select(calls).where(calls.c.call_id == call_id))).first()

    return await wait_for(check, what="call record")


async def test_callback_keeps_the_callers_place_and_rings_them_back(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    settings = make_settings(
        standin,
        redis_url,
        operators=seats(1),
        announce_first_s=0.3,
        announce_every_s=0.5,
        overflow_announce_after_s=0.1,
        overflow_callback_after_s=1.0,
        describe_after_s=0,
    )
    srv = await server_factory(settings)
    await ready_all(srv, ["1001"])
    busy = standin.sim.incoming_call("13800000100", "12345")
    await asyncio.wait_for(busy.bridged_with_agent.wait(), 5)
    a = standin.sim.incoming_call("13800000101", "12345")
    await wait_for(lambda: "sound:hotline/callback-offer" in a.heard, what="callback offer")
    press(standin, a.id, "1")
    await wait_for(lambda: "sound:hotline/callback-confirmed" in a.heard, what="confirmation")
    await asyncio.wait_for(a.gone.wait(), 5)  # the server hangs up; the place is kept
    b = standin.sim.incoming_call("13800000102", "12345")
    await wait_for(lambda: "sound:hotline/queue-position" in b.heard, what="b queued")
    standin.sim.remote_hangup(busy.id)  # the operator is free: A, then B

    def citizen_leg() -> Any:
        legs = [c for c in standin.sim.channels.values() if c.app_args == f"callback,{a.id}"]
        return legs[0] if legs and legs[0].bridged_with_agent.is_set() else None

    leg = await wait_for(citizen_leg, what="citizen rung back and bridged")
    assert leg.endpoint == "PJSIP/13800000101@trunk"
    assert not b.bridged_with_agent.is_set()  # B waits behind the callback
    standin.sim.remote_hangup(leg.id)
    await asyncio.wait_for(b.bridged_with_agent.wait(), 5)
    row = await call_row(srv, a.id)
    assert row.outcome == "answered" and row.operator_id == "1001"


async def test_invitation_to_describe_records_the_caller_and_publishes_it(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    settings = make_settings(
        standin,
        redis_url,
        operators=seats(1),
        describe_after_s=0.2,
        describe_min_wait_s=0,
        announce_first_s=0,
    )
    srv = await server_factory(settings)
    caller = standin.sim.incoming_call("13800000200", "12345")
    await wait_for(lambda: "sound:hotline/describe-invite" in caller.heard, what="invitation")
    name = f"describe-{caller.id}"
    await wait_for(lambda: name in standin.sim.live_recordings, what="recording the caller")
    press(standin, caller.id, "#")
    await wait_for(lambda: name in standin.sim.stored_recordings, what="recording stored")

    async def described() -> list[Any]:
        events = await srv[REDIS].xrange(f"{settings.redis_prefix}events")
        return [json.loads(f[b"data"]) for _, f in events if f[b"type"] == b"call.description"]

    found = await wait_for(described, what="call.description event")
    assert found == [{"call_id": caller.id, "recording": name, "draft": "pending"}]
    await ready_all(srv, ["1001"])
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)  # the place was never lost
    standin.sim.remote_hangup(caller.id)
    row = await call_row(srv, caller.id)
    assert row.description == name and row.outcome == "answered"


async def test_post_call_rating_lands_on_the_call_and_its_ticket(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    settings = make_settings(
        standin,
        redis_url,
        operators=seats(1),
        post_call_rating=True,
        announce_first_s=0,
        describe_after_s=0,
    )
    srv = await server_factory(settings)
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800000300", "12345")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    store = srv[SERVICES].tickets
    operator = Actor(None, Role.OPERATOR)
    ticket = await store.create(
        NewTicket(content="咨询居住证办理", caller_phone="13800000300", call_id=caller.id), operator
    )
    await store.act(ticket["number"], wf.Answer("到派出所办理"), operator)
    agent = next(c for c in standin.sim.channels.values() if c.app_args == f"agent,{caller.id}")
    standin.sim.remote_hangup(agent.id)  # the operator hangs up first
    await wait_for(lambda: "sound:hotline/rate-call" in caller.heard, what="rating prompt")
    press(standin, caller.id, "2")
    await wait_for(lambda: "sound:hotline/rate-thanks" in caller.heard, what="thanks")
    await asyncio.wait_for(caller.gone.wait(), 5)
    row = await call_row(srv, caller.id)
    assert row.stars == 4 and row.satisfaction == "satisfied"

    async def rated() -> Any:
        t = await store.get(ticket["number"])
        return t if t["status"] == "closed" else None

    t = await wait_for(rated, what="ticket rated")
    assert t["stars"] == 4 and t["satisfaction"] == "satisfied"
    ratings = (await store.records(ticket["number"]))["ratings"]
    assert [(r["source"], r["stars"]) for r in ratings] == [("ivr", 4)]
