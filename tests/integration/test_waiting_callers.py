"""Waiting callers get a position and an estimated wait; long waits raise an overflow."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from hotline.keys import REDIS
from tests.conftest import ADMIN, add_seats, make_settings, ready_all, seats, wait_for


async def overflow_events(srv) -> list[dict]:  # type: ignore[no-untyped-def]
    entries = await srv[REDIS].xrange("hotline:events")
    return [json.loads(f[b"data"]) for _, f in entries if f[b"type"] == b"call.overflow"]


async def test_given_one_busy_seat_then_waiting_callers_see_position_and_wait(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(
        make_settings(
            standin,
            redis_url,
            operators=seats(1),
            mean_handle_s=60.0,
            overflow_announce_after_s=30.0,
            overflow_callback_after_s=100.0,
        )
    )
    await ready_all(srv, ["1001"])
    first = standin.sim.incoming_call("13800000001")
    await asyncio.wait_for(first.bridged_with_agent.wait(), 5)
    second = standin.sim.incoming_call("13800000002")
    third = standin.sim.incoming_call("13800000003")

    async def calls() -> list[dict]:  # type: ignore[type-arg]
        async with (
            aiohttp.ClientSession(headers=ADMIN) as http,
            http.get(f"{srv.url}/api/calls") as r,
        ):
            return [c for c in await r.json() if c["position"] is not None]

    queued = await wait_for(lambda: _two(calls()), what="estimates for two callers")
    by_id = {c["call_id"]: c for c in queued}
    assert by_id[second.id]["position"] == 1 and by_id[third.id]["position"] == 2
    # No answer history yet: one staffed seat, 60 s mean handling → 60 s per place.
    assert by_id[second.id]["estimated_wait_s"] == 60.0
    assert by_id[third.id]["estimated_wait_s"] == 120.0
    events = await wait_for(lambda: _n(overflow_events(srv), 2), what="overflow events")
    actions = {e["call_id"]: e["action"] for e in events}
    assert actions == {second.id: "announce", third.id: "callback"}


async def _two(coro) -> list[dict] | None:  # type: ignore[no-untyped-def,type-arg]
    result = await coro
    return result if len(result) == 2 and all(c["estimated_wait_s"] for c in result) else None


async def _n(coro, n: int):  # type: ignore[no-untyped-def]
    result = await coro
    return result if len(result) >= n else None


async def test_given_nobody_staffed_then_the_wait_is_unknown_and_a_callback_is_offered(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    caller = standin.sim.incoming_call("13800000009")
    events = await wait_for(lambda: _n(overflow_events(srv), 1), what="overflow")
    assert events[0]["call_id"] == caller.id and events[0]["action"] == "callback"
    await asyncio.sleep(0.5)
    assert len(await overflow_events(srv)) == 1  # announced once, not every tick
