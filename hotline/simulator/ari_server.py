"""The stand-in's ARI: REST endpoints and the event websocket, as Asterisk 22 serves them.

Control routes for tests and benchmarks live under ``/_sim/`` (not part of ARI).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import wave
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from .model import ASTERISK_ID, SimAsterisk, SimError, ts

log = logging.getLogger(__name__)

SIM = web.AppKey("sim", SimAsterisk)
CREDS = web.AppKey("creds", tuple)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


def _no_content() -> web.Response:
    return web.Response(status=204)


@web.middleware
async def ari_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    sim = request.app[SIM]
    if request.path.startswith("/ari"):
        sim.stats.rest_requests += 1
        if not _authorized(request):
            sim.stats.rest_errors += 1
            return _json({"message": "Authentication required"}, 401)
    try:
        return await handler(request)
    except SimError as exc:
        sim.stats.rest_errors += 1
        return _json(exc.body, exc.status)


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


def _q(request: web.Request, name: str, default: str = "") -> str:
    return request.query.get(name, default)


def _channels_param(request: web.Request) -> list[str]:
    raw = _q(request, "channel")
    if not raw:
        raise SimError(400, "Invalid parameters")
    return [c for c in raw.split(",") if c]


def build_ari_app(
    sim: SimAsterisk, user: str = "hotline", password: str = "hotline"
) -> web.Application:
    app = web.Application(middlewares=[ari_middleware])
    app[SIM] = sim
    app[CREDS] = (user, password)
    r = app.router

    async def info(request: web.Request) -> web.Response:
        return _json(
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
        return _json({"ping": "pong", "timestamp": ts(), "asterisk_id": ASTERISK_ID})

    async def applications(request: web.Request) -> web.Response:
        return _json([sim.application_json()] if sim.app_connected else [])

    async def application(request: web.Request) -> web.Response:
        if request.match_info["name"] != sim.app or not sim.app_connected:
            raise SimError(404, "Application not found")
        return _json(sim.application_json())

    # channels
    async def list_channels(request: web.Request) -> web.Response:
        return _json([c.to_json() for c in sim.channels.values()])

    async def originate(request: web.Request) -> web.Response:
        endpoint = _q(request, "endpoint")
        if not endpoint:
            raise SimError(400, "Endpoint must be specified")
        try:
            body = await request.json() if request.can_read_body else {}
        except ValueError:
            raise SimError(400, "Invalid JSON body") from None
        variables = body.get("variables") if isinstance(body, dict) else None
        ch = sim.originate(
            endpoint,
            _q(request, "app", sim.app),
            _q(request, "appArgs"),
            _q(request, "channelId") or None,
            _q(request, "callerId"),
            int(_q(request, "timeout", "30") or 30),
            variables if isinstance(variables, dict) else None,
        )
        return _json(ch.to_json())

    async def get_channel(request: web.Request) -> web.Response:
        return _json(sim.get_channel(request.match_info["id"]).to_json())

    async def hangup(request: web.Request) -> web.Response:
        sim.hangup(request.match_info["id"], _q(request, "reason", "normal"))
        return _no_content()

    async def answer(request: web.Request) -> web.Response:
        await sim.run_on(request.match_info["id"], sim.answer)
        return _no_content()

    async def ring(request: web.Request) -> web.Response:
        sim.get_channel(request.match_info["id"])
        return _no_content()

    async def play(request: web.Request) -> web.Response:
        media = _q(request, "media")
        if not media:
            raise SimError(400, "Missing parameter media")
        pb = sim.play(
            request.match_info["id"],
            media,
            request.match_info.get("pb") or _q(request, "playbackId") or None,
            _q(request, "lang"),
        )
        return _json(pb, 201)

    async def moh_on(request: web.Request) -> web.Response:
        sim.queue_on(request.match_info["id"], lambda ch: sim.moh(ch, True))
        return _no_content()

    async def moh_off(request: web.Request) -> web.Response:
        sim.queue_on(request.match_info["id"], lambda ch: sim.moh(ch, False))
        return _no_content()

    async def get_var(request: web.Request) -> web.Response:
        name = _q(request, "variable")
        if not name:
            raise SimError(400, "Variable name is required")
        return _json({"value": sim.get_var(request.match_info["id"], name)})

    async def set_var(request: web.Request) -> web.Response:
        name = _q(request, "variable")
        if not name:
            raise SimError(400, "Variable name is required")
        value = _q(request, "value")
        ch = sim.get_channel(request.match_info["id"])
        if ch.in_stasis:
            await sim.run_on(ch.id, lambda c: sim.set_var(c, name, value))
        else:
            sim.set_var(ch, name, value)
        return _no_content()

    async def cont(request: web.Request) -> web.Response:
        context = _q(request, "context")
        sim.queue_on(request.match_info["id"], lambda ch: sim.continue_in_dialplan(ch, context))
        return _no_content()

    async def snoop(request: web.Request) -> web.Response:
        ch = sim.snoop(
            request.match_info["id"],
            request.match_info.get("sid"),
            _q(request, "spy", "none"),
            _q(request, "appArgs"),
        )
        return _json(ch.to_json())

    async def external_media(request: web.Request) -> web.Response:
        _, reply = sim.external_media(
            _q(request, "app", sim.app),
            _q(request, "external_host"),
            _q(request, "format"),
            _q(request, "channelId") or None,
        )
        return _json(reply)

    # bridges
    async def list_bridges(request: web.Request) -> web.Response:
        return _json([b.to_json() for b in sim.bridges.values()])

    async def create_bridge(request: web.Request) -> web.Response:
        b = sim.create_bridge(
            request.match_info.get("id") or _q(request, "bridgeId") or None,
            _q(request, "type", "mixing"),
            _q(request, "name"),
        )
        return _json(b.to_json())

    async def get_bridge(request: web.Request) -> web.Response:
        return _json(sim.get_bridge(request.match_info["id"]).to_json())

    async def destroy_bridge(request: web.Request) -> web.Response:
        sim.destroy_bridge(request.match_info["id"])
        return _no_content()

    async def add_channel(request: web.Request) -> web.Response:
        await sim.add_to_bridge(request.match_info["id"], _channels_param(request))
        return _no_content()

    async def remove_channel(request: web.Request) -> web.Response:
        sim.remove_from_bridge(request.match_info["id"], _channels_param(request))
        return _no_content()

    async def bridge_moh(request: web.Request) -> web.Response:
        sim.get_bridge(request.match_info["id"])
        return _no_content()

    async def record_bridge(request: web.Request) -> web.Response:
        rec = sim.record_bridge(
            request.match_info["id"], _q(request, "name"), _q(request, "format", "wav")
        )
        return _json(rec, 201)

    async def record_channel(request: web.Request) -> web.Response:
        try:
            max_s = float(_q(request, "maxDurationSeconds", "0"))
        except ValueError:
            raise SimError(400, "Invalid parameters") from None
        rec = sim.record_channel(
            request.match_info["id"],
            _q(request, "name"),
            _q(request, "format", "wav"),
            max_s,
            _q(request, "terminateOn", "none"),
            _q(request, "beep") == "true",
        )
        return _json(rec, 201)

    # playbacks, recordings, endpoints, device states
    async def get_playback(request: web.Request) -> web.Response:
        pb = sim.playbacks.get(request.match_info["id"])
        if pb is None:
            raise SimError(404, "Playback not found")
        return _json(pb)

    async def stop_playback(request: web.Request) -> web.Response:
        sim.stop_playback(request.match_info["id"])
        return _no_content()

    async def live_recording(request: web.Request) -> web.Response:
        rec = sim.live_recordings.get(request.match_info["name"])
        if rec is None:
            raise SimError(404, "Recording not found")
        return _json({k: v for k, v in rec.items() if not k.startswith("_")})

    async def stop_recording(request: web.Request) -> web.Response:
        sim.stop_recording(request.match_info["name"])
        return _no_content()

    async def stored_list(request: web.Request) -> web.Response:
        return _json(
            [{"name": r["name"], "format": r["format"]} for r in sim.stored_recordings.values()]
        )

    async def stored_get(request: web.Request) -> web.Response:
        rec = sim.stored_recordings.get(request.match_info["name"])
        if rec is None:
            raise SimError(404, "Recording not found")
        return _json({"name": rec["name"], "format": rec["format"]})

    async def stored_file(request: web.Request) -> web.Response:
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

    async def endpoints(request: web.Request) -> web.Response:
        tech = request.match_info.get("tech")
        return _json(
            [e.to_json() for e in sim.endpoints.values() if tech is None or e.technology == tech]
        )

    async def endpoint(request: web.Request) -> web.Response:
        ep = sim.endpoints.get(f"{request.match_info['tech']}/{request.match_info['res']}")
        if ep is None:
            raise SimError(404, "Endpoint not found")
        return _json(ep.to_json())

    async def device_states(request: web.Request) -> web.Response:
        return _json([])

    async def events_ws(request: web.Request) -> web.StreamResponse:
        if _q(request, "app") != sim.app:
            raise SimError(400, "Invalid application provided in param [app].")
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        sim.ws_clients.add(queue)
        log.info("stand-in: ARI app %s connected", sim.app)
        sender = asyncio.create_task(_pump(ws, queue))
        try:
            async for msg in ws:
                if msg.type == WSMsgType.ERROR:
                    break
        finally:
            sim.ws_clients.discard(queue)
            queue.put_nowait(None)
            sender.cancel()
            log.info("stand-in: ARI app %s disconnected", sim.app)
        return ws

    # test control
    async def sim_drop(request: web.Request) -> web.Response:
        sim.stats.ws_drops += 1
        for q in list(sim.ws_clients):
            sim.ws_clients.discard(q)
            q.put_nowait(None)
        return _json({"dropped": True})

    async def sim_stats(request: web.Request) -> web.Response:
        return _json(
            {
                **sim.stats.as_dict(),
                "channels": len(sim.channels),
                "bridges": len(sim.bridges),
                "app_connected": sim.app_connected,
            }
        )

    async def sim_call(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        ch = sim.incoming_call(
            str(body.get("number", "13800138000")), str(body.get("line", "12345"))
        )
        return _json(ch.to_json())

    async def sim_send_frame(request: web.Request) -> web.Response:
        raw = await request.text()
        for q in sim.ws_clients:
            q.put_nowait({"__raw__": raw})
        return _json({"sent": len(sim.ws_clients)})

    a = "/ari"
    r.add_get(f"{a}/asterisk/info", info)
    r.add_get(f"{a}/asterisk/ping", ping)
    r.add_get(f"{a}/applications", applications)
    r.add_get(f"{a}/applications/{{name}}", application)
    r.add_get(f"{a}/channels", list_channels)
    r.add_post(f"{a}/channels", originate)
    r.add_post(f"{a}/channels/externalMedia", external_media)
    r.add_get(f"{a}/channels/{{id}}", get_channel)
    r.add_delete(f"{a}/channels/{{id}}", hangup)
    r.add_post(f"{a}/channels/{{id}}/answer", answer)
    r.add_post(f"{a}/channels/{{id}}/ring", ring)
    r.add_post(f"{a}/channels/{{id}}/play", play)
    r.add_post(f"{a}/channels/{{id}}/play/{{pb}}", play)
    r.add_post(f"{a}/channels/{{id}}/moh", moh_on)
    r.add_delete(f"{a}/channels/{{id}}/moh", moh_off)
    r.add_get(f"{a}/channels/{{id}}/variable", get_var)
    r.add_post(f"{a}/channels/{{id}}/variable", set_var)
    r.add_post(f"{a}/channels/{{id}}/continue", cont)
    r.add_post(f"{a}/channels/{{id}}/record", record_channel)
    r.add_post(f"{a}/channels/{{id}}/snoop", snoop)
    r.add_post(f"{a}/channels/{{id}}/snoop/{{sid}}", snoop)
    r.add_get(f"{a}/bridges", list_bridges)
    r.add_post(f"{a}/bridges", create_bridge)
    r.add_post(f"{a}/bridges/{{id}}", create_bridge)
    r.add_get(f"{a}/bridges/{{id}}", get_bridge)
    r.add_delete(f"{a}/bridges/{{id}}", destroy_bridge)
    r.add_post(f"{a}/bridges/{{id}}/addChannel", add_channel)
    r.add_post(f"{a}/bridges/{{id}}/removeChannel", remove_channel)
    r.add_post(f"{a}/bridges/{{id}}/moh", bridge_moh)
    r.add_delete(f"{a}/bridges/{{id}}/moh", bridge_moh)
    r.add_post(f"{a}/bridges/{{id}}/record", record_bridge)
    r.add_get(f"{a}/playbacks/{{id}}", get_playback)
    r.add_delete(f"{a}/playbacks/{{id}}", stop_playback)
    r.add_get(f"{a}/recordings/live/{{name}}", live_recording)
    r.add_post(f"{a}/recordings/live/{{name}}/stop", stop_recording)
    r.add_get(f"{a}/recordings/stored", stored_list)
    r.add_get(f"{a}/recordings/stored/{{name}}", stored_get)
    r.add_get(f"{a}/recordings/stored/{{name}}/file", stored_file)
    r.add_get(f"{a}/endpoints", endpoints)
    r.add_get(f"{a}/endpoints/{{tech}}", endpoints)
    r.add_get(f"{a}/endpoints/{{tech}}/{{res}}", endpoint)
    r.add_get(f"{a}/deviceStates", device_states)
    r.add_get(f"{a}/events", events_ws)
    r.add_post("/_sim/drop_ws", sim_drop)
    r.add_get("/_sim/stats", sim_stats)
    r.add_post("/_sim/call", sim_call)
    r.add_post("/_sim/send_frame", sim_send_frame)
    return app


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
