"""Supervisors switch only the IVR flags a flow in force reads; a typo is refused with the
known flags named, and every refusal carries an IVR error id (through the real server)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from hotline.keys import STORE
from tests.conftest import make_settings, seats

TOKEN = "ivr-flags-admin"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

DECLARING_FLOW = """
name: declaring
lines: ["12345"]
flags: [storm_notice]
start: holiday
nodes:
  holiday: {type: condition, flag: holiday, then: closed, else: queue}
  closed: {type: hangup, prompt: hotline/closed}
  queue: {type: enqueue}
"""


async def call(srv: Any, method: str, path: str, **kw: Any) -> tuple[int, Any]:
    kw["headers"] = {**AUTH, **kw.get("headers", {})}
    async with aiohttp.ClientSession() as http:
        async with http.request(method, srv.url + path, **kw) as resp:
            return resp.status, await resp.json()


async def test_given_the_shipped_flows_when_an_unknown_flag_is_switched_then_404_names_the_known(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(
        make_settings(standin, redis_url, operators=seats(1), admin_token=TOKEN)
    )
    status, state = await call(srv, "GET", "/api/ivr")
    assert status == 200 and state["known_flags"] == ["emergency", "self_service"]

    for on in (True, False):  # switching a typo off must not pass for switching the flag off
        status, err = await call(srv, "PUT", "/api/ivr/flags/emergncy", json={"on": on})
        assert status == 404 and err["error_id"] == "ivr-unknown-flag"
        assert "'emergncy'" in err["message"] and "emergency, self_service" in err["message"]
        assert err["details"] == {"flag": "emergncy", "known": ["emergency", "self_service"]}
    assert await srv[STORE].flags() == frozenset()

    status, state = await call(srv, "PUT", "/api/ivr/flags/emergency", json={"on": True})
    assert status == 200 and state["flags"] == ["emergency"]
    assert await srv[STORE].flags() == {"emergency"}


async def test_given_bad_names_and_bodies_then_422_with_the_ivr_error_id(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(
        make_settings(standin, redis_url, operators=seats(1), admin_token=TOKEN)
    )
    cases: list[tuple[str, dict[str, Any]]] = [
        ("bad%20name", {"json": {"on": True}}),
        ("x" * 65, {"json": {"on": True}}),
        ("emergency", {"json": {"on": "maybe"}}),
        ("emergency", {"json": {}}),
        (
            "emergency",
            {"data": b"{not json", "headers": {"Content-Type": "application/json"}},
        ),
    ]
    for name, kw in cases:
        status, err = await call(srv, "PUT", f"/api/ivr/flags/{name}", **kw)
        assert (status, err["error_id"]) == (422, "ivr-invalid"), (name, kw, err)
        assert err["message"]
    assert await srv[STORE].flags() == frozenset()


async def test_given_a_flow_that_declares_flags_then_they_are_known_and_a_stale_one_can_go_off(
    standin, redis_url, server_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "flow.yaml").write_text(DECLARING_FLOW)
    srv = await server_factory(
        make_settings(
            standin, redis_url, operators=seats(1), admin_token=TOKEN, ivr_flows_dir=str(tmp_path)
        )
    )
    status, state = await call(srv, "GET", "/api/ivr")
    assert state["known_flags"] == ["holiday", "storm_notice"]
    for name in ("holiday", "storm_notice"):
        status, _ = await call(srv, "PUT", f"/api/ivr/flags/{name}", json={"on": True})
        assert status == 200
    status, _ = await call(srv, "PUT", "/api/ivr/flags/emergency", json={"on": True})
    assert status == 404  # the shipped flow's flag; this deployment's flows do not read it

    # the flows change: nothing reads "holiday" any more, yet it is still on
    (tmp_path / "flow.yaml").write_text(
        DECLARING_FLOW.replace("flag: holiday", "flag: storm_notice")
    )
    status, state = await call(srv, "POST", "/api/ivr/reload")
    assert status == 200 and state["known_flags"] == ["storm_notice"]
    status, err = await call(srv, "PUT", "/api/ivr/flags/holiday", json={"on": True})
    assert status == 404 and err["details"]["known"] == ["storm_notice"]
    status, state = await call(srv, "PUT", "/api/ivr/flags/holiday", json={"on": False})
    assert status == 200 and state["flags"] == ["storm_notice"]
    assert await srv[STORE].flags() == {"storm_notice"}


async def test_given_a_declared_flag_with_a_bad_name_then_the_flow_is_refused_at_reload(
    standin, redis_url, server_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "flow.yaml").write_text(DECLARING_FLOW)
    srv = await server_factory(
        make_settings(
            standin, redis_url, operators=seats(1), admin_token=TOKEN, ivr_flows_dir=str(tmp_path)
        )
    )
    (tmp_path / "flow.yaml").write_text(
        DECLARING_FLOW.replace("[storm_notice]", '["storm notice"]')
    )
    status, state = await call(srv, "POST", "/api/ivr/reload")
    assert status == 422 and any("flow.yaml:4: flags.0" in e for e in state["last_error"])
    assert state["known_flags"] == ["holiday", "storm_notice"]  # the flows in force stay
