"""A call through the real server, real Redis and the stand-in over real sockets."""

from __future__ import annotations

import asyncio

import aiohttp
from sqlalchemy import select

from hotline.keys import CONTROLLER, STORE
from hotline.queue.models import OperatorState
from hotline.simulator.model import SeatScript
from hotline.simulator.traffic import TrafficResults, run_caller
from hotline.tickets.http import SERVICES
from hotline.tickets.schema import calls
from tests.conftest import ADMIN, add_seats, counter, make_settings, ready_all, seats, wait_for


async def test_given_a_ready_operator_when_a_citizen_calls_then_they_are_connected(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800138000", "12345")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    bridge = standin.sim.bridges[caller.bridge]
    agent = standin.sim.channels[next(c for c in bridge.channels if c != caller.id)]
    assert agent.endpoint == "PJSIP/1001" and agent.state == "Up"
    await wait_for(
        lambda: counter(srv, "hotline_calls_answered_total", queue="general", line="12345") == 1,
        what="answered metric",
    )
    assert counter(srv, "hotline_calls_offered_total", queue="general", line="12345") == 1
    assert (
        counter(srv, "hotline_calls_answered_within_sla_total", queue="general", line="12345") == 1
    )
    op = await srv[STORE].get_operator("1001")
    assert op is not None and op.state is OperatorState.ON_CALL and op.call_id == caller.id
    assert standin.sim.live_recordings, "the conversation is recorded"
    standin.sim.remote_hangup(caller.id)
    await wait_for(lambda: not standin.sim.bridges, what="bridge destroyed")
    assert agent.id not in standin.sim.channels
    await wait_for(lambda: srv[STORE].get_operator("1001"), what="op")
    op = await wait_for(_op_in(srv, "1001", OperatorState.READY), what="back to ready")
    assert op.calls_today == 1
    row = await wait_for(_call_row(srv, caller.id), what="call record in SQL")
    assert row.outcome == "answered" and row.operator_id == "1001" and row.line == "12345"
    assert row.queue == "general"
    assert row.caller == "13800138000" and row.recording == f"call-{caller.id}"
    assert row.talk_s > 0 and 0 <= row.wait_s < 5 and row.ended_at >= row.answered_at


def _call_row(srv, call_id: str):  # type: ignore[no-untyped-def]
    async def check():  # type: ignore[no-untyped-def]
        services = srv[SERVICES]
        async with services.tickets.engine.connect() as conn:
            q = select(calls).where(calls.c.call_id == call_id)
            return (await conn.execute(q)).first()

    return check


def _op_in(srv, op_id: str, state: OperatorState):  # type: ignore[no-untyped-def]
    async def check():  # type: ignore[no-untyped-def]
        op = await srv[STORE].get_operator(op_id)
        return op if op and op.state is state else None

    return check


async def test_given_no_free_operator_when_caller_gives_up_then_abandon_is_counted(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    results = TrafficResults()
    res = await run_caller(standin.sim, "13900000000", "12345", 0.6, 1.0, results)
    assert res.outcome == "abandoned"
    await wait_for(
        lambda: counter(srv, "hotline_calls_abandoned_total", queue="general", line="12345") == 1,
        what="abandon metric",
    )
    assert counter(srv, "hotline_calls_short_abandoned_total", queue="general", line="12345") == 1
    assert await srv[STORE].waiting_count() == 0
    assert not srv[CONTROLLER].calls
    row = await wait_for(_call_row(srv, res.channel_id), what="call record in SQL")
    assert row.outcome == "abandoned" and row.operator_id is None and row.answered_at is None


async def test_given_a_seat_that_does_not_answer_then_the_call_goes_to_the_next_seat(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    standin.sim.add_endpoint("1001", SeatScript(answer_delay_s=0.05, answer_prob=0.0))
    standin.sim.add_endpoint("1002", SeatScript(answer_delay_s=0.05))
    settings = make_settings(standin, redis_url, operators=seats(2), ring_timeout_s=1.0)
    srv = await server_factory(settings)
    await ready_all(srv, ["1001"])
    await asyncio.sleep(0.05)
    await ready_all(srv, ["1002"])  # 1001 idles longest: it is offered first
    caller = standin.sim.incoming_call("13800138000")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 8)
    bridge = standin.sim.bridges[caller.bridge]
    agent = next(standin.sim.channels[c] for c in bridge.channels if c != caller.id)
    assert agent.endpoint == "PJSIP/1002"
    missed = await srv[STORE].get_operator("1001")
    assert missed is not None and missed.state is OperatorState.NOT_READY
    assert missed.reason == "missed_call"
    assert counter(srv, "hotline_offers_missed_total") == 1


async def test_given_an_unreachable_seat_then_ari_500_is_survived_and_call_rerouted(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1, first=1002)  # PJSIP/1001 does not exist: originate → 500
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(2)))
    await ready_all(srv, ["1001"])
    await asyncio.sleep(0.05)
    await ready_all(srv, ["1002"])
    caller = standin.sim.incoming_call("13800138000")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 8)
    assert counter(srv, "hotline_ari_errors_total", kind="ari-server-error") >= 1
    assert counter(srv, "hotline_calls_fallback_total", reason="error") == 0


async def test_given_a_dead_redis_when_a_call_arrives_then_it_falls_back_to_the_dialplan(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    settings = make_settings(standin, "redis://127.0.0.1:1/0", operators=seats(1))
    srv = await server_factory_no_seed(server_factory, settings)
    caller = standin.sim.incoming_call("13800138000")
    await wait_for(lambda: standin.sim.stats.fallback_calls == 1, what="dialplan fallback")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)  # Queue(fallback) answered
    assert counter(srv, "hotline_calls_fallback_total", reason="error") == 1
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{srv.url}/healthz") as r:
            assert r.status == 503 and (await r.json())["redis"] is False
        async with http.get(f"{srv.url}/metrics") as r:
            assert r.status == 200
            assert "hotline_calls_fallback_total" in await r.text()


async def server_factory_no_seed(factory, settings):  # type: ignore[no-untyped-def]
    """Start with no seats to seed, since seeding needs Redis."""
    return await factory(settings.model_copy(update={"operators": []}))


async def test_health_metrics_and_api_answer(standin, redis_url, server_factory) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url))
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{srv.url}/healthz") as r:
            body = await r.json()
            assert r.status == 200 and body["ari_connected"] is True and body["redis"] is True
        async with http.get(f"{srv.url}/metrics") as r:
            text = await r.text()
            for name in (
                "hotline_calls_offered_total",
                "hotline_queue_wait_seconds_bucket",
                "hotline_calls_waiting",
                'hotline_agents{state="logged_out"} 3.0',
            ):
                assert name in text
        async with http.get(f"{srv.url}/api/agents") as r:
            assert r.status == 401, "the operators' list needs a signed-in user"
        async with http.get(f"{srv.url}/api/agents", headers=ADMIN) as r:
            assert [a["id"] for a in await r.json()] == ["1001", "1002", "1003"]
        async with http.get(f"{srv.url}/") as r:  # the front door leads to the sign-in page
            assert r.url.path == "/login" and "12345" in await r.text()
