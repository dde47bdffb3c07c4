"""The operator's call controls through the desk's HTTP route, the real server, real Redis
and the stand-in over real sockets: hold and resume, blind transfer, a three-way call,
refusals, and a control that lands on a server that does not own the call."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace
from typing import Any

import aiohttp
from sqlalchemy import select

from hotline.keys import ARI, CONTROLLER, INSTANCE, STORE, TICKETS
from hotline.queue.models import OperatorState
from hotline.simulator.model import SeatScript
from hotline.telephony.exceptions import AriServerError
from hotline.tickets.models import Role
from hotline.tickets.schema import calls
from tests.conftest import add_seats, counter, make_settings, ready_all, seats, wait_for


async def operator(srv: Any, seat: str = "1001") -> dict[str, str]:
    _, token = await srv[TICKETS].directory.add_user(seat, Role.OPERATOR)
    return {"Authorization": f"Bearer {token}"}


async def control(
    srv: Any, who: dict[str, str], call_id: str, action: str, target: str = ""
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession(headers=who) as http,
        http.post(
            f"{srv.url}/desk/calls/{call_id}/control", json={"action": action, "target": target}
        ) as resp,
    ):
        return resp.status, await resp.json()


async def events(srv: Any, kind: str) -> list[dict[str, Any]]:
    got = await srv[STORE].read_events("0-0", count=10_000, block_ms=None)
    return [json.loads(data) for _, t, data in got if t == kind]


def event_like(srv: Any, kind: str, **fields: str) -> Any:
    async def check() -> bool:
        return any(fields.items() <= e.items() for e in await events(srv, kind))

    return check


async def connect(standin: Any, number: str = "13800138000") -> Any:
    caller = standin.sim.incoming_call(number, "12345")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    return caller


def agent_of(standin: Any, caller: Any) -> Any:
    bridge = standin.sim.bridges[caller.bridge]
    return next(standin.sim.channels[c] for c in bridge.channels if c.startswith("agent-"))


def call_row(srv: Any, call_id: str) -> Any:
    async def check() -> Any:
        async with srv[TICKETS].tickets.engine.connect() as conn:
            return (await conn.execute(select(calls).where(calls.c.call_id == call_id))).first()

    return check


async def test_given_a_call_when_held_then_the_caller_hears_music_until_resumed(
    standin: Any, redis_url: str, server_factory: Any
) -> None:
    add_seats(standin, 1)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    who = await operator(srv)
    await ready_all(srv, ["1001"])
    caller = await connect(standin)
    agent = agent_of(standin, caller)
    bridge = caller.bridge

    status, body = await control(srv, who, caller.id, "hold")
    assert (status, body["result"]) == (200, "held")
    await wait_for(lambda: caller.held and caller.moh, what="caller hears music on hold")
    assert caller.muted == "in"  # the operator hears nothing of the caller
    assert not agent.moh and not agent.held
    assert caller.bridge == agent.bridge == bridge  # still one call in one bridge
    await wait_for(event_like(srv, "call.held", call_id=caller.id, operator="1001"), what="held")

    status, body = await control(srv, who, caller.id, "hold")
    assert status == 409 and "already on hold" in body["message"]

    status, body = await control(srv, who, caller.id, "resume")
    assert (status, body["result"]) == (200, "resumed")
    await wait_for(lambda: not caller.held and not caller.moh, what="music stops")
    assert caller.muted == "" and caller.bridge == bridge
    await wait_for(event_like(srv, "call.resumed", call_id=caller.id, operator="1001"), what="ev")
    assert counter(srv, "hotline_desk_controls_total", action="hold", result="done") == 1
    assert counter(srv, "hotline_desk_controls_total", action="hold", result="refused") == 1

    standin.sim.remote_hangup(caller.id)
    row = await wait_for(call_row(srv, caller.id), what="call record")
    assert row.outcome == "answered" and row.talk_s > 0


async def test_given_a_call_when_transferred_then_the_caller_reaches_the_number(
    standin: Any, redis_url: str, server_factory: Any
) -> None:
    add_seats(standin, 1)
    standin.sim.citizens["88001234"] = SeatScript(answer_delay_s=0.05)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1), wrapup_s=30))
    who = await operator(srv)
    await ready_all(srv, ["1001"])
    caller = await connect(standin)
    agent = agent_of(standin, caller)
    assert (await control(srv, who, caller.id, "hold"))[0] == 200  # a held caller too

    status, body = await control(srv, who, caller.id, "transfer", "88001234")
    assert (status, body["result"]) == (200, "transferred")
    await wait_for(lambda: caller.transfer_answered, what="the number answers the caller")
    assert caller.transferred_to == "88001234"
    assert (
        caller.dialplan["context"] == "hotline-transfer" and caller.dialplan["exten"] == "88001234"
    )
    assert caller.id in standin.sim.channels and not caller.in_stasis and not caller.bridge
    assert not caller.held and not caller.moh and caller.muted == ""  # resumed before leaving
    await wait_for(lambda: agent.id not in standin.sim.channels, what="operator leg hung up")
    await wait_for(lambda: not standin.sim.bridges, what="bridge gone")
    op = await srv[STORE].get_operator("1001")
    assert op is not None and op.state is OperatorState.WRAP_UP
    await wait_for(
        event_like(srv, "call.transferred", call_id=caller.id, operator="1001", target="88001234"),
        what="transferred event",
    )
    row = await wait_for(call_row(srv, caller.id), what="call record")
    assert row.outcome == "transferred" and row.operator_id == "1001" and row.talk_s > 0
    assert counter(srv, "hotline_calls_transferred_total", queue="general", line="12345") == 1
    assert caller.id not in srv[CONTROLLER].calls
    assert standin.sim.stats.fallback_calls == 0


async def test_given_a_three_way_call_then_the_third_talks_leaves_and_the_call_goes_on(
    standin: Any, redis_url: str, server_factory: Any
) -> None:
    add_seats(standin, 1)
    sim = standin.sim
    sim.citizens["12369001"] = SeatScript(answer_delay_s=0.05)
    sim.citizens["12369002"] = SeatScript(answer_prob=0.0)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    ctl = srv[CONTROLLER]
    ctl.config = replace(ctl.config, dial_timeout_s=1.0)  # an unanswered dial gives up soon
    who = await operator(srv)
    await ready_all(srv, ["1001"])
    caller = await connect(standin)
    bridge = sim.bridges[caller.bridge]

    status, body = await control(srv, who, caller.id, "conference", "12369001")
    assert (status, body["result"]) == (200, "dialing")
    third = await wait_for(lambda: sim.channels.get(f"third-{caller.id}-1"), what="third rung")
    assert third.endpoint == "PJSIP/12369001@trunk"
    await wait_for(lambda: third.id in bridge.channels, what="third party in the bridge")
    assert len(bridge.channels) == 3 and caller.id in bridge.channels  # all three talk
    await wait_for(
        event_like(srv, "call.conference", call_id=caller.id, operator="1001", state="joined"),
        what="joined",
    )
    status, body = await control(srv, who, caller.id, "transfer", "88001234")
    assert status == 409 and "three-way" in body["message"]
    status, body = await control(srv, who, caller.id, "conference", "12369003")
    assert status == 409 and "already in progress" in body["message"]

    sim.remote_hangup(third.id)  # the department hangs up
    await wait_for(event_like(srv, "call.conference", state="left"), what="left")
    assert len(bridge.channels) == 2 and caller.id in sim.channels
    assert caller.id in ctl.calls

    status, _ = await control(srv, who, caller.id, "conference", "12369002")
    assert status == 200
    await wait_for(event_like(srv, "call.conference", state="failed"), 5, what="dial failed")
    assert len(bridge.channels) == 2 and caller.id in ctl.calls  # nothing else changed

    assert (await control(srv, who, caller.id, "conference", "12369001"))[0] == 200
    again = await wait_for(lambda: sim.channels.get(f"third-{caller.id}-3"), what="third again")
    await wait_for(lambda: again.id in bridge.channels, what="joined again")
    sim.remote_hangup(caller.id)  # the call ends: the third leg goes with it
    await wait_for(lambda: again.id not in sim.channels, what="third leg hung up")
    await wait_for(lambda: not sim.bridges, what="bridge gone")


async def test_given_controls_that_do_not_fit_then_each_is_refused_with_a_reason(
    standin: Any, redis_url: str, server_factory: Any, monkeypatch: Any
) -> None:
    add_seats(standin, 1)
    add_seats(standin, 1, first=1002, answer_delay_s=1.5)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(2)))
    first, second = await operator(srv, "1001"), await operator(srv, "1002")
    await ready_all(srv, ["1001"])
    caller = await connect(standin)
    cases = [
        (second, caller.id, "hold", "", "not your call"),
        (first, "1234.56", "hold", "", "not live"),
        (first, caller.id, "resume", "", "not on hold"),
        (first, caller.id, "transfer", "12", "not a phone number"),
        (first, caller.id, "transfer", "*#110", "not a phone number"),
        (first, caller.id, "conference", "+8613800138000", "not a phone number"),
        (first, caller.id, "transfer", "12345", "own number"),
    ]
    for who, call_id, action, target, why in cases:
        status, body = await control(srv, who, call_id, action, target)
        assert status == 409 and why in body["message"], (action, target, body)
        assert body["error_id"] == "call-control-refused"
    assert caller.bridged_with_agent.is_set() and not caller.held

    await ready_all(srv, ["1002"])
    ringing = standin.sim.incoming_call("13900139000", "12345")
    await wait_for(
        lambda: any(c.endpoint == "PJSIP/1002" for c in standin.sim.channels.values()),
        what="second seat rings",
    )
    status, body = await control(srv, second, ringing.id, "hold")
    assert status == 409 and "answer it first" in body["message"]

    async def broken_hold(channel_id: str) -> None:
        raise AriServerError("POST hold: 500", http_status=500)

    monkeypatch.setattr(srv[ARI], "hold", broken_hold)
    status, body = await control(srv, first, caller.id, "hold")
    assert status == 409 and "ended" in body["message"]
    # Protect the caller: the failed hold sends them to the fallback queue, unmuted.
    await wait_for(lambda: standin.sim.stats.fallback_calls == 1, what="caller in the fallback")
    assert not caller.in_stasis and caller.id in standin.sim.channels
    assert caller.muted == "" and not caller.held
    assert counter(srv, "hotline_calls_fallback_total", reason="error") == 1


async def test_given_two_servers_when_the_other_gets_a_control_then_the_owner_does_it(
    standin: Any, redis_url: str, server_factory: Any
) -> None:
    add_seats(standin, 1)
    owner = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    other = await server_factory(
        make_settings(standin, redis_url, operators=seats(1), ari_app="hotline-b")
    )
    assert owner[INSTANCE] != other[INSTANCE]
    who = await operator(other)  # the desk's request lands on the other server
    await ready_all(owner, ["1001"])
    caller = await connect(standin)
    assert caller.id in owner[CONTROLLER].calls and caller.id not in other[CONTROLLER].calls
    saved = await other[STORE].live_call(caller.id)
    assert saved["owner"] == owner[INSTANCE]

    status, body = await control(other, who, caller.id, "hold")
    assert (status, body["result"]) == (200, "held")
    await wait_for(lambda: caller.held and caller.moh, what="held by the owner")
    status, body = await control(other, who, caller.id, "hold")
    assert status == 409 and "already on hold" in body["message"]  # the owner's refusal
    status, body = await control(other, who, caller.id, "resume")
    assert (status, body["result"]) == (200, "resumed")
    await wait_for(lambda: not caller.held, what="resumed by the owner")

    await owner.runner.cleanup()  # the owner dies; the call stays up in Asterisk
    started = time.monotonic()
    status, body = await control(other, who, caller.id, "hold")
    assert status == 503 and body["error_id"] == "call-control-unavailable"
    assert time.monotonic() - started < 5  # a clear error, never a hang
    await asyncio.sleep(0.5)
    assert not caller.held  # nothing happened that the desk was not told about


async def test_standin_hold_mute_and_transfer_answer_as_asterisk_does(standin: Any) -> None:
    """resource_channels.c: 404 for no channel, 409 outside Stasis, 412 for an outbound
    channel not answered yet, 400 for a mute without a direction; hold is an indication to
    the channel itself (its own music on hold, no ChannelHold event)."""
    sim = standin.sim
    base = f"{standin.ari_url}/ari/channels"
    auth = {"Authorization": aiohttp.encode_basic_auth("hotline", "hotline")}
    async with aiohttp.ClientSession(headers=auth) as http:
        ws = await http.ws_connect(f"{standin.ari_url}/ari/events?app=hotline")
        try:
            await wait_for(lambda: sim.app_connected, what="app")
            caller = sim.incoming_call("13800138000")
            ringing = sim.originate("PJSIP/88001234@trunk", "hotline", "x", "out-1", "", 30)
            sim.citizens["88001234"] = SeatScript(answer_delay_s=0.05)
            cases = [
                ("POST", "nope/hold", {}, 404, "Channel not found"),
                ("DELETE", "nope/hold", {}, 404, "Channel not found"),
                ("POST", f"{ringing.id}/hold", {}, 412, "Channel in invalid state"),
                ("POST", f"{caller.id}/mute", {}, 400, "Direction is required"),
                ("POST", f"{caller.id}/mute", {"direction": "up"}, 400, "Invalid direction"),
            ]
            for method, path, params, status, message in cases:
                async with http.request(method, f"{base}/{path}", params=params) as resp:
                    assert resp.status == status, (path, await resp.text())
                    assert message in (await resp.json())["message"]
            async with http.post(f"{base}/{caller.id}/answer") as resp:
                assert resp.status == 204
            async with http.post(f"{base}/{caller.id}/hold") as resp:
                assert resp.status == 204
            await wait_for(lambda: caller.held and caller.moh, what="held")
            async with http.delete(f"{base}/{caller.id}/hold") as resp:
                assert resp.status == 204
            await wait_for(lambda: not caller.held and not caller.moh, what="unheld")
            params = {"context": "hotline-transfer", "extension": "88001234", "priority": "1"}
            async with http.post(f"{base}/{caller.id}/continue", params=params) as resp:
                assert resp.status == 204
            await wait_for(lambda: caller.transfer_answered, what="transfer answered")
            async with http.post(f"{base}/{caller.id}/hold") as resp:
                assert resp.status == 409  # back in the dialplan, no longer in Stasis
        finally:
            await ws.close()
    assert sim.stats.fallback_calls == 0
