"""Who may use each route of the real app: a role × route table, every cell tried over HTTP.

The table is written out here by hand, apart from the app's own declarations, so that a new
route fails this test until someone says who may use it, and a changed rule fails it until the
table agrees. Each cell is tried with the role's API token and again with a session signed in
through the real form (the session's CSRF token sent on state changes); anonymous callers try
with nothing and with a made-up session cookie. Bodies are the smallest that get past the
access check: a 4xx other than 401/403 (a body the route refuses, a call that does not exist)
means the request was let through.

Expected: allowed → neither 401 nor 403; a wrong role → 403; nobody → 401 on the API, and on
a page a 303 to /login (GET) or a 401 (POST, which cannot be redirected into a form).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from hotline.keys import TICKETS
from hotline.roles import Role
from tests.conftest import ADMIN, Server, make_settings, seats
from tests.integration.access_rows import (
    CSRF_ATTR,
    DECIDING,
    EVERY_ROLE,
    HOTLINE,
    LOGIN_TOKEN,
    PASSWORD,
    SUPERVISING,
    USERS,
    WHO,
    Row,
    api,
    page,
    public,
)

TABLE: dict[tuple[str, str], Row] = {
    ("GET", "/"): public("/"),
    ("GET", "/healthz"): public("/healthz"),
    ("GET", "/metrics"): public("/metrics"),  # Prometheus scrapes without an account
    ("GET", "/api/openapi.json"): public("/api/openapi.json"),
    ("GET", "/static"): public("/static/app.css"),
    ("HEAD", "/static"): public("/static/app.css"),
    ("GET", "/login"): public("/login"),
    ("POST", "/login"): Row("/login", "form", form={"username": "x", "password": "y"}),
    ("POST", "/logout"): page("/logout", EVERY_ROLE, form={}),
    ("POST", "/locale"): page("/locale", EVERY_ROLE, form={"locale": "zh-CN", "next": "/home"}),
    ("GET", "/home"): page("/home", EVERY_ROLE),
    ("GET", "/desk"): page("/desk", {"operator"}),
    ("GET", "/desk/snapshot"): api("/desk/snapshot", {"operator"}),
    ("GET", "/desk/kb/{id}"): api("/desk/kb/{article}", {"operator"}),
    ("POST", "/desk/calls/{call_id}/control"): api(
        "/desk/calls/c-not-here/control", {"operator"}, {}
    ),
    ("GET", "/api/agents"): api("/api/agents", HOTLINE),
    ("POST", "/api/agents/{id}/state"): api(
        "/api/agents/1001/state", SUPERVISING | {"operator"}, {}
    ),
    ("GET", "/api/calls"): api("/api/calls", DECIDING),  # every live caller: not for operators
    ("GET", "/api/debug/latency"): api("/api/debug/latency", SUPERVISING),
    ("GET", "/api/events"): api("/api/events", HOTLINE),
    ("GET", "/api/calls/{call_id}/transcript"): api("/api/calls/c-not-here/transcript", HOTLINE),
    ("POST", "/api/calls/{call_id}/ticket"): api("/api/calls/c-not-here/ticket", HOTLINE, {}),
    ("POST", "/api/tickets"): api("/api/tickets", HOTLINE | {"system"}, {}),
    ("GET", "/api/tickets"): api("/api/tickets", EVERY_ROLE),
    ("GET", "/api/tickets/overdue"): api("/api/tickets/overdue", EVERY_ROLE),
    ("GET", "/api/tickets/emergency"): api("/api/tickets/emergency", EVERY_ROLE),
    ("PUT", "/api/tickets/emergency"): api("/api/tickets/emergency", SUPERVISING, {}),
    ("GET", "/api/tickets/deadline"): api("/api/tickets/deadline?kind=complaint", HOTLINE),
    ("GET", "/api/tickets/{number}"): api("/api/tickets/{ticket}", EVERY_ROLE),
    ("GET", "/api/tickets/{number}/history"): api("/api/tickets/{ticket}/history", EVERY_ROLE),
    ("POST", "/api/tickets/{number}/actions"): api("/api/tickets/{ticket}/actions", EVERY_ROLE, {}),
    ("POST", "/api/tickets/{number}/merge"): api("/api/tickets/{ticket}/merge", HOTLINE, {}),
    ("POST", "/api/tickets/{number}/follow-ups"): api(
        "/api/tickets/{ticket}/follow-ups", HOTLINE | {"system"}, {}
    ),
    ("GET", "/api/callers/{phone}/tickets"): api("/api/callers/13800001234/tickets", HOTLINE),
    ("GET", "/api/departments"): api("/api/departments", EVERY_ROLE),
    ("POST", "/api/departments"): api("/api/departments", {"admin"}, {}),
    ("GET", "/api/kb/search"): api("/api/kb/search?q=停水", EVERY_ROLE),
    ("POST", "/api/kb/suggest"): api("/api/kb/suggest", EVERY_ROLE, {"text": "家里停水了"}),
    ("POST", "/api/kb/articles"): api("/api/kb/articles", DECIDING, {}),
    ("GET", "/api/kb/articles/{id}"): api("/api/kb/articles/{article}", EVERY_ROLE),
    ("POST", "/api/sync/webhook"): Row("/api/sync/webhook", "signed", json={}),
    ("GET", "/api/ivr"): api("/api/ivr", EVERY_ROLE),
    ("PUT", "/api/ivr/flags/{name}"): api("/api/ivr/flags/night_mode", SUPERVISING, {}),
    ("POST", "/api/ivr/reload"): api("/api/ivr/reload", SUPERVISING),
}
for _area in sorted(Path(__file__).parent.glob("rows_*.py")):
    TABLE.update(importlib.import_module(f"tests.integration.{_area.stem}").ROWS)


# -- signing in through the real form ----------------------------------------------------------


def plain_session() -> aiohttp.ClientSession:
    """A client that keeps no cookies: each request says exactly what it carries."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())


