"""The desks' event stream (Server-Sent Events over the Redis event stream): filters,
resuming after a dropped connection, and refusing strangers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from hotline.keys import STORE
from hotline.tickets.http import SERVICES
from hotline.tickets.models import Role
from tests.conftest import make_settings


async def read_events(resp: aiohttp.ClientResponse, n: int) -> list[tuple[str, str, Any]]:
    """The next ``n`` events as (id, type, data)."""
    out: list[tuple[str, str, Any]] = []
    ident = kind = ""
    while len(out) < n:
        line = (await asyncio.wait_for(resp.content.readline(), 5)).decode().rstrip("\n")
        if line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            out.append((ident, kind, json.loads(line[6:])))
    return out


async def test_given_a_desk_listening_then_it_gets_its_events_and_resumes_after_a_drop(
    standin, redis_url, server_factory
) -> None:
    srv = await server_factory(make_settings(standin, redis_url))
    _, token = await srv[SERVICES].directory.add_user("1001", Role.OPERATOR)  # seat 1001
    directory = srv[SERVICES].directory
    await directory.add_departments([{"code": "water", "name": "市供水集团"}])
    water = await directory.department_id("water")
    _, dept = await directory.add_user("dept", Role.DEPARTMENT, department_id=water)
    store = srv[STORE]
    url = f"{srv.url}/api/events?types=transcript.&operator=1001"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
        resp = await http.get(url)
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
        assert (await resp.content.readline()).startswith(b": connected")
        await store.publish("transcript.final", 1.0, call_id="c1", operator_id="1001", text="甲")
        await store.publish("transcript.final", 2.0, call_id="c2", operator_id="1002", text="乙")
        await store.publish("call.answered", 3.0, call_id="c1", operator_id="1001")
        await store.publish("transcript.partial", 4.0, call_id="c1", operator_id="1001", text="丙")
        got = await read_events(resp, 2)
        assert [(k, d["text"]) for _, k, d in got] == [
            ("transcript.final", "甲"),
            ("transcript.partial", "丙"),
        ]
        resp.close()  # the desk's connection drops; two events happen meanwhile
        await store.publish("transcript.final", 5.0, call_id="c1", operator_id="1001", text="丁")
        await store.publish("transcript.final", 6.0, call_id="c1", operator_id="1001", text="戊")
        again = await http.get(url, headers={"Last-Event-ID": got[-1][0]})
        resumed = await read_events(again, 2)
        assert [d["text"] for _, _, d in resumed] == ["丁", "戊"], "nothing lost, nothing twice"
        again.close()
        bad = await http.get(url, headers={"Last-Event-ID": "'; DROP TABLE"})
        assert bad.status == 422
    async with aiohttp.ClientSession() as anon:
        async with anon.get(url) as r:
            assert r.status == 401
        async with anon.get(url, headers={"Authorization": f"Bearer {dept}"}) as r:
            assert r.status == 403, "department staff do not see the hotline's calls"
        async with anon.get(
            f"{srv.url}/api/calls/nope/transcript", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 404 and (await r.json())["error_id"] == "transcript-not-found"
