"""A call through the stand-in with both sides speaking: snoop + externalMedia → RTP over
real UDP → receiver → Vosk workers → transcript events → the call record and its draft."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from sqlalchemy import select

from hotline.keys import METRICS, STORE
from hotline.tickets.http import SERVICES
from hotline.tickets.models import Role
from hotline.tickets.schema import calls
from tests.conftest import add_seats, make_settings, ready_all, seats, wait_for


async def _events(srv: Any, kind: str) -> list[dict[str, Any]]:
    store = srv[STORE]
    out = []
    for _, fields in await store.r.xrange(store.k_events):
        if fields[b"type"].decode() == kind:
            out.append(json.loads(fields[b"data"]))
    return out


def _call_row(srv: Any, call_id: str) -> Any:
    async def check() -> Any:
        async with srv[SERVICES].tickets.engine.connect() as conn:
            r = (await conn.execute(select(calls).where(calls.c.call_id == call_id))).first()
        return r

    return check


async def test_given_both_sides_speaking_when_the_call_ends_then_transcript_and_draft_are_kept(
    standin, redis_url, server_factory, model_path, say
) -> None:
    caller_wav = say("我想咨询一下社保卡怎么办理。我想咨询一下社保卡怎么办理。")
    operator_wav = say("您好，请问有什么可以帮您。")
    add_seats(standin, 1, speech=str(operator_wav))
    settings = make_settings(
        standin,
        redis_url,
        operators=seats(1),
        asr_enabled=True,
        asr_workers=2,  # one stream each: steady speech on both sides from the first second
        asr_model=model_path,
    )
    srv = await server_factory(settings)
    await ready_all(srv, ["1001"])
    _, token = await srv[SERVICES].directory.add_user("1001", Role.OPERATOR)  # seat 1001's own
    auth = {"Authorization": f"Bearer {token}"}
    http = aiohttp.ClientSession(headers=auth)
    pushed: list[tuple[str, dict[str, Any]]] = []
    desk = asyncio.create_task(_listen(http, f"{srv.url}/api/events?types=transcript.", pushed))
    await wait_for(lambda: desk.done() or _connected(pushed), what="event stream open")
    caller = standin.sim.incoming_call("13800138000", "12345", speech=str(caller_wav))
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)

    finals = await wait_for(
        lambda: _events(srv, "transcript.final"), what="final transcript events", timeout=30
    )
    await wait_for(lambda: _has_side(srv, "caller", "咨询"), what="the caller's words", timeout=30)
    await wait_for(lambda: _has_side(srv, "operator", "请问"), what="operator's words", timeout=30)
    partials = await _events(srv, "transcript.partial")
    assert partials, "partial results reach the desk before the finals"
    for e in finals + partials:
        assert " " not in e["text"] and e["call_id"] == caller.id and e["operator_id"] == "1001"
        assert 0 <= e["start"] <= e["end"] < 60
    taps = [c for c in standin.sim.channels.values() if c.kind in ("snoop", "media")]
    assert len(taps) == 4, "a snoop and an externalMedia channel per side"
    async with http.get(f"{srv.url}/api/calls/{caller.id}/transcript") as resp:
        so_far = await resp.json()
    assert resp.status == 200 and so_far["status"] == "live" and so_far["segments"]
    kinds = {k for k, _ in pushed}
    assert {"transcript.partial", "transcript.final"} <= kinds, "the desk got them pushed"
    assert all(e["call_id"] == caller.id for k, e in pushed if k.startswith("transcript."))

    standin.sim.remote_hangup(caller.id)
    row = await wait_for(_call_row(srv, caller.id), what="call record", timeout=20)
    assert row.transcript_status == "done"
    segments = json.loads(row.transcript)
    assert {s["side"] for s in segments} == {"caller", "operator"}
    assert any("咨询" in s["text"] for s in segments if s["side"] == "caller")
    draft = json.loads(row.draft)
    assert draft["kind"] == "consultation"
    assert draft["summary"].startswith("市民来电")
    done = await _events(srv, "transcript.done")
    assert done and done[0]["status"] == "done" and done[0]["draft"]["kind"] == "consultation"
    await wait_for(lambda: any(k == "transcript.done" for k, _ in pushed), what="done pushed")
    async with http.get(f"{srv.url}/api/calls/{caller.id}/transcript") as resp:
        stored = await resp.json()
    assert stored["status"] == "done" and stored["draft"]["kind"] == "consultation"
    async with http.get(f"{srv.url}/api/events", headers={"Authorization": "Bearer nope"}) as r:
        assert r.status == 401
    desk.cancel()
    await http.close()
    await wait_for(
        lambda: not [c for c in standin.sim.channels.values() if c.kind in ("snoop", "media")],
        what="taps hung up",
    )
    assert not standin.sim.bridges, "the taps' bridges are destroyed with the call"
    m = srv[METRICS].registry
    assert (m.get_sample_value("hotline_asr_rtp_packets_total") or 0) > 100
    assert m.get_sample_value("hotline_asr_streams_total", {"outcome": "live"}) == 2


async def _has_side(srv: Any, side: str, word: str) -> bool:
    return any(
        e["side"] == side and word in e["text"] for e in await _events(srv, "transcript.final")
    )


async def _listen(
    http: aiohttp.ClientSession, url: str, out: list[tuple[str, dict[str, Any]]]
) -> None:
    """A desk's EventSource: parse the Server-Sent Events into (type, data)."""
    async with http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        kind = ""
        async for raw in resp.content:
            line = raw.decode().rstrip("\n")
            if line == ": connected":
                out.append(("connected", {}))
            elif line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                out.append((kind, json.loads(line[6:])))


def _connected(pushed: list[tuple[str, dict[str, Any]]]) -> bool:
    return any(k == "connected" for k, _ in pushed)


async def test_given_no_usable_model_when_calls_come_then_they_connect_without_transcripts(
    standin, redis_url, server_factory, tmp_path, caplog
) -> None:
    (tmp_path / "am").mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"not a model")
    add_seats(standin, 1)
    settings = make_settings(
        standin, redis_url, operators=seats(1), asr_enabled=True, asr_model=str(tmp_path)
    )
    srv = await server_factory(settings)
    assert "speech recognition off" in caplog.text
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800138001", "12345")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    assert not [c for c in standin.sim.channels.values() if c.kind in ("snoop", "media")]
    standin.sim.remote_hangup(caller.id)
    row = await wait_for(_call_row(srv, caller.id), what="call record", timeout=10)
    assert row.outcome == "answered" and row.transcript is None