async def login_form(http: aiohttp.ClientSession, base: str) -> tuple[str, str]:
    """GET /login: the form's hidden token and the ``hotline_login`` cookie set with it."""
    async with http.get(f"{base}/login") as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.text()
        cookie = resp.cookies["hotline_login"].value
    found = LOGIN_TOKEN.search(body)
    assert found, "the sign-in form has no csrf_token field"
    return found.group(1), cookie


async def post_login(
    http: aiohttp.ClientSession,
    base: str,
    username: str,
    password: str,
    *,
    next_: str | None = None,
    session: str | None = None,
) -> aiohttp.ClientResponse:
    """Sign in as a browser does: read the form, post it back with its token and cookie.
    ``session``: a ``hotline_session`` cookie the browser already had."""
    token, cookie = await login_form(http, base)
    form = {"username": username, "password": password, "csrf_token": token}
    if next_ is not None:
        form["next"] = next_
    cookies = f"hotline_login={cookie}" + (f"; hotline_session={session}" if session else "")
    async with http.post(
        f"{base}/login", data=form, headers={"Cookie": cookies}, allow_redirects=False
    ) as resp:
        await resp.read()
        return resp


def session_of(resp: aiohttp.ClientResponse) -> str:
    morsel = resp.cookies.get("hotline_session")
    assert morsel is not None and morsel.value, f"no session cookie ({resp.status})"
    return morsel.value


async def sign_in(
    http: aiohttp.ClientSession, base: str, username: str, password: str = PASSWORD
) -> str:
    resp = await post_login(http, base, username, password)
    assert resp.status == 303, resp.status
    return session_of(resp)


def cookie(sid: str) -> dict[str, str]:
    return {"Cookie": f"hotline_session={sid}"}


async def csrf_of(http: aiohttp.ClientSession, base: str, sid: str) -> str:
    """The session's CSRF token, as its pages carry it."""
    async with http.get(f"{base}/home", headers=cookie(sid), allow_redirects=False) as resp:
        assert resp.status == 200, resp.status
        found = CSRF_ATTR.search(await resp.text())
    assert found, "a signed-in page carries no CSRF token"
    return found.group(1)


# -- the people and things the table's paths name -------------------------------------------------


@dataclass
class Fixture:
    srv: Server
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)

    def url(self, row: Row) -> str:
        return self.srv.url + row.path.format(**self.values)


async def people(srv: Server) -> Fixture:
    """One user of each role, each with an API token and a desk password; a ticket handled by
    the water company (the department user's), and a knowledge-base article."""
    directory = srv[TICKETS].directory
    await directory.add_departments([{"code": "water", "name": "市供水集团"}])
    water = await directory.department_id("water")
    fx = Fixture(srv, values={"water": str(water)})
    for role, username in USERS.items():
        dept = water if role == "department" else None
        user_id, token = await directory.add_user(username, Role(role), department_id=dept)
        await directory.set_password(username, PASSWORD)
        fx.tokens[role], fx.ids[role] = token, user_id
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        body = {"content": "小区停水三天了", "caller_phone": "13800001234", "kind": "complaint"}
        async with http.post(f"{srv.url}/api/tickets", json=body) as resp:
            assert resp.status in (200, 201), await resp.text()
            fx.values["ticket"] = (await resp.json())["number"]
        act = {"action": "dispatch", "lead": water}
        async with http.post(f"{srv.url}/api/tickets/{fx.values['ticket']}/actions", json=act) as r:
            assert r.status == 200, await r.text()
        article = {"title": "停水怎么办", "body": "请先联系物业，再拨打供水热线。"}
        async with http.post(f"{srv.url}/api/kb/articles", json=article) as resp:
            assert resp.status == 201, await resp.text()
            fx.values["article"] = str((await resp.json())["id"])
    return fx


# -- trying a cell ---------------------------------------------------------------------------------


