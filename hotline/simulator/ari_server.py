"""The stand-in's ARI: REST endpoints and the event websocket, as Asterisk 22 serves them.

Control routes for tests and benchmarks live under ``/_sim/`` (not part of ARI).
"""

from __future__ import annotations

import base64
import logging

from aiohttp import web

from .ari import bridges, channels, control, media, system
from .ari.common import CREDS, SIM, Handler, reply
from .model import SimAsterisk, SimError

log = logging.getLogger(__name__)


@web.middleware
async def ari_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = request.app[SIM]
    if request.path.startswith("/ari"):
        sim.stats.rest_requests += 1
        if not _authorized(request):
            sim.stats.rest_errors += 1
            return reply({"message": "Authentication required"}, 401)
    try:
        return await handler(request)
    except SimError as exc:
        sim.stats.rest_errors += 1
        return reply(exc.body, exc.status)


def _authorized(request: web.Request) -> bool:
    user, password = request.app[CREDS]
    api_key = request.query.get("api_key")
    if api_key is not None:
        return bool(api_key == f"{user}:{password}")
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        decoded = base64.b64decode(header[6:]).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    return bool(decoded == f"{user}:{password}")


def build_ari_app(
    sim: SimAsterisk, user: str = "hotline", password: str = "hotline"
) -> web.Application:
    app = web.Application(middlewares=[ari_middleware])
    app[SIM] = sim
    app[CREDS] = (user, password)
    for module in (system, channels, bridges, media, control):
        for method, path, handler in module.ROUTES:
            app.router.add_route(method, path, handler)
    return app
