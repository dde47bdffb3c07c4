"""A supervisor listening, whispering and barging on a live call through the real server and
the stand-in over real sockets: the snoop's directions as Asterisk takes them, the
supervisor's seat rung and bridged, ``call.coached`` for the operator's desk, and the end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from hotline.keys import CONTROLLER, STORE
from tests.conftest import ADMIN, add_seats, make_settings, ready_all, seats, wait_for

SUPERVISOR_SEAT = "PJSIP/2001"


async def _connected_call(standin: Any, redis_url: str, server_factory: Any) -> tuple[Any, Any]:
    add_seats(standin, 1)
    add_seats(standin, 1, first=2001)  # the supervisor's own phone
    srv = await server_factory(
        make_settings(
            standin, redis_url, operators=seats(1), supervisor_endpoints=[SUPERVISOR_SEAT]
        )
    )
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800138000", "12345")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    return srv, caller


async def _api(srv: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.request(method, srv.url + path, json=body) as resp:
            return resp.status, await resp.json()


async def _coached(srv: Any) -> list[dict[str, Any]]:
    store = srv.app[STORE]
    return [
        json.loads(f[b"data"])
        for _, f in await store.r.xrange(store.k_events)
        if f[b"type"] == b"call.coached"
    ]


def _agent_channel(standin: Any, caller: Any) -> str:
    bridge = standin.sim.bridges[caller.bridge]
    return next(c for c in bridge.channels if c != caller.id)


@pytest.mark.parametrize(("mode", "whisper"), [("listen", "none"), ("whisper", "out")])
async def test_given_a_live_call_when_a_supervisor_snoops_then_the_directions_are_asterisks(
    standin: Any,
    redis_url: str,
    server_factory: Any,
    mode: str,
    whisper: str,
) -> None:
    srv, caller = await _connected_call(standin, redis_url, server_factory)
    agent = _agent_channel(standin, caller)
    status, body = await _api(
        srv, "POST", f"/api/calls/{caller.id}/coach", {"mode": mode, "seat": SUPERVISOR_SEAT}
    )
    assert status == 202, body
    events = await wait_for(lambda: _coached(srv), what="call.coached on", timeout=10)
    assert events[-1] == {
        "call_id": caller.id,
        "operator": "1001",
        "on": True,
        "mode": mode,
        "supervisor": "admin",
    }
    # The snoop is on the operator's channel: both sides heard, whisper only to the operator.
    assert standin.sim.snoops == [(body["snoop"], agent, "both", whisper)]
    sup = standin.sim.channels[body["channel"]]
    assert sup.endpoint == SUPERVISOR_SEAT and sup.state == "Up"
    coach_bridge = standin.sim.bridges[sup.bridge]
    assert set(coach_bridge.channels) == {body["snoop"], body["channel"]}
    call_bridge = standin.sim.bridges[caller.bridge]
    assert body["channel"] not in call_bridge.channels, "the citizen does not hear the supervisor"

    status, body2 = await _api(srv, "DELETE", f"/api/calls/{caller.id}/coach")
    assert status == 200 and body2["stopped"] is True
    await wait_for(lambda: body["channel"] not in standin.sim.channels, what="seat hung up")
    assert body["snoop"] not in standin.sim.channels and sup.bridge not in standin.sim.bridges
    assert (await _coached(srv))[-1]["on"] is False
    assert caller.id in standin.sim.channels, "the call itself goes on"


async def test_given_a_live_call_when_a_supervisor_barges_then_they_join_the_calls_bridge(
    standin: Any,
    redis_url: str,
    server_factory: Any,
) -> None:
    srv, caller = await _connected_call(standin, redis_url, server_factory)
    status, body = await _api(
        srv, "POST", f"/api/calls/{caller.id}/coach", {"mode": "barge", "seat": SUPERVISOR_SEAT}
    )
    assert status == 202, body
    await wait_for(lambda: _coached(srv), what="call.coached on", timeout=10)
    assert standin.sim.snoops == [], "a barge is a plain join, no snoop"
    assert body["channel"] in standin.sim.bridges[caller.bridge].channels
    # The call ends: coaching ends with it and the desk is told.
    standin.sim.remote_hangup(caller.id)
    await wait_for(lambda: body["channel"] not in standin.sim.channels, what="seat hung up")

    async def off() -> bool:
        return (await _coached(srv))[-1]["on"] is False

    await wait_for(off, what="call.coached off", timeout=10)


async def test_given_no_such_call_or_a_bad_seat_then_coaching_is_refused(
    standin: Any,
    redis_url: str,
    server_factory: Any,
) -> None:
    srv, caller = await _connected_call(standin, redis_url, server_factory)
    status, _ = await _api(
        srv, "POST", "/api/calls/nope/coach", {"mode": "listen", "seat": SUPERVISOR_SEAT}
    )
    assert status == 409
    for seat in ("PJSIP/13800@trunk", "Local/x@ctx", ""):
        status, _ = await _api(
            srv, "POST", f"/api/calls/{caller.id}/coach", {"mode": "listen", "seat": seat}
        )
        assert status == 422, seat
    status, _ = await _api(
        srv, "POST", f"/api/calls/{caller.id}/coach", {"mode": "spy", "seat": SUPERVISOR_SEAT}
    )
    assert status == 422
    # a well-formed endpoint that is no supervisor's or operator's phone: the call's audio
    # is never sent there
    status, body = await _api(
        srv, "POST", f"/api/calls/{caller.id}/coach", {"mode": "listen", "seat": "PJSIP/outside"}
    )
    assert status == 409 and "supervisor" in body["message"], body
    assert standin.sim.snoops == []


async def test_given_the_supervisors_phone_is_not_answered_then_the_snoop_is_taken_down(
    standin: Any,
    redis_url: str,
    server_factory: Any,
) -> None:
    from hotline.simulator.model import SeatScript

    add_seats(standin, 1)
    standin.sim.add_endpoint("2001", SeatScript(answer_prob=0.0))
    srv = await server_factory(
        make_settings(
            standin,
            redis_url,
            operators=seats(1),
            ring_timeout_s=1.0,
            supervisor_endpoints=[SUPERVISOR_SEAT],
        )
    )
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800138000", "12345")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    status, body = await _api(
        srv, "POST", f"/api/calls/{caller.id}/coach", {"mode": "listen", "seat": SUPERVISOR_SEAT}
    )
    assert status == 202, body
    sessions = srv.app[CONTROLLER].coaching.sessions
    await wait_for(lambda: caller.id not in sessions, what="coaching given up", timeout=10)
    assert body["snoop"] not in standin.sim.channels and body["channel"] not in standin.sim.channels
    assert await _coached(srv) == [], "the desk was never told of a supervisor who never came"
    assert caller.id in standin.sim.channels


async def test_given_two_servers_when_the_other_gets_a_whisper_then_the_owner_does_it(
    standin: Any,
    redis_url: str,
    server_factory: Any,
) -> None:
    """The supervisor's request lands on an instance that does not hold the call: it is
    forwarded through Redis to the owner, which snoops and rings, and stops it later."""
    add_seats(standin, 1)
    add_seats(standin, 1, first=2001)
    owner = await server_factory(
        make_settings(
            standin, redis_url, operators=seats(1), supervisor_endpoints=[SUPERVISOR_SEAT]
        )
    )
    other = await server_factory(
        make_settings(
            standin,
            redis_url,
            operators=seats(1),
            ari_app="hotline-b",
            supervisor_endpoints=[SUPERVISOR_SEAT],
        )
    )
    await ready_all(owner, ["1001"])
    caller = standin.sim.incoming_call("13800138000", "12345")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    assert caller.id in owner.app[CONTROLLER].calls
    assert caller.id not in other.app[CONTROLLER].calls
    status, body = await _api(
        other, "POST", f"/api/calls/{caller.id}/coach", {"mode": "whisper", "seat": "PJSIP/2001"}
    )
    assert status == 202, body
    assert standin.sim.snoops == [(body["snoop"], _agent_channel(standin, caller), "both", "out")]
    assert caller.id in owner.app[CONTROLLER].coaching.sessions, "the owner runs it"
    status, done = await _api(other, "DELETE", f"/api/calls/{caller.id}/coach")
    assert status == 200 and done["stopped"] is True
    await wait_for(lambda: body["channel"] not in standin.sim.channels, what="seat hung up")
