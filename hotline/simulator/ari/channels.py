"""The stand-in's ARI channels: list, originate, answer, hang up, play, music, hold, mute,
variables, continue, record, snoop, externalMedia."""

from __future__ import annotations

from aiohttp import web

from ..model import SimError
from .common import SIM, Route, arg, no_content, reply


async def list_channels(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return reply([c.to_json() for c in sim.channels.values()])


async def originate(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    endpoint = arg(request, "endpoint")
    if not endpoint:
        raise SimError(400, "Endpoint must be specified")
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        raise SimError(400, "Invalid JSON body") from None
    variables = body.get("variables") if isinstance(body, dict) else None
    ch = sim.originate(
        endpoint,
        arg(request, "app", sim.app),
        arg(request, "appArgs"),
        arg(request, "channelId") or None,
        arg(request, "callerId"),
        int(arg(request, "timeout", "30") or 30),
        variables if isinstance(variables, dict) else None,
    )
    return reply(ch.to_json())


async def get_channel(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    return reply(sim.get_channel(request.match_info["id"]).to_json())


async def hangup(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.hangup(request.match_info["id"], arg(request, "reason", "normal"))
    return no_content()


async def answer(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    await sim.run_on(request.match_info["id"], sim.answer)
    return no_content()


async def ring(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.get_channel(request.match_info["id"])
    return no_content()


async def play(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    media = arg(request, "media")
    if not media:
        raise SimError(400, "Missing parameter media")
    pb = sim.play(
        request.match_info["id"],
        media,
        request.match_info.get("pb") or arg(request, "playbackId") or None,
        arg(request, "lang"),
    )
    return reply(pb, 201)


async def moh_on(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.queue_on(request.match_info["id"], lambda ch: sim.moh(ch, True))
    return no_content()


async def moh_off(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.queue_on(request.match_info["id"], lambda ch: sim.moh(ch, False))
    return no_content()


async def get_var(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    name = arg(request, "variable")
    if not name:
        raise SimError(400, "Variable name is required")
    return reply({"value": sim.get_var(request.match_info["id"], name)})


async def set_var(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    name = arg(request, "variable")
    if not name:
        raise SimError(400, "Variable name is required")
    value = arg(request, "value")
    ch = sim.get_channel(request.match_info["id"])
    if ch.in_stasis:
        await sim.run_on(ch.id, lambda c: sim.set_var(c, name, value))
    else:
        sim.set_var(ch, name, value)
    return no_content()


async def cont(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    context, exten = arg(request, "context"), arg(request, "extension")
    sim.queue_on(request.match_info["id"], lambda ch: sim.continue_in_dialplan(ch, context, exten))
    return no_content()


def _controlled(request: web.Request) -> str:
    """``find_control`` and ``channel_state_invalid`` of resource_channels.c: 404 for no
    channel, 409 outside Stasis, 412 for an outbound channel not yet answered."""
    sim = request.app[SIM]
    channel_id = request.match_info["id"]
    ch = sim.get_channel(channel_id)
    # A channel the app originated has its Stasis control while it still rings.
    if ch.state in ("Down", "Reserved", "Ringing") and (ch.in_stasis or ch.originated):
        raise SimError(412, "Channel in invalid state")
    if not ch.in_stasis:
        raise SimError(409, "Channel not in Stasis application")
    return channel_id


async def hold_on(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.queue_on(_controlled(request), lambda ch: sim.hold(ch, True))
    return no_content()


async def hold_off(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    sim.queue_on(_controlled(request), lambda ch: sim.hold(ch, False))
    return no_content()


def _direction(request: web.Request) -> str:
    direction = arg(request, "direction")
    if not direction:
        raise SimError(400, "Direction is required")
    if direction not in ("in", "out", "both"):
        raise SimError(400, "Invalid direction specified")
    return direction


async def mute_on(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    channel_id = _controlled(request)
    direction = _direction(request)
    sim.queue_on(channel_id, lambda ch: sim.mute(ch, direction, True))
    return no_content()


async def mute_off(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    channel_id = _controlled(request)
    direction = _direction(request)
    sim.queue_on(channel_id, lambda ch: sim.mute(ch, direction, False))
    return no_content()


async def snoop(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    ch = sim.snoop(
        request.match_info["id"],
        request.match_info.get("sid"),
        arg(request, "spy", "none"),
        arg(request, "appArgs"),
        arg(request, "whisper", "none"),
    )
    return reply(ch.to_json())


async def external_media(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    _, body = sim.external_media(
        arg(request, "app", sim.app),
        arg(request, "external_host"),
        arg(request, "format"),
        arg(request, "channelId") or None,
    )
    return reply(body)


async def record_channel(request: web.Request) -> web.Response:
    sim = request.app[SIM]
    try:
        max_s = float(arg(request, "maxDurationSeconds", "0"))
    except ValueError:
        raise SimError(400, "Invalid parameters") from None
    rec = sim.record_channel(
        request.match_info["id"],
        arg(request, "name"),
        arg(request, "format", "wav"),
        max_s,
        arg(request, "terminateOn", "none"),
        arg(request, "beep") == "true",
    )
    return reply(rec, 201)


ROUTES: list[Route] = [
    ("GET", "/ari/channels", list_channels),
    ("POST", "/ari/channels", originate),
    ("POST", "/ari/channels/externalMedia", external_media),
    ("GET", "/ari/channels/{id}", get_channel),
    ("DELETE", "/ari/channels/{id}", hangup),
    ("POST", "/ari/channels/{id}/answer", answer),
    ("POST", "/ari/channels/{id}/ring", ring),
    ("POST", "/ari/channels/{id}/play", play),
    ("POST", "/ari/channels/{id}/play/{pb}", play),
    ("POST", "/ari/channels/{id}/moh", moh_on),
    ("DELETE", "/ari/channels/{id}/moh", moh_off),
    ("GET", "/ari/channels/{id}/variable", get_var),
    ("POST", "/ari/channels/{id}/variable", set_var),
    ("POST", "/ari/channels/{id}/hold", hold_on),
    ("DELETE", "/ari/channels/{id}/hold", hold_off),
    ("POST", "/ari/channels/{id}/mute", mute_on),
    ("DELETE", "/ari/channels/{id}/mute", mute_off),
    ("POST", "/ari/channels/{id}/continue", cont),
    ("POST", "/ari/channels/{id}/record", record_channel),
    ("POST", "/ari/channels/{id}/snoop", snoop),
    ("POST", "/ari/channels/{id}/snoop/{sid}", snoop),
]
