"""The stand-in's ARI bridges: create, list, destroy, add and remove channels, music, record."""

from __future__ import annotations

from aiohttp import web

from .common import SIM, Route, arg, channels_param, no_content, reply


async def list_bridges(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return reply([b.to_json() for b in sim.bridges.values()])


async def create_bridge(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    b = sim.create_bridge(
        request.match_info.get("id") or arg(request, "bridgeId") or None,
        arg(request, "type", "mixing"),
        arg(request, "name"),
    )
    return reply(b.to_json())


async def get_bridge(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return reply(sim.get_bridge(request.match_info["id"]).to_json())


async def destroy_bridge(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.destroy_bridge(request.match_info["id"])
    return no_content()


async def add_channel(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    await sim.add_to_bridge(request.match_info["id"], channels_param(request))
    return no_content()


async def remove_channel(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.remove_from_bridge(request.match_info["id"], channels_param(request))
    return no_content()


async def bridge_moh(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.get_bridge(request.match_info["id"])
    return no_content()


async def record_bridge(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    rec = sim.record_bridge(
        request.match_info["id"], arg(request, "name"), arg(request, "format", "wav")
    )
    return reply(rec, 201)


ROUTES: list[Route] = [
    ("GET", "/ari/bridges", list_bridges),
    ("POST", "/ari/bridges", create_bridge),
    ("POST", "/ari/bridges/{id}", create_bridge),
    ("GET", "/ari/bridges/{id}", get_bridge),
    ("DELETE", "/ari/bridges/{id}", destroy_bridge),
    ("POST", "/ari/bridges/{id}/addChannel", add_channel),
    ("POST", "/ari/bridges/{id}/removeChannel", remove_channel),
    ("POST", "/ari/bridges/{id}/moh", bridge_moh),
    ("DELETE", "/ari/bridges/{id}/moh", bridge_moh),
    ("POST", "/ari/bridges/{id}/record", record_bridge),
]
