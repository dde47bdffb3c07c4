"""What a real Asterisk 22 does that broke the server, reproduced with the stand-in.

Each test here failed on the code before the fix: Asterisk runs a channel's commands in
turn (a bridge add waits behind a playback or a recording), a snoop channel enters Stasis
after the REST reply, a prompt with no file in the channel's language fails, and calls handed
back to the dialplan were counted nowhere.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hotline.config import LineConfig, OperatorSeat
from hotline.keys import CONTROLLER
from hotline.simulator.media import SoundCatalogue, say_files
from hotline.simulator.model import SimAsterisk, SimError
from tests.conftest import add_seats, counter, make_settings, ready_all, seats, wait_for

# -- the stand-in behaves as Asterisk does -----------------------------------------------------


async def test_a_bridge_add_waits_behind_a_playback_on_the_same_channel(standin) -> None:  # type: ignore[no-untyped-def]
    sim: SimAsterisk = standin.sim
    listen(sim)
    sim.sounds["hotline/queue-thanks"] = 0.6
    caller = sim.incoming_call("13800000001")
    sim.set_var(caller, "CHANNEL(language)", "zh")
    bridge = sim.create_bridge("b1", "mixing", "b1")
    sim.play(caller.id, "sound:hotline/queue-thanks", "pb1")
    t0 = time.monotonic()
    await sim.add_to_bridge(bridge.id, [caller.id])
    waited = time.monotonic() - t0
    assert waited >= 0.5, f"the add ran during the playback ({waited:.3f}s)"
    assert caller.bridge == bridge.id


async def test_stopping_the_playback_lets_the_bridge_add_through_at_once(standin) -> None:  # type: ignore[no-untyped-def]
    sim: SimAsterisk = standin.sim
    listen(sim)
    sim.sounds["hotline/queue-thanks"] = 30.0
    caller = sim.incoming_call("13800000001")
    sim.set_var(caller, "CHANNEL(language)", "zh")
    bridge = sim.create_bridge("b1", "mixing", "b1")
    sim.play(caller.id, "sound:hotline/queue-thanks", "pb1")
    await asyncio.sleep(0.01)
    sim.stop_playback("pb1")
    await asyncio.wait_for(sim.add_to_bridge(bridge.id, [caller.id]), 1.0)


async def test_a_missing_sound_fails_the_playback_in_the_channels_language(standin) -> None:  # type: ignore[no-untyped-def]
    sim: SimAsterisk = standin.sim
    events = listen(sim)
    caller = sim.incoming_call("13800000001")
    assert caller.language == "en"  # the endpoint's language, not the hotline's
    sim.play(caller.id, "sound:hotline/welcome", "pb-en")
    finished = await _next_event(events, "PlaybackFinished")
    assert finished["playback"]["state"] == "failed"
    assert caller.missing_sounds == ["sound:hotline/welcome"]
    sim.set_var(caller, "CHANNEL(language)", "zh")
    sim.play(caller.id, "sound:hotline/welcome", "pb-zh")
    finished = await _next_event(events, "PlaybackFinished")
    assert finished["playback"]["state"] == "done"
    assert "sound:hotline/welcome" in caller.heard


async def test_a_recording_with_a_beep_and_no_beep_sound_records_nothing() -> None:
    sim = SimAsterisk(catalogue=SoundCatalogue(set()), default_sound_s=0.01)
    events = listen(sim)
    caller = sim.incoming_call("13800000001")
    sim.record_channel(caller.id, "r1", "wav", 30, "#", beep=True)
    finished = await _next_event(events, "RecordingFinished")
    assert finished["recording"]["duration"] == 0 and caller.missing_sounds == ["sound:beep"]


async def test_a_snoop_channel_enters_stasis_after_the_rest_reply(standin) -> None:  # type: ignore[no-untyped-def]
    sim: SimAsterisk = standin.sim
    listen(sim)
    caller = sim.incoming_call("13800000001")
    snoop = sim.snoop(caller.id, "snoop-x", "in", "asr,x")
    bridge = sim.create_bridge("tap", "mixing", "tap")
    try:
        await sim.add_to_bridge(bridge.id, [snoop.id])
    except SimError as exc:
        assert exc.status == 422
    else:
        raise AssertionError("a snoop channel was bridged before it entered Stasis")
    await wait_for(lambda: snoop.in_stasis, what="snoop in Stasis")
    await sim.add_to_bridge(bridge.id, [snoop.id])


def test_numbers_are_said_with_the_mandarin_digit_files() -> None:
    assert say_files("number:105") == ["digits/1", "digits/hundred", "digits/0", "digits/5"]
    assert say_files("number:12") == ["digits/10", "digits/2"]
    assert say_files("number:30000") == ["digits/3", "digits/wan"]
    assert say_files("digits:2026") == ["digits/2", "digits/0", "digits/2", "digits/6"]


def listen(sim: SimAsterisk) -> asyncio.Queue[Any]:
    """An application connected to the stand-in (what the websocket would be sent)."""
    events: asyncio.Queue[Any] = asyncio.Queue()
    sim.ws_clients.add(events)
    return events


async def _next_event(events: asyncio.Queue[Any], kind: str) -> dict[str, Any]:
    while True:
        event = await asyncio.wait_for(events.get(), 5)
        if event and event.get("type") == kind:
            return dict(event)


# -- the server on top of it ------------------------------------------------------------------


async def test_an_operator_who_answers_during_the_description_recording_is_bridged(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(
        make_settings(
            standin,
            redis_url,
            operators=seats(1),
            describe_after_s=0.2,
            describe_min_wait_s=0,
            describe_max_s=30.0,
            announce_first_s=0,
        )
    )
    caller = standin.sim.incoming_call("13800000300")
    name = f"describe-{caller.id}"
    await wait_for(lambda: name in standin.sim.live_recordings, what="recording the caller")
    await ready_all(srv, ["1001"])
    t0 = time.monotonic()
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 4)
    assert time.monotonic() - t0 < 2.0
    assert standin.sim.stats.fallback_calls == 0
    assert name in standin.sim.stored_recordings  # stopped, not left running
    runner = srv[CONTROLLER].calls[caller.id]
    assert runner.call.state.value == "connected"
    assert [c for c in standin.sim.channels.values() if c.kind == "agent"]  # not hung up


async def test_an_operator_who_answers_during_an_announcement_is_bridged(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    standin.sim.sounds["hotline/queue-thanks"] = 30.0
    standin.sim.sounds["hotline/queue-position"] = 30.0
    srv = await server_factory(
        make_settings(
            standin,
            redis_url,
            operators=seats(1),
            announce_first_s=0.2,
            announce_every_s=60,
            describe_after_s=0,
        )
    )
    caller = standin.sim.incoming_call("13800000301")
    await wait_for(
        lambda: any(m.startswith("sound:hotline/queue-") for m in caller.heard),
        what="announcement playing",
    )
    await ready_all(srv, ["1001"])
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 4)
    assert standin.sim.stats.fallback_calls == 0


async def test_the_server_sets_the_lines_language_so_prompts_play(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    caller = standin.sim.incoming_call("13800000302")
    await wait_for(lambda: "sound:hotline/welcome" in caller.heard, what="greeting heard")
    assert caller.language == "zh" and caller.missing_sounds == []
    assert counter(srv, "hotline_playbacks_failed_total") == 0


async def test_a_failed_prompt_is_counted_and_the_caller_still_reaches_the_queue(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    # A line whose language has no prompts recorded: every prompt fails.
    lines = [LineConfig(number="12345", skill="general", language="yue")]
    seat = OperatorSeat(id="1001", endpoint="PJSIP/1001", languages=["yue"])
    srv = await server_factory(make_settings(standin, redis_url, operators=[seat], lines=lines))
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800000303")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    await wait_for(
        lambda: counter(srv, "hotline_playbacks_failed_total") == 1, what="failure counted"
    )


async def test_calls_handed_back_to_the_dialplan_are_counted_by_queue_and_line(
    standin, redis_url, server_factory
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    srv = await server_factory(make_settings(standin, redis_url, operators=seats(1)))
    caller = standin.sim.incoming_call("13800000305")
    await wait_for(lambda: caller.id in srv[CONTROLLER].calls, what="call taken")
    runner = srv[CONTROLLER].calls[caller.id]
    await wait_for(lambda: runner.call.state.value == "queued", what="queued")
    await runner.fallback("error")
    assert counter(srv, "hotline_calls_fallback_total", queue="general", line="12345") == 1
