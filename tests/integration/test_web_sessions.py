"""Browser sessions over real HTTP: CSRF on state changes, a new session id at sign-in,
sign-out, idle and absolute timeouts, sign-in throttling, disabled accounts, redirects that
stay on the site, security headers, and citizen text inert in server-rendered pages."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from hotline.keys import TICKETS
from hotline.roles import Role
from hotline.web import access
from tests.conftest import ADMIN, Server, make_settings, seats
from tests.integration.test_access_table import (
    PASSWORD,
    cookie,
    csrf_of,
    plain_session,
    post_login,
    session_of,
    sign_in,
)


async def desk_server(
    server_factory: Any, standin: Any, redis_url: str, **overrides: Any
) -> tuple[Server, dict[str, int]]:
    """A server with operators 1001 and 1002 and a supervisor, each with a desk password."""
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(2), **overrides))
    directory = srv[TICKETS].directory
    ids = {}
    for username, role in (("1001", Role.OPERATOR), ("1002", Role.OPERATOR)):
        ids[username], _ = await directory.add_user(username, role)
    ids["banzhang"], _ = await directory.add_user("banzhang", Role.SUPERVISOR, name="<b>班长</b>")
    for username in ids:
        await directory.set_password(username, PASSWORD)
    return srv, ids


async def status_of(http: aiohttp.ClientSession, url: str, sid: str) -> int:
    async with http.get(url, headers=cookie(sid), allow_redirects=False) as resp:
        return resp.status


async def post_state(
    http: aiohttp.ClientSession, srv: Server, headers: dict[str, str]
) -> tuple[int, str]:
    async with http.post(
        f"{srv.url}/api/agents/1001/state", json={"state": "ready"}, headers=headers
    ) as resp:
        body = await resp.json()
        return resp.status, body.get("error_id", "")


async def test_given_a_session_when_a_post_lacks_the_csrf_token_then_refused_and_with_it_accepted(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(server_factory, standin, redis_url)
    async with plain_session() as http:
        sid = await sign_in(http, srv.url, "1001")
        token = await csrf_of(http, srv.url, sid)
        other = await csrf_of(http, srv.url, await sign_in(http, srv.url, "1002"))
        assert await post_state(http, srv, cookie(sid)) == (403, "csrf-failed")
        wrong = {**cookie(sid), "X-CSRF-Token": other}  # another session's token
        assert await post_state(http, srv, wrong) == (403, "csrf-failed")
        assert (await post_state(http, srv, {**cookie(sid), "X-CSRF-Token": token}))[0] == 200
        form = {"locale": "en", "next": "/home"}  # a page's form sends it as a field
        async with http.post(
            f"{srv.url}/locale", data=form, headers=cookie(sid), allow_redirects=False
        ) as resp:
            assert resp.status == 403
        async with http.post(
            f"{srv.url}/locale",
            data={**form, "csrf_token": token},
            headers=cookie(sid),
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
        async with http.get(f"{srv.url}/home", headers=cookie(sid)) as resp:
            assert '<html lang="en">' in await resp.text()


async def test_given_a_session_id_from_before_sign_in_then_it_is_worthless_after_it(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(server_factory, standin, redis_url)
    snapshot = f"{srv.url}/desk/snapshot"
    async with plain_session() as http:
        planted = "attacker-chosen-" + "a" * 27  # set in the victim's browser beforehand
        resp = await post_login(http, srv.url, "1001", PASSWORD, session=planted)
        assert resp.status == 303
        issued = session_of(resp)
        assert issued != planted
        assert await status_of(http, snapshot, planted) == 401
        assert await status_of(http, snapshot, issued) == 200
        # A real session held before signing in again (on a shared desk PC) ends too.
        resp = await post_login(http, srv.url, "1001", PASSWORD, session=issued)
        again = session_of(resp)
        assert again not in (issued, planted)
        assert await status_of(http, snapshot, issued) == 401
        assert await status_of(http, snapshot, again) == 200


async def test_given_sign_out_then_the_session_is_dead(standin, redis_url, server_factory) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(server_factory, standin, redis_url)
    async with plain_session() as http:
        sid = await sign_in(http, srv.url, "1001")
        token = await csrf_of(http, srv.url, sid)
        async with http.post(
            f"{srv.url}/logout",
            data={"csrf_token": token},
            headers=cookie(sid),
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/login"
            assert resp.cookies["hotline_session"].value == ""  # the browser forgets it
        assert await status_of(http, f"{srv.url}/desk/snapshot", sid) == 401
        async with http.get(f"{srv.url}/desk", headers=cookie(sid), allow_redirects=False) as r:
            assert r.status == 303 and r.headers["Location"].startswith("/login?next=")
        assert await post_state(http, srv, {**cookie(sid), "X-CSRF-Token": token}) == (
            401,
            "unauthorized",
        )


async def test_given_an_idle_session_when_idle_longer_than_allowed_then_it_ends(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(server_factory, standin, redis_url, session_idle_s=1.0)
    snapshot = f"{srv.url}/desk/snapshot"
    async with plain_session() as http:
        sid = await sign_in(http, srv.url, "1001")
        for _ in range(4):  # used every 0.4 s it lives on past its 1 s of idleness
            await asyncio.sleep(0.4)
            assert await status_of(http, snapshot, sid) == 200
        await asyncio.sleep(2.1)
        assert await status_of(http, snapshot, sid) == 401


async def test_given_a_busy_session_when_its_absolute_time_passes_then_it_ends(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(
        server_factory, standin, redis_url, session_idle_s=60.0, session_absolute_s=2.0
    )
    snapshot = f"{srv.url}/desk/snapshot"
    async with plain_session() as http:
        t0 = time.monotonic()
        sid = await sign_in(http, srv.url, "1001")
        answers = []
        while time.monotonic() - t0 < 4.0:
            answers.append((time.monotonic() - t0, await status_of(http, snapshot, sid)))
            await asyncio.sleep(0.25)
    ended = next(at for at, status in answers if status == 401)
    assert all(status == 200 for at, status in answers if at < 1.5), answers
    assert all(status == 401 for at, status in answers if at >= ended), answers
    assert 1.5 <= ended <= 3.0, answers


async def wrong(http: aiohttp.ClientSession, srv: Server, username: str, n: int) -> None:
    for _ in range(n):
        resp = await post_login(http, srv.url, username, "not-the-password")
        assert resp.status == 401


async def test_given_failures_for_one_account_then_it_is_throttled_even_with_its_password(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(
        server_factory,
        standin,
        redis_url,
        login_max_failures_account=3,
        login_max_failures_address=100,
    )
    async with plain_session() as http:
        await wrong(http, srv, "1001", 3)
        resp = await post_login(http, srv.url, "1001", PASSWORD)
        assert resp.status == 429
        assert 0 < int(resp.headers["Retry-After"]) <= 901
        assert "hotline_session" not in resp.cookies
        resp = await post_login(http, srv.url, "1002", PASSWORD)  # another account: not
        assert resp.status == 303


async def test_given_a_success_before_the_limit_then_the_account_count_starts_again(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(
        server_factory,
        standin,
        redis_url,
        login_max_failures_account=3,
        login_max_failures_address=100,
    )
    async with plain_session() as http:
        for _ in range(3):  # 2 + 2 + 2 failures: over the limit, were they not reset
            await wrong(http, srv, "1001", 2)
            assert (await post_login(http, srv.url, "1001", PASSWORD)).status == 303


async def test_given_failures_from_one_address_then_every_account_from_it_is_throttled(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(
        server_factory,
        standin,
        redis_url,
        login_max_failures_account=100,
        login_max_failures_address=4,
    )
    async with plain_session() as http:
        for name in ("1001", "1002", "nobody", "admin"):  # a spray: one guess per account
            await wrong(http, srv, name, 1)
        resp = await post_login(http, srv.url, "banzhang", PASSWORD)
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) > 0


async def test_given_a_disabled_user_then_their_session_and_token_stop_working(
    standin, redis_url, server_factory, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(access, "ACTIVE_CACHE_S", 0.0)
    srv, ids = await desk_server(server_factory, standin, redis_url)
    directory = srv[TICKETS].directory
    _, token = await directory.add_user("1003", Role.OPERATOR)
    async with plain_session() as http:
        sid = await sign_in(http, srv.url, "1001")
        kept = await sign_in(http, srv.url, "1002")
        assert await status_of(http, f"{srv.url}/desk/snapshot", sid) == 200
        await directory.deactivate_user(ids["1001"])
        await directory.deactivate_user(await _id(directory, "1003"))
        assert await status_of(http, f"{srv.url}/desk/snapshot", sid) == 401
        async with http.get(f"{srv.url}/desk", headers=cookie(sid), allow_redirects=False) as r:
            assert r.status == 303
        bearer = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{srv.url}/api/calls", headers=bearer) as resp:
            assert resp.status == 401
        assert await status_of(http, f"{srv.url}/desk/snapshot", kept) == 200
        assert (await post_login(http, srv.url, "1001", PASSWORD)).status == 401


async def _id(directory: Any, username: str) -> int:
    user = await directory.user(username)
    assert user is not None
    return int(user["id"])


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example/",
        "https:evil.example",
        "/\t/evil.example/",
        "javascript:alert(1)",
    ],
)
async def test_given_a_next_off_the_site_when_signing_in_then_it_lands_on_a_local_path(
    standin, redis_url, server_factory, target: str
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(server_factory, standin, redis_url)
    async with plain_session() as http:
        resp = await post_login(http, srv.url, "1001", PASSWORD, next_=target)
        assert resp.status == 303
        location = resp.headers["Location"]
        # A browser reads a backslash as a slash and drops tabs: "/\evil" is "//evil".
        as_browser = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
        parts = urlsplit(as_browser)
        assert location.startswith("/") and not as_browser.startswith("//"), location
        assert not parts.scheme and not parts.netloc, location


async def test_given_a_local_next_then_sign_in_goes_there(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(server_factory, standin, redis_url)
    async with plain_session() as http:
        resp = await post_login(http, srv.url, "1001", PASSWORD, next_="/desk?from=mail")
        assert resp.headers["Location"] == "/desk?from=mail"
        resp = await post_login(http, srv.url, "banzhang", PASSWORD)
        assert resp.headers["Location"] == "/home"  # no next: the role's home


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


async def test_given_pages_then_they_carry_the_security_headers_and_no_inline_script(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(server_factory, standin, redis_url)
    async with plain_session() as http:
        operator = await sign_in(http, srv.url, "1001")
        supervisor = await sign_in(http, srv.url, "banzhang")
        pages = [
            ("/login", "", 200),
            ("/home", operator, 200),
            ("/desk", operator, 200),
            ("/home", supervisor, 200),
            ("/desk", supervisor, 403),  # the refusal is a page too
        ]
        for path, sid, status in pages:
            headers = cookie(sid) if sid else {}
            async with http.get(srv.url + path, headers=headers, allow_redirects=False) as resp:
                assert resp.status == status, path
                assert resp.content_type == "text/html", path
                body = await resp.text()
                h = resp.headers
            csp = h["Content-Security-Policy"]
            directives = dict(d.strip().split(" ", 1) for d in csp.split(";") if d.strip())
            assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
            assert directives["script-src"] == "'self'", path
            assert directives["frame-ancestors"] == "'none'", path
            assert h["X-Frame-Options"] == "DENY", path
            assert h["X-Content-Type-Options"] == "nosniff", path
            assert not INLINE_SCRIPT.search(body), (path, INLINE_SCRIPT.search(body))
            assert not INLINE_HANDLER.search(body), (path, INLINE_HANDLER.search(body))
        async with http.get(f"{srv.url}/home", headers=cookie(supervisor)) as resp:
            body = await resp.text()
        assert "&lt;b&gt;班长&lt;/b&gt;" in body and "<b>班长" not in body  # a user's name


async def test_given_an_article_with_markup_when_opened_on_the_desk_then_it_is_inert(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    srv, _ = await desk_server(server_factory, standin, redis_url)
    title = '停水通知<script>alert("t")</script>'
    body = '请联系物业<img src=x onerror="alert(1)"><a href="javascript:alert(2)">点此</a>'
    async with aiohttp.ClientSession(headers=ADMIN) as admin:
        async with admin.post(
            f"{srv.url}/api/kb/articles", json={"title": title, "body": body}
        ) as resp:
            assert resp.status == 201, await resp.text()
            article = (await resp.json())["id"]
    async with plain_session() as http:
        sid = await sign_in(http, srv.url, "1001")
        async with http.get(f"{srv.url}/desk/kb/{article}", headers=cookie(sid)) as resp:
            assert resp.status == 200
            html = await resp.text()
            assert "unsafe-inline" not in resp.headers["Content-Security-Policy"]
    assert "停水通知&lt;script&gt;alert(&#34;t&#34;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html
    assert "<script" not in html and "<img" not in html and "<a href" not in html