async def attempt(
    http: aiohttp.ClientSession, fx: Fixture, method: str, row: Row, headers: dict[str, str]
) -> tuple[int, str, str]:
    """(status, Location, error_id) of one request; a stream is closed once it answers."""
    kwargs: dict[str, Any] = {"headers": headers, "allow_redirects": False}
    if method not in ("GET", "HEAD"):
        if row.form is not None:
            kwargs["data"] = row.form
        else:
            kwargs["json"] = row.json
    async with http.request(method, fx.url(row), **kwargs) as resp:
        error_id = ""
        if resp.content_type == "application/json" and method != "HEAD":
            body = await resp.json()
            error_id = body.get("error_id", "") if isinstance(body, dict) else ""
        return resp.status, resp.headers.get("Location", ""), error_id


def verdict(row: Row, method: str, who: str, got: tuple[int, str, str], *, anonymous: bool) -> str:
    """'' when the answer is the one the table expects, else what was expected."""
    status, location, error_id = got
    if row.kind == "public":
        return "" if status not in (401, 403) else "let through"
    if row.kind == "signed":
        return "" if status == 401 else "401 (only a signature opens it)"
    if row.kind == "form":
        ok = status == 403 and error_id == "csrf-failed"
        return "" if ok else "403 csrf-failed (no form token)"
    if anonymous:
        if row.kind == "page" and method == "GET":
            ok = status == 303 and location.startswith("/login?next=")
            return "" if ok else "303 to /login"
        return "" if status == 401 else "401"
    if who in row.allowed:
        return "" if status not in (401, 403) else "let through"
    return "" if status == 403 else "403"


def ordered(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Sign-out last: it ends the session the other cells use."""
    return sorted(routes, key=lambda key: key == ("POST", "/logout"))


async def test_given_the_table_then_every_route_of_the_app_has_a_row(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(2)))
    routes = {(r.method, r.resource.canonical) for r in srv.app.router.routes() if r.resource}
    missing = sorted(routes - TABLE.keys())
    stale = sorted(TABLE.keys() - routes)
    assert not missing, f"routes with no row in the access table (say who may use them): {missing}"
    assert not stale, f"rows for routes the app no longer has: {stale}"


async def test_given_each_role_when_it_calls_every_route_then_the_table_holds(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(2)))
    routes = ordered([(r.method, r.resource.canonical) for r in srv.app.router.routes()])
    assert set(routes) <= TABLE.keys(), "see the test that every route has a row"
    fx = await people(srv)
    wrong: list[str] = []
    tried = 0
    async with plain_session() as http:
        sessions = {role: await sign_in(http, srv.url, USERS[role]) for role in USERS}
        csrf = {role: await csrf_of(http, srv.url, sid) for role, sid in sessions.items()}
        for who in WHO:
            ways: list[tuple[str, dict[str, str]]]
            if who == "anonymous":
                ways = [("nothing", {}), ("made-up cookie", cookie("x" * 43))]
            else:
                ways = [("token", {"Authorization": f"Bearer {fx.tokens[who]}"})]
            for method, path in routes:
                row = TABLE[(method, path)]
                for via, headers in ways:
                    got = await attempt(http, fx, method, row, headers)
                    want = verdict(row, method, who, got, anonymous=who == "anonymous")
                    tried += 1
                    if want:
                        wrong.append(f"{who} ({via}) {method} {path}: {got[0]}, expected {want}")
        for who, sid in sessions.items():  # the same cells from a signed-in browser
            headers = {**cookie(sid), "X-CSRF-Token": csrf[who]}
            for method, path in routes:
                row = TABLE[(method, path)]
                got = await attempt(http, fx, method, row, headers)
                want = verdict(row, method, who, got, anonymous=False)
                tried += 1
                if want:
                    wrong.append(f"{who} (session) {method} {path}: {got[0]}, expected {want}")
    assert tried >= len(routes) * (len(WHO) + 1 + len(USERS))
    assert not wrong, "\n".join(wrong)


async def state_as(
    http: aiohttp.ClientSession, srv: Server, seat: str, headers: dict[str, str]
) -> tuple[int, str]:
    async with http.post(
        f"{srv.url}/api/agents/{seat}/state",
        json={"state": "not_ready", "reason": "meal"},
        headers=headers,
    ) as resp:
        body = await resp.json()
        return resp.status, body.get("error_id", "")


async def test_given_an_operator_when_they_change_another_seat_then_refused_and_their_own_allowed(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(2)))
    directory = srv[TICKETS].directory
    _, token = await directory.add_user("1001", Role.OPERATOR)
    await directory.set_password("1001", PASSWORD)
    bearer = {"Authorization": f"Bearer {token}"}
    async with plain_session() as http:
        assert await state_as(http, srv, "1002", bearer) == (403, "forbidden")
        assert (await state_as(http, srv, "1001", bearer))[0] == 200
        sid = await sign_in(http, srv.url, "1001")
        browser = {**cookie(sid), "X-CSRF-Token": await csrf_of(http, srv.url, sid)}
        assert await state_as(http, srv, "1002", browser) == (403, "forbidden")
        assert (await state_as(http, srv, "1001", browser))[0] == 200
        async with http.get(f"{srv.url}/api/agents", headers=bearer) as resp:
            states = {a["id"]: a["state"] for a in await resp.json()}
    assert states["1001"] == "not_ready"
    assert states["1002"] != "not_ready"  # the refused changes changed nothing
