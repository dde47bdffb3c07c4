"""ARI: recorded traffic through the real client, and the stand-in against the recordings."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import struct
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hotline.metrics import Metrics
from hotline.simulator.standin import StandIn
from hotline.telephony import events as ev
from hotline.telephony.ari import AriClient
from hotline.telephony.exceptions import AriAuthError, AriNotFound, AriServerError
from tests.conftest import CAPTURES, needs_captures, wait_for

pytestmark = needs_captures
AUTH = {"Authorization": "Basic aG90bGluZTpob3RsaW5l"}  # hotline:hotline


def recorded(name: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (CAPTURES / name).read_text().splitlines()]


async def connected_client(standin: StandIn, metrics: Metrics | None = None) -> AriClient:
    client = AriClient(
        standin.ari_url,
        "hotline",
        "hotline",
        "hotline",
        metrics or Metrics(),
        reconnect_initial_s=0.05,
        reconnect_max_s=0.2,
    )
    await client.start()
    await asyncio.wait_for(client.connected.wait(), 5)
    return client


@pytest.mark.parametrize(
    "name", ["ari_events_ari_stasis_bridge.jsonl", "ari_events_ari_external_media.jsonl"]
)
async def test_recorded_frames_over_a_real_websocket_reach_the_handler_typed(
    standin: StandIn, name: str
) -> None:
    client = await connected_client(standin)
    got: list[ev.AriEvent] = []
    client.on_event = got.append
    lines = (CAPTURES / name).read_text().splitlines()
    async with aiohttp.ClientSession() as http:
        for line in lines:
            await http.post(f"{standin.ari_url}/_sim/send_frame", data=line)
    await wait_for(lambda: len(got) == len(lines), what="all frames")
    assert [e.type for e in got] == [json.loads(x)["type"] for x in lines]
    assert not any(isinstance(e, ev.UnknownEvent) for e in got)
    await client.close()


async def test_recorded_rest_errors_become_domain_exceptions() -> None:
    """A server that answers with the recorded status and body for each recorded request."""
    rest = recorded("ari_rest_ari_stasis_bridge.jsonl")
    errors = {(r["method"], r["path"]): r for r in rest if r["status"] >= 400}

    async def replay(request: web.Request) -> web.Response:
        r = errors.get((request.method, request.path))
        if r is None:
            return web.json_response({"message": "not recorded"}, status=599)
        return web.json_response(r["response_body"], status=r["status"])

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", replay)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    metrics = Metrics()
    client = AriClient(f"http://127.0.0.1:{port}", "u", "p", "hotline", metrics)
    client._session = aiohttp.ClientSession()
    try:
        with pytest.raises(AriNotFound, match="Channel not found"):
            await client.get_channel("does-not-exist")
        with pytest.raises(AriNotFound):
            await client.answer("does-not-exist")
        with pytest.raises(AriNotFound, match="Bridge not found"):
            await client.destroy_bridge("br-ec39a52a")
        with pytest.raises(AriServerError, match="Allocation failed"):
            await client.originate("PJSIP/9999")
        with pytest.raises(AriAuthError):
            await client.asterisk_info()
    finally:
        await client._session.close()
        await runner.cleanup()
    assert metrics.ari_errors.labels(kind="ari-not-found")._value.get() == 3


def shape(value: Any) -> Any:
    """Field names and JSON types, recursively (list shape from its first element)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def merge_shapes(events: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for e in events:
        out.setdefault(e["type"], shape({k: v for k, v in e.items() if k != "args"}))
    return out


class Recorder:
    """A raw websocket client of the stand-in, recording every frame like the capture did."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin
        self.events: list[dict[str, Any]] = []
        self.http = aiohttp.ClientSession(headers=AUTH)
        self.base = f"{standin.ari_url}/ari"

    async def __aenter__(self) -> Recorder:
        self.ws = await self.http.ws_connect(f"{self.base}/events?app=hotline")
        self.reader = asyncio.create_task(self._read())
        await wait_for(lambda: self.standin.sim.app_connected, what="app")
        return self

    async def _read(self) -> None:
        async for msg in self.ws:
            self.events.append(json.loads(msg.data))

    async def __aexit__(self, *exc: object) -> None:
        self.reader.cancel()
        await self.ws.close()
        await self.http.close()

    async def call(self, method: str, path: str, **params: str) -> Any:
        async with self.http.request(method, self.base + path, params=params) as r:
            assert r.status < 300, (path, r.status, await r.text())
            return await r.json() if r.status != 204 else None

    async def until(self, type_: str, count: int = 1) -> None:
        await wait_for(lambda: sum(e["type"] == type_ for e in self.events) >= count, what=type_)


def types_without_varsets(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events if e["type"] != "ChannelVarset"]


async def test_standin_bridge_scenario_matches_the_recording(standin: StandIn) -> None:
    """Replays the REST calls of ari_stasis_bridge against the stand-in; event types, their
    order (ChannelVarset aside) and every field name and type must match the recording."""
    standin.sim.add_endpoint("1001")
    async with Recorder(standin) as rec:
        caller = standin.sim.incoming_call("13800138000")
        await rec.until("StasisStart")
        cid = caller.id
        await rec.call("POST", f"/channels/{cid}/answer")
        await rec.call(
            "POST", f"/channels/{cid}/variable", variable="HOTLINE_TICKET", value="T20240001"
        )
        await rec.call(
            "POST", f"/channels/{cid}/play/pb-1", media="sound:hotline/welcome_short", lang="en"
        )
        await rec.until("PlaybackFinished")
        await rec.call("POST", f"/channels/{cid}/moh", mohClass="default")
        await rec.call(
            "POST",
            "/channels",
            endpoint="PJSIP/1001",
            app="hotline",
            appArgs=f"agent,{cid}",
            callerId="12345 Hotline <12345>",
            timeout="30",
            channelId="agent-1",
            originator=cid,
        )
        await rec.until("StasisStart", 2)
        await rec.call("DELETE", f"/channels/{cid}/moh")
        await rec.call("POST", "/bridges/br-1", type="mixing", name=f"call-{cid}")
        await rec.call("POST", "/bridges/br-1/addChannel", channel=f"{cid},agent-1")
        await rec.call(
            "POST",
            "/bridges/br-1/record",
            name="call-br-1",
            format="wav",
            ifExists="overwrite",
            beep="false",
            maxDurationSeconds="60",
        )
        await rec.until("RecordingStarted")
        await rec.call("POST", "/recordings/live/call-br-1/stop")
        await rec.call("DELETE", f"/channels/{cid}", reason="normal")
        await rec.call("DELETE", "/channels/agent-1")
        await rec.call("DELETE", "/bridges/br-1")
        await rec.until("BridgeDestroyed")
    expected = recorded("ari_events_ari_stasis_bridge.jsonl")
    assert types_without_varsets(rec.events) == types_without_varsets(expected)
    mine, theirs = merge_shapes(rec.events), merge_shapes(expected)
    assert set(mine) == set(theirs)
    for type_ in theirs:
        assert mine[type_] == theirs[type_], type_
    varsets = {e["variable"] for e in rec.events if e["type"] == "ChannelVarset"}
    assert {"HOTLINE_TICKET", "STASISSTATUS", "BRIDGEPEER"} <= varsets


async def test_standin_external_media_matches_the_recording_and_sends_rtp(standin: StandIn) -> None:
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    rtp.setblocking(False)
    port = rtp.getsockname()[1]
    async with Recorder(standin) as rec:
        caller = standin.sim.incoming_call("13800138000")
        await rec.until("StasisStart")
        cid = caller.id
        await rec.call("POST", f"/channels/{cid}/answer")
        await rec.call("POST", "/bridges", type="mixing", bridgeId="br-em", name="em-test")
        await rec.call("POST", "/bridges/br-em/addChannel", channel=cid)
        reply = await rec.call(
            "POST",
            "/channels/externalMedia",
            app="hotline",
            external_host=f"127.0.0.1:{port}",
            format="slin16",
            channelId="em-1",
            encapsulation="rtp",
            transport="udp",
            direction="both",
        )
        await rec.until("StasisStart", 2)
        await rec.call("POST", "/bridges/br-em/addChannel", channel="em-1")
        loop = asyncio.get_running_loop()
        packets = []
        arrivals = []
        while len(packets) < 25:
            data = await asyncio.wait_for(loop.sock_recv(rtp, 2048), 2)
            packets.append(data)
            arrivals.append(time.monotonic())
        await rec.call("DELETE", "/channels/em-1")
        await rec.call("DELETE", f"/channels/{cid}")
        await rec.call("DELETE", "/bridges/br-em")
        await rec.until("BridgeDestroyed")
    rtp.close()
    expected = recorded("ari_events_ari_external_media.jsonl")
    summary = json.loads((CAPTURES / "external_media_rtp_summary.json").read_text())
    assert shape(reply) == shape(summary["externalMedia_response"])
    assert set(reply["channelvars"]) == {
        "STASISSTATUS",
        "UNICASTRTP_LOCAL_PORT",
        "UNICASTRTP_LOCAL_ADDRESS",
    }
    # Up to the media channel's StasisEnd the order is deterministic in Asterisk too.
    cut = types_without_varsets(expected).index("StasisEnd") + 1
    assert types_without_varsets(rec.events)[:cut] == types_without_varsets(expected)[:cut]
    assert sorted(set(types_without_varsets(rec.events))) == sorted(
        set(types_without_varsets(expected))
    )
    mine, theirs = merge_shapes(rec.events), merge_shapes(expected)
    for type_ in theirs:
        assert mine[type_] == theirs[type_], type_
    headers = [struct.unpack("!BBHII", p[:12]) for p in packets]
    assert {len(p) - 12 for p in packets} == set(summary["payload_sizes"])
    assert {h[1] & 0x7F for h in headers} == set(summary["payload_types"])
    assert all(h[0] >> 6 == 2 for h in headers)
    seqs = [h[2] for h in headers]
    assert all((b - a) % 65536 == 1 for a, b in itertools.pairwise(seqs))
    stamps = [h[3] for h in headers]
    assert all(b - a == 320 for a, b in itertools.pairwise(stamps))
    span = arrivals[-1] - arrivals[0]
    assert 0.3 < span < 1.5  # 24 gaps of 20 ms, paced in real time, not a burst


async def test_standin_answers_unauthenticated_requests_like_asterisk(standin: StandIn) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{standin.ari_url}/ari/asterisk/info") as r:
            assert r.status == 401
            assert await r.json() == {"message": "Authentication required"}
        async with http.post(
            f"{standin.ari_url}/ari/channels",
            headers=AUTH,
            params={"endpoint": "PJSIP/9999", "app": "hotline"},
        ) as r:
            assert r.status == 500 and await r.json() == {"error": "Allocation failed"}
        async with http.get(f"{standin.ari_url}/ari/channels/does-not-exist", headers=AUTH) as r:
            assert r.status == 404 and await r.json() == {"message": "Channel not found"}
