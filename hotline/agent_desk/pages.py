"""Server-rendered pages: templates, sign-in and sign-out, the language switch, the home page.

Jinja2 through aiohttp-jinja2 with autoescaping on every template, so citizen text is inert
wherever it lands; a strict Content-Security-Policy (scripts and styles only from
``/static``, no inline script) on every page as a second wall.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ..errors import HotlineError
from ..keys import ROUTER, SETTINGS, STORE
from ..queue.models import OperatorState
from ..roles import Role
from ..web.access import (
    COOKIE,
    CSRF_FIELD,
    EVERYONE,
    PUBLIC,
    SESSIONS,
    CsrfFailed,
    Handler,
    add,
    declare,
    identify,
    roles,
)
from ..web.common import AUTH, SESSION, actor
from ..web.sessions import LoginLimiter
from . import i18n

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
LOCALE_COOKIE = "hotline_locale"  # the language chosen before signing in
LOGIN_COOKIE = "hotline_login"  # the sign-in form's own CSRF token
LIMITER: web.AppKey[LoginLimiter] = web.AppKey("login_limiter")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)
HOME_BY_ROLE = {"operator": "/desk"}
SIGN_OUT_FROM = (OperatorState.READY, OperatorState.NOT_READY, OperatorState.WRAP_UP)


def locale_of(request: web.Request) -> str:
    session = request.get(SESSION)
    wanted = session.locale if session is not None else request.cookies.get(LOCALE_COOKIE)
    default = request.app[SETTINGS].default_locale
    return i18n.pick(wanted, default)


async def page_context(request: web.Request) -> dict[str, Any]:
    locale = locale_of(request)
    session = request.get(SESSION)

    def t(key: str, **values: object) -> str:
        return i18n.text(locale, key, **values)

    return {
        "request": request,
        "t": t,
        "locale": locale,
        "locales": i18n.LOCALES,
        "me": session.actor if session is not None else None,
        "csrf": session.csrf if session is not None else "",
        "csrf_field": CSRF_FIELD,
    }


def setup_templates(app: web.Application) -> None:
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        context_processors=[page_context],
        undefined=jinja2.StrictUndefined,
    )
    env = aiohttp_jinja2.get_env(app)
    env.globals["static"] = lambda path: str(app.router["static"].url_for(filename=path))


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        resp = await handler(request)
    except web.HTTPException as exc:
        _harden(exc.headers)
        raise
    _harden(resp.headers)
    return resp


def _harden(headers: Any) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if headers.get("Content-Type", "").startswith("text/html"):
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cache-Control", "no-store")


def _safe_next(target: str) -> str:
    """Only a path on this site: never an open redirect to another."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(c < " " or c == "\x7f" for c in target):
        return "/"  # /\evil.example reads as //evil.example to a browser
    return target


def _client_address(request: web.Request) -> str:
    return request.remote or "unknown"


async def login_page(request: web.Request) -> web.Response:
    if request.query.get("lang") in i18n.LOCALES:
        back = quote(_safe_next(request.query.get("next", "/")), safe="")
        resp = web.HTTPSeeOther(f"/login?next={back}")
        resp.set_cookie(LOCALE_COOKIE, request.query["lang"], max_age=365 * 86400, samesite="Lax")
        raise resp
    who, _ = await identify(request)
    if who is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next", "/")))
    return _render_login(request, error="", status=200)


