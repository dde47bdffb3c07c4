"""The board's snapshot over HTTP: callers waiting per queue, a seat stuck in not ready, and
the links to Asterisk, each raising its alert; the settings' thresholds in force."""

from __future__ import annotations

from typing import Any

import aiohttp

from hotline.keys import AMI, ARI
from tests.conftest import ADMIN, add_seats, make_settings, ready_all, seats, wait_for


async def _snapshot(srv: Any) -> dict[str, Any]:
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.get(f"{srv.url}/board/snapshot") as resp:
            assert resp.status == 200, await resp.text()
            data: dict[str, Any] = await resp.json()
            return data


async def test_given_waiting_callers_and_a_stuck_seat_then_the_board_alerts(
    standin: Any, redis_url: str, server_factory: Any
) -> None:
    add_seats(standin, 2)
    srv = await server_factory(
        make_settings(
            standin,
            redis_url,
            operators=seats(2),
            board_queue_waiting_max=1,
            board_stuck_not_ready_s=0.5,
            announce_first_s=0,
            describe_after_s=0,
        )
    )
    await ready_all(srv, ["1001"])
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.post(
            f"{srv.url}/api/agents/1001/state", json={"state": "not_ready", "reason": "meal"}
        ) as resp:
            assert resp.status == 200
    for i in range(3):
        standin.sim.incoming_call(f"1380000000{i}", "12345")

    async def waiting() -> dict[str, Any] | None:
        snap = await _snapshot(srv)
        total = next(g for g in snap["groups"] if g["key"] == "*")
        return snap if total["waiting"] == 3 else None

    snap = await wait_for(waiting, what="three callers waiting", timeout=10)
    group = next(g for g in snap["groups"] if g["key"] == "general|12345")
    assert group["waiting"] == 3 and group["longest_wait_s"] >= 0
    async def alerted() -> dict[str, Any] | None:  # a snapshot is shared for up to 1 s
        snap = await _snapshot(srv)
        kinds = {(a["kind"], a["subject"]) for a in snap["alerts"]}
        wanted = {("queue_waiting", "general"), ("operator_stuck", "1001")}
        return snap if wanted <= kinds else None

    snap = await wait_for(alerted, what="queue and stuck-seat alerts", timeout=10)
    op = next(o for o in snap["operators"] if o["id"] == "1001")
    assert op["state"] == "not_ready" and op["stuck"] is True and op["in_state_s"] >= 0.5
    assert next(o for o in snap["operators"] if o["id"] == "1002")["stuck"] is False
    assert snap["connections"] == {"ari": True, "ami": True}
    assert snap["service_level_target"] == 0.8
    # Nobody ready: the staffing advice counts the callers waiting as arrivals.
    assert snap["staffing"][0]["arrivals"] == 3 and snap["staffing"][0]["ready"] == 0

    srv.app[ARI].connected.clear()
    srv.app[AMI].logged_in.clear()
    async def links_down() -> bool:
        kinds = {a["kind"] for a in (await _snapshot(srv))["alerts"]}
        return {"ari_down", "ami_down"} <= kinds

    await wait_for(links_down, what="ARI and AMI alerts", timeout=10)
