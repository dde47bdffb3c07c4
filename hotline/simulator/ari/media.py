"""The stand-in's ARI: Playbacks and recordings (live and stored)."""

from __future__ import annotations

import io
import wave

from aiohttp import web

from ..model import SimError
from .common import SIM, Route, no_content, reply


async def get_playback(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    pb = sim.playbacks.get(request.match_info["id"])
    if pb is None:
        raise SimError(404, "Playback not found")
    return reply(pb)


async def stop_playback(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.stop_playback(request.match_info["id"])
    return no_content()


async def live_recording(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    rec = sim.live_recordings.get(request.match_info["name"])
    if rec is None:
        raise SimError(404, "Recording not found")
    return reply({k: v for k, v in rec.items() if not k.startswith("_")})


async def stop_recording(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.stop_recording(request.match_info["name"])
    return no_content()


async def stored_list(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return reply(
        [{"name": r["name"], "format": r["format"]} for r in sim.stored_recordings.values()]
    )


async def stored_get(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    rec = sim.stored_recordings.get(request.match_info["name"])
    if rec is None:
        raise SimError(404, "Recording not found")
    return reply({"name": rec["name"], "format": rec["format"]})


async def stored_file(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    rec = sim.stored_recordings.get(request.match_info["name"])
    if rec is None:
        raise SimError(404, "Recording not found")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * 8000 * max(1, int(rec["_duration"])))
    return web.Response(body=buf.getvalue(), content_type="audio/wav")


ROUTES: list[Route] = [
    ("GET", "/ari/playbacks/{id}", get_playback),
    ("DELETE", "/ari/playbacks/{id}", stop_playback),
    ("GET", "/ari/recordings/live/{name}", live_recording),
    ("POST", "/ari/recordings/live/{name}/stop", stop_recording),
    ("GET", "/ari/recordings/stored", stored_list),
    ("GET", "/ari/recordings/stored/{name}", stored_get),
    ("GET", "/ari/recordings/stored/{name}/file", stored_file),
]