def _render_login(request: web.Request, *, error: str, status: int) -> web.Response:
    """The form carries a token matching a cookie set with it (double submit), so another
    site cannot sign a desk's browser into an account of its choosing."""
    token = secrets.token_urlsafe(24)
    resp = aiohttp_jinja2.render_template(
        "login.html",
        request,
        {
            "error": error,
            "next": _safe_next(request.query.get("next", "/")),
            "login_token": token,
        },
        status=status,
    )
    resp.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", path="/login")
    return resp


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    sent, expected = str(form.get(CSRF_FIELD, "")), request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfFailed("the sign-in form is out of date; reload the page")
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:256]
    locale = locale_of(request)
    limiter = request.app[LIMITER]
    address = _client_address(request)
    wait = await limiter.attempt(username, address)
    if wait > 0:
        minutes = max(1, round(wait / 60))
        resp = _render_login(
            request, error=i18n.text(locale, "sign_in_throttled", minutes=minutes), status=429
        )
        resp.headers["Retry-After"] = str(int(wait) + 1)
        return resp
    who = await request.app[AUTH].sign_in(username, password) if username and password else None
    if who is None:
        log.warning("sign-in refused for %r from %s", username, address)
        return _render_login(request, error=i18n.text(locale, "sign_in_failed"), status=401)
    await limiter.succeeded(username, address)
    chosen = await request.app[AUTH].locale(who.user_id) if who.user_id else None
    if chosen is None and request.cookies.get(LOCALE_COOKIE) in i18n.LOCALES:
        chosen = request.cookies[LOCALE_COOKIE]
    store = request.app[SESSIONS]
    old = request.cookies.get(COOKIE)
    if old:
        await store.drop(old)  # the id from before sign-in is worth nothing after it
    sid = await store.create(who, chosen or request.app[SETTINGS].default_locale)
    log.info("user %s (%s) signed in from %s", who.username, who.role.value, address)
    target = form.get("next")
    resp = web.HTTPSeeOther(_safe_next(str(target)) if target else home_for(who.role.value))
    set_session_cookie(request, resp, sid)
    raise resp


def home_for(role: str) -> str:
    return HOME_BY_ROLE.get(role, "/home")


def set_session_cookie(request: web.Request, resp: web.StreamResponse, sid: str) -> None:
    mode = request.app[SETTINGS].secure_cookies
    secure = mode == "always" or (mode == "auto" and request.secure)
    resp.set_cookie(COOKIE, sid, httponly=True, samesite="Lax", secure=secure, path="/")


async def logout(request: web.Request) -> web.Response:
    """Sign out; an operator's seat signs out with them, so calls stop ringing an empty
    desk (a seat ringing or on a call keeps its call)."""
    sid = request.cookies.get(COOKIE, "")
    if sid:
        await request.app[SESSIONS].drop(sid)
    who = actor(request)
    if who.role is Role.OPERATOR:
        op = await request.app[STORE].get_operator(who.username)
        if op is not None and op.state in SIGN_OUT_FROM:
            await request.app[ROUTER].operators.set_state(op.id, OperatorState.LOGGED_OUT)
    resp = web.HTTPSeeOther("/login")
    resp.del_cookie(COOKIE, path="/")
    raise resp


async def set_locale(request: web.Request) -> web.Response:
    form = await request.post()
    wanted = str(form.get("locale", ""))
    if wanted not in i18n.LOCALES:
        raise LocaleInvalid("unknown language", locale=wanted[:20])
    who = actor(request)
    if who.user_id is not None:
        await request.app[AUTH].set_locale(who.user_id, wanted)
    sid = request.cookies.get(COOKIE, "")
    if sid:
        await request.app[SESSIONS].set_locale(sid, wanted)
    raise web.HTTPSeeOther(_safe_next(str(form.get("next", "/"))))


class LocaleInvalid(HotlineError):
    error_id = "locale-invalid"
    status = 422


async def home(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("home.html", request, {})


async def front_door(request: web.Request) -> web.Response:
    who, _ = await identify(request)
    raise web.HTTPSeeOther(home_for(who.role.value) if who is not None else "/login")


def add_pages(app: web.Application) -> None:
    setup_templates(app)
    add(app, "GET", "/", front_door, PUBLIC)
    add(app, "GET", "/login", login_page, PUBLIC)
    add(app, "POST", "/login", login, PUBLIC)  # throttled per account and per address
    add(app, "POST", "/logout", logout, roles(EVERYONE, page=True))
    add(app, "POST", "/locale", set_locale, roles(EVERYONE, page=True))
    add(app, "GET", "/home", home, roles(EVERYONE, page=True))
    app.router.add_static("/static", HERE / "static", name="static", append_version=True)
    declare(app, "GET", "/static", PUBLIC)
