"""What the stand-in's ARI route modules share: the app keys, replies as Asterisk sends
them, and query arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ..model import SimAsterisk, SimError

SIM = web.AppKey("sim", SimAsterisk)
CREDS = web.AppKey("creds", tuple)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Route = tuple[str, str, Handler]


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def no_content() -> web.Response:
    return web.Response(status=204)


def arg(request: web.Request, name: str, default: str = "") -> str:
    return request.query.get(name, default)


def channels_param(request: web.Request) -> list[str]:
    raw = arg(request, "channel")
    if not raw:
        raise SimError(400, "Invalid parameters")
    return [c for c in raw.split(",") if c]
