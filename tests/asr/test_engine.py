"""The worker pool with real worker processes and the real model: sharing modes,
admission, back-pressure and a worker that dies."""

from __future__ import annotations

import asyncio
import os
import signal
import wave
from pathlib import Path
from typing import Any

import pytest

from hotline.asr.engine import EnginePool, PoolConfig
from tests.conftest import wait_for


def pcm(path: Path) -> bytes:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes())


@pytest.fixture
async def make_pool(model_path: str) -> Any:
    pools: list[EnginePool] = []

    async def make(**kw: Any) -> EnginePool:
        pool = EnginePool(PoolConfig(model_path, **kw))
        await pool.start()
        pools.append(pool)
        return pool

    yield make
    for p in pools:
        await p.stop()


@pytest.mark.parametrize("share", ["fork", "none"])
async def test_given_either_sharing_mode_when_a_recording_is_fed_then_it_is_transcribed(
    make_pool: Any, say: Any, share: str
) -> None:
    pool = await make_pool(workers=1, share=share)
    audio = b"\0" * 16000 + pcm(say("我想咨询一下社保卡怎么办理。")) + b"\0" * 32000
    results: list[dict[str, Any]] = []
    assert pool.open("rec", results.append, batch=True)
    for i in range(0, len(audio), 3200):
        assert await pool.feed_paced("rec", audio[i : i + 3200])
    closing = await pool.close("rec")
    assert closing is not None and closing["type"] == "closed"
    assert closing["audio_s"] == pytest.approx(len(audio) / 32000, abs=0.03)
    assert "咨询" in "".join(r["text"] for r in results if r["type"] == "final")


async def test_given_every_worker_full_when_another_stream_opens_then_it_is_refused(
    make_pool: Any,
) -> None:
    pool = await make_pool(workers=2, max_streams=2)
    assert [pool.open(f"s{i}", lambda r: None) for i in range(5)] == [True] * 4 + [False]
    assert pool.capacity() == 0 and pool.refused == 1
    await pool.close("s0")
    assert pool.capacity() == 1 and pool.open("s5", lambda r: None)


async def test_given_a_worker_far_behind_when_fed_then_its_newest_stream_is_cut_off(
    make_pool: Any, say: Any
) -> None:
    pool = await make_pool(workers=1, max_streams=4, max_backlog_s=1.0)
    speech = pcm(say("公司拖欠工资三个月了，老板不见了。")) * 4
    seen: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
    assert pool.open("old", seen["old"].append)
    assert pool.open("new", seen["new"].append)
    for i in range(0, len(speech), 3200):  # far faster than real time
        pool.feed("old", speech[i : i + 3200])
        pool.feed("new", speech[i : i + 3200])
    assert pool.streams["new"].degraded == "overloaded"
    assert not pool.streams["old"].degraded, "one stream is cut, then the worker may catch up"
    assert any(r["type"] == "degraded" for r in seen["new"])
    assert not pool.feed("new", b"\0" * 640), "a degraded stream takes no more audio"
    assert await pool.close("new") is None


async def test_given_a_worker_killed_mid_stream_then_its_streams_degrade_and_it_is_replaced(
    make_pool: Any, say: Any
) -> None:
    pool = await make_pool(workers=1, share="fork")
    seen: list[dict[str, Any]] = []
    assert pool.open("a", seen.append)
    victim = pool.workers[0]
    os.kill(victim.proc.pid, signal.SIGKILL)  # the host; its worker exits on the socket
    children = [int(p) for p in _children(victim.proc.pid)]
    for pid in children:
        os.kill(pid, signal.SIGKILL)
    await wait_for(lambda: any(r["type"] == "degraded" for r in seen), what="degraded", timeout=10)
    await wait_for(lambda: pool.workers[0] is not victim, what="replacement", timeout=20)
    results: list[dict[str, Any]] = []
    assert pool.open("b", results.append, batch=True)
    audio = b"\0" * 16000 + pcm(say("您好，请问有什么可以帮您。")) + b"\0" * 32000
    for i in range(0, len(audio), 3200):
        await pool.feed_paced("b", audio[i : i + 3200])
    assert (await pool.close("b") or {}).get("type") == "closed"
    assert any(r["type"] == "final" for r in results)


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []


async def test_given_a_transcription_cancelled_midway_then_its_worker_slot_is_freed(
    make_pool: Any, say: Any
) -> None:
    from hotline.asr.batch import Audio, transcribe

    pool = await make_pool(workers=1, max_streams=1)
    long = pcm(say("公司拖欠工资三个月了，老板不见了。")) * 20
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(transcribe(pool, "rec", Audio(16000, {"call": long})), 0.5)
    assert pool.streams == {} and pool.capacity() == 1
    assert pool.open("next", lambda r: None), "the slot is usable again"
