"""The ARI websocket or AMI link drops; the server reconnects, resyncs, and no call is lost
or duplicated."""

from __future__ import annotations

import asyncio

import aiohttp

from hotline.keys import AMI, ARI, CONTROLLER, STORE
from hotline.telephony.session import CallState
from tests.conftest import add_seats, make_settings, ready_all, seats, wait_for


async def drop_ws(standin) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        await http.post(f"{standin.ari_url}/_sim/drop_ws")


async def test_given_calls_waiting_when_the_websocket_drops_then_they_keep_their_place(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 2)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(2)))
    callers = [standin.sim.incoming_call(f"1380000000{i}") for i in range(3)]
    await wait_for(lambda: _count(srv[STORE].waiting_count(), 3), what="3 queued")
    order_before = [t.call_id for t in await srv[STORE].waiting_tasks()]
    await drop_ws(standin)
    await wait_for(
        lambda: not srv[ARI].connected.is_set() or srv[CONTROLLER].resyncs >= 2, what="disconnect"
    )
    await wait_for(lambda: srv[CONTROLLER].resyncs >= 2, what="resync after reconnect")
    order_after = [t.call_id for t in await srv[STORE].waiting_tasks()]
    assert order_after == order_before
    await ready_all(srv, ["1001", "1002"])
    await asyncio.wait_for(callers[0].bridged_with_agent.wait(), 5)
    await asyncio.wait_for(callers[1].bridged_with_agent.wait(), 5)
    assert not callers[2].bridged_with_agent.is_set()
    assert [t.call_id for t in await srv[STORE].waiting_tasks()] == [callers[2].id]
    assert len(srv[CONTROLLER].calls) == 3  # no duplicates


async def _count(coro, n: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await coro == n)


async def test_given_a_call_in_progress_when_the_websocket_drops_then_the_end_is_noticed(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800138000")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    standin.sim.later(0.0, standin.sim.remote_hangup, caller.id)
    await drop_ws(standin)  # the hang-up events are lost with the connection
    await wait_for(lambda: srv[CONTROLLER].resyncs >= 2, what="resync")
    await wait_for(lambda: not srv[CONTROLLER].calls, what="call ended by resync")
    await wait_for(lambda: not standin.sim.bridges, what="bridge cleaned up")
    assert not [c for c in standin.sim.channels.values() if c.kind == "agent"]


async def test_given_a_restarted_server_then_waiting_calls_are_adopted_in_order(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    # The process dies rather than stops: nothing hands the callers to the dialplan.
    settings = make_settings(standin, redis_url, operators=seats(1), hand_back_on_stop=False)
    first = await server_factory(settings)
    callers = [standin.sim.incoming_call(f"1390000000{i}") for i in range(2)]
    await wait_for(lambda: _count(first[STORE].waiting_count(), 2), what="queued")
    queued = [t.call_id for t in await first[STORE].waiting_tasks()]
    await first.runner.cleanup()  # the process dies; Asterisk keeps the callers
    second = await server_factory(settings)
    await wait_for(lambda: len(second[CONTROLLER].calls) == 2, what="adoption")
    assert {r.call.state for r in second[CONTROLLER].calls.values()} == {CallState.QUEUED}
    assert [t.call_id for t in await second[STORE].waiting_tasks()] == queued
    await ready_all(second, ["1001"])
    await asyncio.wait_for(callers[0].bridged_with_agent.wait(), 5)
    assert not callers[1].bridged_with_agent.is_set()


async def test_given_new_calls_while_disconnected_then_they_take_the_dialplan_fallback(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(
        make_settings(
            standin, redis_url, operators=seats(1), reconnect_initial_s=0.5, reconnect_max_s=0.5
        )
    )
    await drop_ws(standin)
    await wait_for(lambda: not standin.sim.app_connected, what="app gone")
    caller = standin.sim.incoming_call("13800138000")
    assert caller.vars.get("STASISSTATUS") == "FAILED"
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    await wait_for(lambda: srv[ARI].connected.is_set(), what="reconnected")
    assert caller.id not in srv[CONTROLLER].calls  # never Stasis: not ours, not duplicated


async def test_given_the_ami_link_is_cut_then_it_is_restored(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    ami = srv[AMI]
    await asyncio.wait_for(ami.logged_in.wait(), 5)
    before = ami.resyncs
    standin.ami.drop_all()
    await wait_for(
        lambda: ami.resyncs > before and ami.logged_in.is_set(),
        timeout=10,
        what="AMI relogin and resync",
    )
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{srv.url}/healthz") as r:
            assert (await r.json())["ami_connected"] is True
