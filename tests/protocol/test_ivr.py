"""IVR flows through the real server and the Asterisk stand-in over real sockets."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from hotline.keys import CONTROLLER, METRICS, STORE
from hotline.queue.models import OperatorState
from hotline.tickets.http import SERVICES
from hotline.tickets.models import Actor, NewTicket, Role
from tests.conftest import add_seats, make_settings, ready_all, seats, wait_for

TOKEN = "ivr-test-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def api(srv: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, srv.url + path, json=body, headers=AUTH) as resp:
            return resp.status, await resp.json()


async def heard(ch: Any, media: str, timeout: float = 5.0) -> None:
    await wait_for(lambda: media in ch.heard, timeout=timeout, what=f"caller hears {media}")


def press(standin: Any, channel: str, digits: str, gap: float = 0.02) -> None:
    for i, d in enumerate(digits):
        standin.sim.later(gap * (i + 1), standin.sim.send_dtmf, channel, d)


async def test_emergency_branch_switched_on_at_runtime_is_heard_by_the_next_caller(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 2)
    ops = seats(1) + seats(1, {"emergency": 5}, first=1002)
    srv = await server_factory(make_settings(standin, redis_url, operators=ops, admin_token=TOKEN))
    await ready_all(srv, ["1001", "1002"])
    first = standin.sim.incoming_call("13800000001", "12345")
    await asyncio.wait_for(first.bridged_with_agent.wait(), 5)
    assert "sound:hotline/emergency" not in first.heard
    status, state = await api(srv, "PUT", "/api/ivr/flags/emergency", {"on": True})
    assert status == 200 and state["flags"] == ["emergency"]
    second = standin.sim.incoming_call("13800000002", "12345")
    await heard(second, "sound:hotline/emergency")
    press(standin, second.id, "1")
    await asyncio.wait_for(second.bridged_with_agent.wait(), 5)

    async def on_call() -> Any:
        op = await srv[STORE].get_operator("1002")
        return op if op.state is OperatorState.ON_CALL else None

    op = await wait_for(on_call, what="emergency seat on the call")
    assert op.call_id == second.id  # the specialist seat, by the flow's skill
    # Counted in the queue it actually waited in, not the line's default.
    registry = srv[METRICS].registry
    labels = {"queue": "emergency", "line": "12345"}
    assert registry.get_sample_value("hotline_calls_offered_total", labels) == 1
    assert registry.get_sample_value("hotline_calls_answered_total", labels) == 1
    await api(srv, "PUT", "/api/ivr/flags/emergency", {"on": False})
    third = standin.sim.incoming_call("13800000003", "12345")
    standin.sim.remote_hangup(first.id)
    await asyncio.wait_for(third.bridged_with_agent.wait(), 5)
    assert "sound:hotline/emergency" not in third.heard


async def test_status_self_service_reads_back_a_real_tickets_status(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(
        make_settings(standin, redis_url, operators=seats(1), admin_token=TOKEN)
    )
    store = srv[SERVICES].tickets
    ticket = await store.create(NewTicket(content="路灯坏了"), Actor(None, Role.SYSTEM))
    await api(srv, "PUT", "/api/ivr/flags/self_service", {"on": True})
    caller = standin.sim.incoming_call("13800000009", "12345")
    await heard(caller, "sound:hotline/press-2-status")
    press(standin, caller.id, "2")
    await heard(caller, "sound:hotline/enter-ticket")
    press(standin, caller.id, ticket["number"] + "#")
    await heard(caller, f"digits:{ticket['number']}")
    await heard(caller, "sound:hotline/status-accepted")  # after the number, in order
    # Then a ticket number that does not exist: "not found", and on to an operator.
    await heard(caller, "sound:hotline/after-status")
    press(standin, caller.id, "1")
    await wait_for(lambda: caller.heard.count("sound:hotline/enter-ticket") == 2, what="ask again")
    press(standin, caller.id, "2026010100000#")
    await heard(caller, "sound:hotline/ticket-not-found")
    await ready_all(srv, ["1001"])
    await wait_for(lambda: caller.heard.count("sound:hotline/after-status") == 2, what="menu")
    press(standin, caller.id, "0")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)


SILENT_FLOW = """
name: silent-test
lines: ["12345"]
start: menu
nodes:
  menu:
    type: menu
    prompt: hotline/emergency
    options: {"1": queue}
    timeout_s: 0.2
    retries: 2
    default: queue
  queue: {type: enqueue}
"""


async def test_silent_caller_and_dtmf_flood_still_reach_an_operator(
    standin, redis_url, server_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "flow.yaml").write_text(SILENT_FLOW)
    add_seats(standin, 2)
    srv = await server_factory(
        make_settings(
            standin, redis_url, operators=seats(2), admin_token=TOKEN, ivr_flows_dir=str(tmp_path)
        )
    )
    await ready_all(srv, ["1001", "1002"])
    silent = standin.sim.incoming_call("13800000011", "12345")
    await asyncio.wait_for(silent.bridged_with_agent.wait(), 5)
    assert silent.heard.count("sound:hotline/invalid") == 2  # two retries, then the queue
    flood = standin.sim.incoming_call("13800000012", "12345")
    for i in range(300):  # 300 key presses while the prompt plays, none of them valid
        standin.sim.later(0.001 * i, standin.sim.send_dtmf, flood.id, "9*#"[i % 3])
    await asyncio.wait_for(flood.bridged_with_agent.wait(), 5)
    assert not srv[CONTROLLER].calls[flood.id].call.digits.strip("9*#")


async def test_broken_flow_at_reload_keeps_the_old_flow_and_reports_the_error(
    standin, redis_url, server_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "flow.yaml").write_text(SILENT_FLOW)
    add_seats(standin, 1)
    srv = await server_factory(
        make_settings(
            standin, redis_url, operators=seats(1), admin_token=TOKEN, ivr_flows_dir=str(tmp_path)
        )
    )
    (tmp_path / "flow.yaml").write_text(SILENT_FLOW.replace("default: queue", "default: nowhere"))
    status, body = await api(srv, "POST", "/api/ivr/reload")
    assert status == 422 and not body["reloaded"]
    assert body["flows"] == {"12345": "silent-test"}
    assert any("flow.yaml:" in e and "nowhere" in e for e in body["last_error"])
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800000013", "12345")
    press(standin, caller.id, "1", gap=0.1)
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)  # the old flow still works
    (tmp_path / "flow.yaml").write_text(SILENT_FLOW.replace("silent-test", "fixed"))
    status, body = await api(srv, "POST", "/api/ivr/reload")
    assert status == 200 and body["flows"] == {"12345": "fixed"} and body["last_error"] == []
    status, _ = await api(srv, "PUT", "/api/ivr/flags/x", {"on": "maybe"})
    assert status == 422
    async with aiohttp.ClientSession() as http:
        async with http.post(srv.url + "/api/ivr/reload") as resp:
            assert resp.status == 401
