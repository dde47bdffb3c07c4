"""Changing an operator's state needs credentials: an operator changes only their own seat,
a supervisor any; with no accounts at all, nobody can."""

from __future__ import annotations

import aiohttp

from hotline.tickets.http import SERVICES
from hotline.tickets.models import Role
from tests.conftest import add_seats, make_settings, seats

ADMIN = "admin-token-for-state"


async def post_state(srv, op_id: str, token: str | None, state: str = "ready") -> int:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{srv.url}/api/agents/{op_id}/state", json={"state": state}) as resp:
            return resp.status


async def test_given_accounts_then_state_changes_need_the_right_user(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 2)
    srv = await server_factory(
        make_settings(standin, redis_url, operators=seats(2), admin_token=ADMIN)
    )
    directory = srv[SERVICES].directory
    _, op_token = await directory.add_user("1001", Role.OPERATOR, name="坐席1001")
    _, sup_token = await directory.add_user("banzhang", Role.SUPERVISOR, name="班长")
    _, other_token = await directory.add_user("paidan", Role.DISPATCHER, name="派单")
    assert await post_state(srv, "1001", None) == 401
    assert await post_state(srv, "1001", "not-a-token") == 401
    assert await post_state(srv, "1001", op_token) == 200  # their own seat
    assert await post_state(srv, "1002", op_token) == 403  # someone else's
    assert await post_state(srv, "1002", other_token) == 403
    assert await post_state(srv, "1002", sup_token) == 200
    assert await post_state(srv, "1002", ADMIN, "not_ready") == 200


async def test_given_no_accounts_then_no_route_but_health_is_open(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    """Outside the demo there are no default credentials: with no users, the state API
    refuses everyone, and the probes still answer."""
    add_seats(standin, 1)
    srv = await server_factory(
        make_settings(standin, redis_url, operators=seats(1), admin_token="")
    )
    assert await post_state(srv, "1001", None) == 401
    async with aiohttp.ClientSession() as http:
        for path in ("/api/calls", "/api/agents", "/api/debug/latency", "/desk/snapshot"):
            async with http.get(srv.url + path) as resp:
                assert resp.status == 401, path
        async with http.get(srv.url + "/healthz") as resp:
            assert resp.status == 200
