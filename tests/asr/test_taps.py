"""Speech taps on a real-Asterisk timing: a snoop channel enters Stasis after the REST reply,
so a tap is bridged only once both its channels are in Stasis."""

from __future__ import annotations

import asyncio

from tests.asr.conftest import MODEL
from tests.conftest import add_seats, counter, make_settings, ready_all, seats, wait_for


async def test_speech_taps_wait_for_their_channels_to_enter_stasis(
    standin, redis_url, server_factory, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    add_seats(standin, 1)
    standin.sim.snoop_stasis_delay_s = 0.2  # well after the REST reply
    settings = make_settings(
        standin, redis_url, operators=seats(1), asr_enabled=True, asr_model=str(MODEL)
    )
    srv = await server_factory(settings)
    await ready_all(srv, ["1001"])
    caller = standin.sim.incoming_call("13800000304")
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 10)
    await wait_for(
        lambda: counter(srv, "hotline_asr_streams_total", outcome="live") == 2,
        timeout=15,
        what="both sides live",
    )
    assert counter(srv, "hotline_asr_streams_total", outcome="failed") == 0
    taps = [c for c in standin.sim.channels.values() if c.kind in ("snoop", "media")]
    assert len(taps) == 4 and all(c.bridge for c in taps)
