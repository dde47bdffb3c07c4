"""The stand-in's ARI: Asterisk itself, applications, endpoints, device states and the event
websocket."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from ..model import ASTERISK_ID, SimError, ts
from .common import SIM, Route, arg, reply

log = logging.getLogger(__name__)


async def info(request: web.Request) -> web.Response:
    return reply(
        {
            "build": {
                "os": "Linux",
                "kernel": "sim",
                "machine": "x86_64",
                "options": "OPTIONAL_API",
                "date": "2026-11-23 09:00:34 UTC",
                "user": "root",
            },
            "system": {"version": "22.10.1", "entity_id": ASTERISK_ID},
            "config": {
                "name": "",
                "default_language": "en",
                "setid": {"user": "", "group": ""},
            },
            "status": {"startup_time": ts(), "last_reload_time": ts()},
        }
    )


async def ping(request: web.Request) -> web.Response:
    return reply({"ping": "pong", "timestamp": ts(), "asterisk_id": ASTERISK_ID})


async def applications(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    others = [sim.application_json(name) for name, qs in sim.other_apps.items() if qs]
    return reply(([sim.application_json()] if sim.app_connected else []) + others)


async def application(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    name = request.match_info["name"]
    if name == sim.app and sim.app_connected:
        return reply(sim.application_json())
    if sim.other_apps.get(name):
        return reply(sim.application_json(name))
    raise SimError(404, "Application not found")


async def endpoints(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    tech = request.match_info.get("tech")
    return reply(
        [e.to_json() for e in sim.endpoints.values() if tech is None or e.technology == tech]
    )


async def endpoint(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    ep = sim.endpoints.get(f"{request.match_info['tech']}/{request.match_info['res']}")
    if ep is None:
        raise SimError(404, "Endpoint not found")
    return reply(ep.to_json())


async def device_states(request: web.Request) -> web.Response:
    return reply([])


async def events_ws(request: web.Request) -> web.StreamResponse:
    """The app's event websocket. Asterisk registers whatever app a websocket names; the
    stand-in's dialplan sends every call to ``sim.app``, so another application (a second
    server instance's) is registered and sees no channels."""
    sim = request.app[SIM]
    app = arg(request, "app")
    if not app:
        raise SimError(400, "Invalid application provided in param [app].")
    clients = sim.ws_clients if app == sim.app else sim.other_apps.setdefault(app, set())
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    clients.add(queue)
    log.info("stand-in: ARI app %s connected", app)
    sender = asyncio.create_task(_pump(ws, queue))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break
    finally:
        clients.discard(queue)
        queue.put_nowait(None)
        sender.cancel()
        log.info("stand-in: ARI app %s disconnected", app)
    return ws


ROUTES: list[Route] = [
    ("GET", "/ari/asterisk/info", info),
    ("GET", "/ari/asterisk/ping", ping),
    ("GET", "/ari/applications", applications),
    ("GET", "/ari/applications/{name}", application),
    ("GET", "/ari/endpoints", endpoints),
    ("GET", "/ari/endpoints/{tech}", endpoints),
    ("GET", "/ari/endpoints/{tech}/{res}", endpoint),
    ("GET", "/ari/deviceStates", device_states),
    ("GET", "/ari/events", events_ws),
]


async def _pump(ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    while True:
        event = await queue.get()
        if event is None:
            await ws.close()
            return
        raw = event.get("__raw__")
        try:
            await ws.send_str(raw if isinstance(raw, str) else json.dumps(event))
        except (ConnectionError, RuntimeError):
            return
