"""The stand-in's ARI: Control routes for tests and benchmarks, under /_sim/ (not part of ARI)."""

from __future__ import annotations

from aiohttp import web

from .common import SIM, Route, reply


async def sim_drop(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.stats.ws_drops += 1
    for q in list(sim.ws_clients):
        sim.ws_clients.discard(q)
        q.put_nowait(None)
    return reply({"dropped": True})


async def sim_stats(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return reply(
        {
            **sim.stats.as_dict(),
            "channels": len(sim.channels),
            "bridges": len(sim.bridges),
            "app_connected": sim.app_connected,
        }
    )


async def sim_call(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    body = await request.json() if request.can_read_body else {}
    ch = sim.incoming_call(str(body.get("number", "13800138000")), str(body.get("line", "12345")))
    return reply(ch.to_json())


async def sim_send_frame(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    raw = await request.text()
    for q in sim.ws_clients:
        q.put_nowait({"__raw__": raw})
    return reply({"sent": len(sim.ws_clients)})


ROUTES: list[Route] = [
    ("POST", "/_sim/drop_ws", sim_drop),
    ("GET", "/_sim/stats", sim_stats),
    ("POST", "/_sim/call", sim_call),
    ("POST", "/_sim/send_frame", sim_send_frame),
]
