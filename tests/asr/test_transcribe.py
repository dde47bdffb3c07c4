"""Post-call transcription: the ``hotline transcribe`` command on files (a real process),
and pending calls in the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from hotline.asr.batch import pending_calls, transcribe_calls
from hotline.asr.draft import DraftRules
from hotline.asr.engine import EnginePool, PoolConfig
from hotline.telephony.records import CallSummary
from hotline.tickets.calls import CallLog
from hotline.tickets.schema import calls
from tests.conftest import make_ticket_env


def pcm(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), "<i2")


def write(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return path


def stereo(caller: np.ndarray, operator: np.ndarray) -> np.ndarray:
    pad = 16000
    n = pad + len(operator) + len(caller) + 2 * pad
    left, right = np.zeros(n, np.int16), np.zeros(n, np.int16)
    right[pad : pad + len(operator)] = operator
    left[2 * pad + len(operator) : 2 * pad + len(operator) + len(caller)] = caller
    return np.stack([left, right], axis=1).reshape(-1)


def run_cli(*args: str, data_dir: Path, model: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, HOTLINE_DATA_DIR=str(data_dir), HOTLINE_ASR_MODEL=model, HOTLINE_ASR_WORKERS="1"
    )
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", "transcribe", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_given_recordings_when_transcribed_twice_then_the_second_run_skips_them(
    tmp_path: Path, model_path: str, say: Any
) -> None:
    folder = tmp_path / "rec"
    folder.mkdir()
    caller = pcm(say("家里闻到很浓的煤气味，怎么办。"))
    operator = pcm(say("您好，请问有什么可以帮您。"))
    write(folder / "two-sides.wav", stereo(caller, operator), 16000, channels=2)
    write(folder / "mono-8k.wav", pcm(say("我想咨询一下社保卡怎么办理。", rate=8000)), 8000)
    (folder / "junk.wav").write_bytes(b"this is not audio")

    first = run_cli(str(folder), data_dir=tmp_path, model=model_path)
    assert first.returncode == 1, first.stderr  # the junk file failed, the rest were done
    assert "done 2, skipped 0, failed 1" in first.stdout
    assert "junk.wav: not a PCM WAV file" in first.stderr
    assert "transcribe" in first.stderr  # tqdm's progress bar
    two = json.loads((folder / "two-sides.wav.transcript.json").read_text())
    sides = {s["side"] for s in two["segments"]}
    assert sides == {"caller", "operator"} and two["status"] == "done"
    said = [s for s in two["segments"] if s["side"] == "caller"]
    assert said[0]["start"] > min(s["start"] for s in two["segments"] if s["side"] == "operator")
    assert "家里" in said[0]["text"]
    assert "市民来电" in two["draft"]["summary"]  # after 【紧急】 when urgent
    mono = json.loads((folder / "mono-8k.wav.transcript.json").read_text())
    assert {s["side"] for s in mono["segments"]} == {"call"}

    again = run_cli(str(folder), data_dir=tmp_path, model=model_path)
    assert "done 0, skipped 2, failed 1" in again.stdout


async def test_given_pending_calls_when_transcribed_then_rows_get_transcript_and_draft(
    tmp_path: Path, model_path: str, say: Any
) -> None:
    env = await make_ticket_env(f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite3'}")
    write(tmp_path / "call-a.wav", pcm(say("公司拖欠工资三个月了，老板不见了。")), 16000)
    log = CallLog(env.engine)
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC).timestamp()
    for cid, rec, status in [
        ("a", "call-a", "pending"),
        ("b", "call-b", "pending"),
        ("c", "call-c", "done"),
    ]:
        log.put(
            CallSummary(
                cid,
                "12345",
                "138",
                now,
                now + 60,
                now + 5,
                "1001",
                "answered",
                recording=rec,
                transcript_status=status,
            )
        )
    await log.flush()
    todo = await pending_calls(env.engine, None, None)
    assert sorted(todo) == [("a", "call-a"), ("b", "call-b")]
    pool = EnginePool(PoolConfig(model_path, workers=1))
    await pool.start()
    try:
        counts = await transcribe_calls(
            pool, env.engine, todo, tmp_path, DraftRules.load(), lambda s: None
        )
    finally:
        await pool.stop()
    assert counts == {"done": 1, "missing": 1, "failed": 0}
    async with env.engine.connect() as conn:
        row = (await conn.execute(select(calls).where(calls.c.call_id == "a"))).one()
    assert row.transcript_status == "done"
    assert json.loads(row.transcript)[0]["source"] == "post"
    assert "老板" in row.transcript
    assert json.loads(row.draft)["kind"]
    assert await pending_calls(env.engine, None, None) == [("b", "call-b")]
    await env.engine.dispose()
