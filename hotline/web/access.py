"""Who may use each route: one declaration per route, one middleware for the whole app.

Every route is added through :func:`add` (or an :class:`~.openapi.Op`) with its
:class:`Access`; a route without one answers 500 and fails the route-table test. The
middleware finds the actor (a bearer API token for programs, else the session cookie of a
signed-in browser), checks the route's roles, and for a browser session checks the CSRF token
on every state-changing request. Handlers read the actor with :func:`~.web.actor`.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from ..errors import Forbidden, HotlineError, Unauthorized
from ..roles import Actor, Role
from .common import ACTOR, AUTH, SESSION
from .sessions import SessionStore, WebSession

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACTIVE_CACHE_S = 30.0  # a disabled account's sessions stop working within this

EVERYONE = frozenset(Role)


@dataclass(frozen=True)
class Access:
    """A route's rule: open to anyone, checked by its own signature, or for these roles.
    A page sends a visitor without a session to the sign-in page instead of a 401."""

    roles: frozenset[Role] = frozenset()
    public: bool = False
    signed: bool = False
    page: bool = False

    def __post_init__(self) -> None:
        if not (self.public or self.signed or self.roles):
            raise ValueError("a route needs roles, or to be public or signed")


PUBLIC = Access(public=True)
SIGNED = Access(signed=True)


def roles(*who: Role | frozenset[Role], page: bool = False) -> Access:
    out: set[Role] = set()
    for w in who:
        out |= {w} if isinstance(w, Role) else set(w)
    return Access(roles=frozenset(out), page=page)


class RouteUndeclared(HotlineError):
    error_id = "route-undeclared"
    status = 500


class CsrfFailed(HotlineError):
    error_id = "csrf-failed"
    status = 403


RULES: web.AppKey[dict[tuple[str, str], Access]] = web.AppKey("access_rules")
SESSIONS: web.AppKey[SessionStore] = web.AppKey("web_sessions")


def add(app: web.Application, method: str, path: str, handler: Handler, access: Access) -> None:
    app.router.add_route(method, path, handler)
    declare(app, method, path, access)


def declare(app: web.Application, method: str, path: str, access: Access) -> None:
    rules = app.setdefault(RULES, {})
    key = (method.upper(), path)
    if key in rules and rules[key] != access:
        raise ValueError(f"{method} {path} declared twice with different access")
    rules[key] = access


def rule_for(request: web.Request) -> Access | None:
    route = request.match_info.route
    canonical = route.resource.canonical if route.resource is not None else ""
    method = "GET" if request.method == "HEAD" else request.method
    rules = request.app.get(RULES, {})
    return rules.get((method, canonical)) or rules.get(("*", canonical))


class ActiveCache:
    """Whether a user's session still stands: the account enabled, and the session made
    after the password was last set. Asked of the directory at most every 30 s (one cache
    per app, so two apps in one process never share an answer)."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[bool, float, float]] = {}  # active, password set at, asked

    async def valid(self, auth: Any, user_id: int | None, created: float) -> bool:
        if user_id is None:
            return True
        now = time.monotonic()
        hit = self.seen.get(user_id)
        if hit is None or now - hit[2] > ACTIVE_CACHE_S:
            active, password_at = await auth.standing(user_id)
            hit = (active, password_at, now)
            self.seen[user_id] = hit
        return hit[0] and created >= hit[1]


ACTIVE: web.AppKey[ActiveCache] = web.AppKey("active_users", ActiveCache)


async def identify(request: web.Request) -> tuple[Actor | None, WebSession | None]:
    """The actor behind a bearer token or the session cookie (None, None: nobody)."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        auth = request.app.get(AUTH)
        if auth is None:
            raise Unauthorized("no accounts are configured on this server")
        return await auth.authenticate(token.strip()), None
    if header:
        raise Unauthorized("only 'Authorization: Bearer <token>' is understood")
    sid = request.cookies.get(COOKIE, "")
    store = request.app.get(SESSIONS)
    if not sid or store is None:
        return None, None
    session = await store.get(sid)
    if session is None:
        return None, None
    cache = request.app.get(ACTIVE) or ActiveCache()
    if not await cache.valid(request.app[AUTH], session.actor.user_id, session.created):
        return None, None
    return session.actor, session


async def _check_csrf(request: web.Request, session: WebSession) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = str((await request.post()).get(CSRF_FIELD, ""))
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise CsrfFailed("this form is out of date or was not sent by a hotline page; reload")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.http_exception is not None:
        return await handler(request)  # 404, 405: nothing to protect
    rule = rule_for(request)
    if rule is None:
        log.error("%s %s has no access rule; refused", request.method, request.path)
        raise RouteUndeclared("this route declares no access rule")
    if rule.public or rule.signed:
        return await handler(request)
    who, session = await identify(request)
    if who is None:
        if rule.page and request.method in SAFE_METHODS:
            raise web.HTTPSeeOther(f"/login?next={quote(request.path_qs, safe='')}")
        raise Unauthorized("sign in, or send an API token (Authorization: Bearer …)")
    if session is not None:
        request[SESSION] = session  # a refusal's page still shows who is signed in
    if who.role not in rule.roles:
        raise Forbidden(f"a {who.role.value} may not do this", role=who.role.value)
    if session is not None and request.method not in SAFE_METHODS:
        await _check_csrf(request, session)
    request[ACTOR] = who
    return await handler(request)
