"""The caller's description, recorded while waiting, transcribed before an operator answers:
the stand-in writes the recording as Asterisk would (8 kHz WAV), the server reads and
decodes it, publishes the words and a draft, and the call's draft includes them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hotline.keys import STORE
from hotline.tickets.http import SERVICES
from hotline.tickets.schema import calls
from tests.conftest import add_seats, make_settings, ready_all, seats, wait_for


async def _events(srv: Any, kind: str) -> list[dict[str, Any]]:
    store = srv[STORE]
    return [
        json.loads(f[b"data"])
        for _, f in await store.r.xrange(store.k_events)
        if f[b"type"].decode() == kind
    ]


def _describing_settings(
    standin: Any, redis_url: str, model_path: str, tmp_path: Path, **over: Any
) -> Any:
    """Every waiting caller is invited to describe at once; recordings land in tmp_path."""
    standin.sim.recordings_dir = str(tmp_path)
    return make_settings(
        standin,
        redis_url,
        describe_after_s=0.2,
        describe_min_wait_s=0,
        announce_first_s=0,
        asr_enabled=True,
        asr_workers=1,
        asr_model=model_path,
        recordings_dir=str(tmp_path),
        **over,
    )


async def _describe(standin: Any, number: str, wav: Any, speak_s: float) -> tuple[Any, str]:
    """A caller who says ``wav`` while recorded, for ``speak_s``; the recording's name."""
    caller = standin.sim.incoming_call(number, "12345", speech=str(wav))
    name = f"describe-{caller.id}"
    await wait_for(lambda: name in standin.sim.live_recordings, what="recording the caller")
    await asyncio.sleep(speak_s)  # the caller speaks
    standin.sim.stop_recording(name)
    return caller, name


async def test_given_a_recorded_description_when_transcribed_then_desk_and_draft_get_it(
    standin, redis_url, server_factory, model_path, say, tmp_path: Path
) -> None:
    add_seats(standin, 1)
    settings = _describing_settings(standin, redis_url, model_path, tmp_path, operators=seats(1))
    srv = await server_factory(settings)
    wav = say("您好，请问有什么可以帮您。")
    caller, name = await _describe(standin, "13800000201", wav, 4.5)
    assert (tmp_path / f"{name}.wav").exists()
    found = await wait_for(
        lambda: _events(srv, "transcript.description"), what="description transcribed", timeout=30
    )
    assert found[0]["call_id"] == caller.id and found[0]["recording"] == name
    assert "请问" in found[0]["text"]
    assert "市民来电" in found[0]["draft"]["summary"]  # after 【紧急】 when urgent

    await ready_all(srv, ["1001"])
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    standin.sim.remote_hangup(caller.id)

    async def row() -> Any:
        async with srv[SERVICES].tickets.engine.connect() as conn:
            q = select(calls).where(calls.c.call_id == caller.id)
            return (await conn.execute(q)).first()

    stored = await wait_for(row, what="call record", timeout=20)
    segments = json.loads(stored.transcript)
    assert segments[0]["source"] == "description" and "请问" in segments[0]["text"]


async def test_given_a_described_wage_claim_while_waiting_then_the_labour_seat_gets_the_call(
    standin: Any, redis_url: str, server_factory: Any, model_path: str, say: Any, tmp_path: Path
) -> None:
    """12345 (the general skill): the draft of the caller's words finds wage arrears (the
    hrss department), which the default table sends to the labour skill; the call is
    re-queued with labour first, the general skill behind it, and the labour seat answers
    although the general one has been free longer."""
    add_seats(standin, 2)
    operators = [*seats(1, {"general": 3}), *seats(1, {"labour": 3}, first=1002)]
    settings = _describing_settings(standin, redis_url, model_path, tmp_path, operators=operators)
    srv = await server_factory(settings)
    wav = say("公司拖欠工资三个月了，老板不见了。")
    caller, _ = await _describe(standin, "13800000202", wav, 5.0)
    requeued = await wait_for(
        lambda: _events(srv, "call.requeued"), what="the call re-queued", timeout=30
    )
    description = (await _events(srv, "transcript.description"))[0]
    assert description["draft"]["department"] == "hrss"
    assert requeued[0]["call_id"] == caller.id and requeued[0]["reason"] == ["department"]
    assert (requeued[0]["old_skill"], requeued[0]["skills"]) == ("general", ["labour", "general"])
    task = await srv[STORE].get_task(caller.id)
    assert task is not None and task.skills == ("labour", "general") and task.queue == "general"

    await ready_all(srv, ["1001", "1002"])
    await asyncio.wait_for(caller.bridged_with_agent.wait(), 5)
    answered = await wait_for(lambda: _events(srv, "call.answered"), what="answered")
    assert answered[0]["call_id"] == caller.id and answered[0]["operator"] == "1002"
    standin.sim.remote_hangup(caller.id)
