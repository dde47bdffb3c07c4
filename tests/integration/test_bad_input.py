"""Bad input of every kind is logged, counted and survived."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from hotline.keys import CONTROLLER, METRICS
from tests.conftest import ADMIN, add_seats, make_settings, ready_all, seats, wait_for


def sample(srv, name: str, **labels: str) -> float:  # type: ignore[no-untyped-def]
    return float(srv[METRICS].registry.get_sample_value(name, labels) or 0.0)


async def send_frames(standin, frames: list[str]) -> None:  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as http:
        for f in frames:
            await http.post(f"{standin.ari_url}/_sim/send_frame", data=f)


async def test_malformed_and_unknown_frames_are_counted_and_calls_still_flow(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    await ready_all(srv, ["1001"])
    await send_frames(
        standin,
        [
            "{not json",
            "[1,2,3]",
            '{"type": "StasisStart", "channel": 5}',
            json.dumps(
                {
                    "type": "ChannelTalkingStarted",
                    "timestamp": "x",
                    "application": "hotline",
                    "channel": {"id": "zzz", "name": "PJSIP/x", "state": "Up"},
                }
            ),
            json.dumps(
                {
                    "type": "ChannelDestroyed",
                    "timestamp": "x",
                    "application": "hotline",
                    "cause": 16,
                    "cause_txt": "Normal Clearing",
                    "channel": {"id": "no-such-channel", "name": "PJSIP/x-1", "state": "Up"},
                }
            ),
            json.dumps(
                {
                    "type": "StasisStart",
                    "args": ["agent", "no-such-call"],
                    "channel": {"id": "stray-agent", "name": "PJSIP/1001-9", "state": "Up"},
                }
            ),
        ],
    )
    await wait_for(
        lambda: sample(srv, "hotline_ari_bad_frames_total", reason="json") == 1,
        what="json error counted",
    )
    assert sample(srv, "hotline_ari_bad_frames_total", reason="schema") == 2
    assert sample(srv, "hotline_ari_events_total", type="ChannelTalkingStarted") == 1
    assert sample(srv, "hotline_unknown_channel_events_total", type="ChannelDestroyed") == 1
    caller = standin.sim.incoming_call("13800138000")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)


async def test_dtmf_flood_does_not_disturb_the_queue(standin, redis_url, server_factory) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    caller = standin.sim.incoming_call("13800138000")
    await wait_for(lambda: caller.moh, what="music on hold")
    for _ in range(500):
        standin.sim.send_dtmf(caller.id, "9")
    await ready_all(srv, ["1001"])
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    runner = srv[CONTROLLER].calls[caller.id]
    assert len(runner.call.digits) <= 32


@pytest.mark.parametrize(
    ("body", "status", "error_id"),
    [
        ("not json", 400, "bad-request"),
        ("[]", 400, "bad-request"),
        ('{"state": "flying"}', 400, "bad-request"),
        ('{"state": "ready", "extend_s": "lots"}', 400, "bad-request"),
        ('{"state": "wrap_up", "extend_s": 1e300}', 400, "bad-request"),
        ('{"state": "wrap_up", "extend_s": Infinity}', 400, "bad-request"),
        ('{"state": "reserved"}', 409, "illegal-operator-transition"),
        ('{"state": "on_call"}', 409, "illegal-operator-transition"),
    ],
)
async def test_hostile_agent_api_input_gets_clear_errors(
    standin, redis_url, server_factory, body: str, status: int, error_id: str
) -> None:  # type: ignore[no-untyped-def]
    srv = await server_factory(make_settings(standin, redis_url))
    async with aiohttp.ClientSession(headers=ADMIN) as http:
        async with http.post(f"{srv.url}/api/agents/1001/state", data=body) as r:
            assert r.status == status
            assert (await r.json())["error_id"] == error_id
        async with http.post(f"{srv.url}/api/agents/<script>/state", json={"state": "ready"}) as r:
            assert r.status == 404
            assert r.content_type == "application/json"
