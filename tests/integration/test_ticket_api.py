"""The ticket REST API over a real socket: auth, actions, locking, hostile input, KB, webhook."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline.agent_desk.http import error_middleware
from hotline.tickets import http as ticket_http
from hotline.tickets.db import make_engine
from hotline.tickets.directory import Directory
from hotline.tickets.kb import KnowledgeBase
from hotline.tickets.services import TicketServices
from hotline.tickets.sync import SIGNATURE, TIMESTAMP, sign
from hotline.web.access import auth_middleware
from tests.conftest import TicketEnv, free_port

SECRET = "s3cret-for-tests"


def app_for(env: TicketEnv) -> web.Application:
    app = web.Application(middlewares=[error_middleware, auth_middleware])
    kb = KnowledgeBase(env.engine, clock=env.clock)
    ticket_http.install(app, TicketServices(env.service, env.directory, kb, SECRET))
    ticket_http.api().mount(app)
    return app


@pytest.fixture
async def client(tickets: TicketEnv) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(app_for(tickets))) as c:
        yield c


def auth(env: TicketEnv, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {env.tokens[who]}"}


async def new_ticket(client: TestClient[Any, Any], env: TicketEnv, **kw: Any) -> dict[str, Any]:
    body = {
        "content": "路灯不亮，晚上很危险",
        "kind": "help",
        "caller_phone": "13800000001",
        "category": "城乡建设/市政设施",
        "location": "蜀山区黄山路1号",
        **kw,
    }
    resp = await client.post("/api/tickets", json=body, headers=auth(env, "operator"))
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def act(
    client: TestClient[Any, Any],
    env: TicketEnv,
    who: str,
    number: str,
    body: dict[str, Any],
    **headers: str,
) -> Any:
    return await client.post(
        f"/api/tickets/{number}/actions", json=body, headers={**auth(env, who), **headers}
    )


async def test_openapi_document_describes_every_route(client: TestClient[Any, Any]) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    assert {
        "/api/tickets",
        "/api/tickets/{number}/actions",
        "/api/kb/search",
        "/api/sync/webhook",
        "/api/tickets/overdue",
    } <= set(doc["paths"])
    action_schema = doc["paths"]["/api/tickets/{number}/actions"]["post"]["requestBody"]
    ref = action_schema["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "discriminator" in json.dumps(doc["components"]["schemas"][ref])
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["responses"], (path, method)


async def test_without_a_valid_token_nothing_is_served(
    client: TestClient[Any, Any], tickets: TicketEnv
) -> None:
    assert (await client.get("/api/tickets")).status == 401
    r = await client.get("/api/tickets", headers={"Authorization": "Bearer nope"})
    assert r.status == 401 and (await r.json())["error_id"] == "unauthorized"
    r = await client.get("/api/tickets", headers={"Authorization": "Basic abc"})
    assert r.status == 401


async def test_loop_through_the_api_with_if_match_and_department_scoping(
    client: TestClient[Any, Any], tickets: TicketEnv
) -> None:
    t = await new_ticket(client, tickets)
    n = t["number"]
    water = tickets.depts["water"]
    r = await act(client, tickets, "operator", n, {"action": "dispatch", "lead": water})
    assert r.status == 200 and r.headers["ETag"] == '"2"'
    # The housing bureau may not see the water company's ticket (it answers as a missing
    # one, so numbers cannot be walked); the water company may.
    assert (await client.get(f"/api/tickets/{n}", headers=auth(tickets, "housing"))).status == 404
    mine = await client.get("/api/tickets", headers=auth(tickets, "housing"))
    assert (await mine.json())["tickets"] == []
    r = await client.get(f"/api/tickets/{n}", headers=auth(tickets, "water"))
    assert (await r.json())["records"]["assignments"][0]["department_id"] == water
    r = await act(client, tickets, "water", n, {"action": "sign"}, **{"If-Match": '"1"'})
    assert r.status == 409 and (await r.json())["error_id"] == "ticket-stale"
    r = await act(client, tickets, "water", n, {"action": "sign"}, **{"If-Match": '"2"'})
    assert r.status == 200
    r = await act(client, tickets, "water", n, {"action": "reply", "text": "已修复路灯"})
    assert (await r.json())["status"] == "replied"
    r = await act(client, tickets, "water", n, {"action": "review", "accept": True})
    assert r.status == 403
    hist = await (
        await client.get(f"/api/tickets/{n}/history", headers=auth(tickets, "operator"))
    ).json()
    assert [h["action"] for h in hist["history"]] == ["create", "dispatch", "sign", "reply"]
    calls = await client.get(
        "/api/callers/138-0000-0001/tickets", headers=auth(tickets, "operator")
    )
    assert [x["number"] for x in (await calls.json())["tickets"]] == [n]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"action": "teleport"}, 422),
        ({"action": "dispatch", "lead": "DROP TABLE tickets"}, 422),
        ({"action": "dispatch", "lead": 99999}, 422),
        ({"action": "request_extension", "days": 1000, "reason": "x"}, 422),
        ({"action": "reply", "text": ""}, 422),
        ({"action": "sign", "extra": 1}, 422),
        ([1, 2, 3], 422),
        ("just a string", 422),
    ],
)
async def test_hostile_or_malformed_actions_get_clear_errors(
    client: TestClient[Any, Any], tickets: TicketEnv, body: Any, status: int
) -> None:
    n = (await new_ticket(client, tickets))["number"]
    r = await act(client, tickets, "operator", n, body)
    assert r.status == status
    err = await r.json()
    assert err["error_id"] == "ticket-invalid" and err["message"]
    assert (await tickets.store.get(n))["version"] == 1


async def test_junk_bodies_paths_and_markup_are_handled(
    client: TestClient[Any, Any], tickets: TicketEnv
) -> None:
    h = auth(tickets, "operator")
    r = await client.post("/api/tickets", data=b"\xff\xfe{not json", headers=h)
    assert r.status == 422
    r = await client.post("/api/tickets", data=b"x" * 1_100_000, headers=h)
    assert r.status == 422
    r = await client.get("/api/tickets/..%2F..%2Fetc", headers=h)
    assert r.status in (404, 422)
    r = await client.get("/api/tickets/2026112399999", headers=h)
    assert r.status == 404
    script = "<script>alert('x')</script>'; DROP TABLE tickets; --"
    t = await new_ticket(client, tickets, content=script, caller_name=script[:100])
    got = await (await client.get(f"/api/tickets/{t['number']}", headers=h)).json()
    assert got["content"] == script  # stored verbatim, served as JSON, never as markup
    assert (await tickets.store.count_by_status())["accepted"] == 1
    r = await client.get("/api/tickets?limit=abc", headers=h)
    assert r.status == 422
    r = await client.get("/api/tickets?since=yesterday", headers=h)
    assert r.status == 422


async def test_emergency_mode_switched_at_runtime_shortens_the_next_deadline(
    client: TestClient[Any, Any], tickets: TicketEnv
) -> None:
    body = {"on": True}
    r = await client.put("/api/tickets/emergency", json=body, headers=auth(tickets, "operator"))
    assert r.status == 403
    r = await client.put("/api/tickets/emergency", json=body, headers=auth(tickets, "supervisor"))
    assert r.status == 200
    t = await new_ticket(client, tickets, kind="consultation")
    r = await act(
        client,
        tickets,
        "operator",
        t["number"],
        {"action": "dispatch", "lead": tickets.depts["water"]},
    )
    got = await r.json()
    assert got["emergency"] is True
    assert got["reply_due"].startswith("2026-11-24T02:00")  # 24 h after 10:00 +08:00, in UTC


async def test_knowledge_base_search_and_suggestions_in_chinese(
    client: TestClient[Any, Any], tickets: TicketEnv
) -> None:
    h = auth(tickets, "dispatcher")
    articles = [
        (
            "社保卡补办流程",
            "社保卡丢失后，携带身份证到任一社保服务网点办理挂失和补办，工本费免收。",
        ),
        ("居住证办理", "外地户籍人员在本市居住满半年，可到派出所申请办理居住证。"),
        ("噪声污染投诉", "夜间施工噪声扰民，可拨打12345反映，由生态环境部门和城管部门处理。"),
    ]
    for title, body in articles:
        r = await client.post("/api/kb/articles", json={"title": title, "body": body}, headers=h)
        assert r.status == 201
    r = await client.get("/api/kb/search", params={"q": "社保卡丢了怎么补办"}, headers=h)
    hits = (await r.json())["articles"]
    assert hits and hits[0]["title"] == "社保卡补办流程"
    r = await client.post(
        "/api/kb/suggest",
        headers=h,
        json={"text": "喂 你好 我家楼下 工地 晚上 施工 噪声 特别 大 吵得 睡不着"},
    )
    assert (await r.json())["articles"][0]["title"] == "噪声污染投诉"
    r = await client.get("/api/kb/search", params={"q": '"* OR NEAR('}, headers=h)
    assert r.status == 200  # FTS syntax characters in a query are not an error
    r = await client.get("/api/kb/search", params={"q": ""}, headers=h)
    assert (await r.json())["articles"] == []


async def test_knowledge_base_mistakes_carry_the_knowledge_bases_own_error_ids(
    client: TestClient[Any, Any], tickets: TicketEnv
) -> None:
    h = auth(tickets, "dispatcher")
    r = await client.post("/api/kb/suggest", headers=h, data=b"{not json")
    assert r.status == 422 and (await r.json())["error_id"] == "kb-invalid"
    r = await client.post("/api/kb/suggest", headers=h, json={"text": 5})
    assert (await r.json())["error_id"] == "kb-invalid"
    r = await client.post("/api/kb/articles", headers=h, json={"title": ""})
    assert (await r.json())["error_id"] == "kb-invalid"
    r = await client.get("/api/kb/articles/abc", headers=h)
    assert (await r.json())["error_id"] == "kb-invalid"
    r = await client.post("/api/tickets", headers=h, data=b"{not json")
    assert (await r.json())["error_id"] == "ticket-invalid"


def signed(
    body: dict[str, Any], *, ts: float | None = None, secret: str = SECRET
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    stamp = str(int(ts if ts is not None else time.time()))
    return raw, {
        TIMESTAMP: stamp,
        SIGNATURE: sign(secret, stamp, raw),
        "Content-Type": "application/json",
    }


async def test_webhook_applies_signed_updates_once_and_refuses_forgeries(
    client: TestClient[Any, Any], tickets: TicketEnv
) -> None:
    t = await new_ticket(client, tickets)
    n = t["number"]
    await act(
        client, tickets, "operator", n, {"action": "dispatch", "lead": tickets.depts["water"]}
    )
    event = {"event_id": "ext-1", "ticket": n, "action": "sign", "department": "water"}
    raw, headers = signed(event)
    r = await client.post("/api/sync/webhook", data=raw, headers=headers)
    assert r.status == 200 and (await r.json())["applied"]
    r = await client.post("/api/sync/webhook", data=raw, headers=headers)
    assert (await r.json())["duplicate"] is True
    assert (await tickets.store.get(n))["version"] == 3
    raw, headers = signed({**event, "event_id": "ext-2"}, secret="wrong")
    assert (await client.post("/api/sync/webhook", data=raw, headers=headers)).status == 401
    raw, headers = signed({**event, "event_id": "ext-3"}, ts=time.time() - 3600)
    assert (await client.post("/api/sync/webhook", data=raw, headers=headers)).status == 401
    raw, headers = signed(
        {
            "event_id": "ext-4",
            "ticket": n,
            "action": "reply",
            "department": "water",
            "text": "已修复",
        }
    )
    assert (await client.post("/api/sync/webhook", data=raw, headers=headers)).status == 200
    out_of_order = {"event_id": "ext-5", "ticket": n, "action": "sign", "department": "water"}
    raw, headers = signed(out_of_order)
    r = await client.post("/api/sync/webhook", data=raw, headers=headers)
    assert r.status == 409  # the platform retries or reconciles; nothing was applied
    assert (await tickets.store.get(n))["status"] == "replied"


async def test_given_one_webhook_delivered_twice_at_once_when_both_arrive_then_it_applies_once(
    client: TestClient[Any, Any], tickets: TicketEnv
) -> None:
    n = (await new_ticket(client, tickets))["number"]
    event = {"event_id": "ext-twice", "ticket": n, "action": "comment", "text": "平台备注"}
    raw, headers = signed(event)
    answers = await asyncio.gather(
        *(client.post("/api/sync/webhook", data=raw, headers=headers) for _ in range(2))
    )
    assert [r.status for r in answers] == [200, 200]
    bodies = [await r.json() for r in answers]
    assert sorted(bool(b.get("duplicate")) for b in bodies) == [False, True], bodies
    assert (await tickets.store.get(n))["version"] == 2
    comments = [h for h in await tickets.store.history(n) if h["action"] == "comment"]
    assert [h["note"] for h in comments] == ["平台备注"]


async def test_a_dead_database_gets_a_clear_503(tickets: TicketEnv) -> None:
    dead = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/none")
    app = web.Application(middlewares=[error_middleware, auth_middleware])
    directory = Directory(dead, clock=tickets.clock)
    ticket_http.install(
        app,
        TicketServices(
            tickets.service, directory, KnowledgeBase(dead, clock=tickets.clock), SECRET
        ),
    )
    ticket_http.api().mount(app)
    async with TestClient(TestServer(app)) as c:
        r = await c.get("/api/tickets", headers={"Authorization": "Bearer x"})
        assert r.status == 503
        assert (await r.json())["error_id"] == "database-unavailable"
    await dead.dispose()
