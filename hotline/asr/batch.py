"""Post-call transcription of recordings with the same workers as live calls.

``hotline transcribe FILES…`` writes ``<file>.transcript.json`` beside each recording and
skips recordings that already have one, so an interrupted run resumes where it stopped.
``hotline transcribe --from DAY --to DAY`` (or ``--pending``) takes answered calls from the
database whose transcript is missing, pending or partial, and stores the transcript and the
ticket draft on the call record. A stereo recording is read as caller (left) and operator
(right); a mono one as the whole call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import wave
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ..tickets import schema as t
from .draft import DraftRules, make_draft
from .engine import EnginePool
from .transcript import CallTranscript, Segment, draft_json

log = logging.getLogger(__name__)

CHUNK_S = 0.2


class BadRecording(ValueError):
    """A recording we cannot read as 16-bit PCM WAV; the message says why."""


@dataclass(frozen=True)
class Audio:
    rate: int
    sides: dict[str, bytes]  # side → 16-bit little-endian mono PCM

    @property
    def seconds(self) -> float:
        return max(len(p) for p in self.sides.values()) / 2 / self.rate


def read_recording(path: Path) -> Audio:
    try:
        with wave.open(str(path), "rb") as w:
            rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise BadRecording(f"{path}: not a PCM WAV file ({exc})") from exc
    if width != 2:
        raise BadRecording(f"{path}: {8 * width}-bit samples; 16-bit PCM is needed")
    if not 8000 <= rate <= 48000:
        raise BadRecording(f"{path}: sample rate {rate} Hz is outside 8-48 kHz")
    if channels == 1:
        return Audio(rate, {"call": frames})
    if channels == 2:
        both = np.frombuffer(frames, "<i2").reshape(-1, 2)
        return Audio(rate, {"caller": both[:, 0].tobytes(), "operator": both[:, 1].tobytes()})
    raise BadRecording(f"{path}: {channels} channels; mono or stereo is needed")


async def transcribe(pool: EnginePool, key: str, audio: Audio) -> CallTranscript:
    """Decode each side of a recording through the pool, paced by the workers."""
    out = CallTranscript(key, status="done")

    async def side(name: str, pcm: bytes) -> None:
        results: list[dict[str, Any]] = []
        stream = f"{key}/{name}"
        await pool.open_when_free(stream, results.append, rate=audio.rate)
        step = int(audio.rate * CHUNK_S) * 2
        try:
            for i in range(0, len(pcm), step):
                await pool.feed_paced(stream, pcm[i : i + step])
        except asyncio.CancelledError:
            pool.abandon(stream)  # a timeout above us: free the worker's slot
            raise
        closing = await pool.close(stream, timeout=max(30.0, audio.seconds))
        if closing is None or closing.get("type") != "closed":
            out.status = "partial"
        for r in results:
            if r["type"] == "final":
                out.add(Segment(name, r["start"], r["end"], r["text"], source="post"))

    await asyncio.gather(*(side(n, p) for n, p in audio.sides.items()))
    return out


def output_path(recording: Path) -> Path:
    return recording.with_name(recording.name + ".transcript.json")


async def transcribe_files(
    pool: EnginePool,
    files: list[Path],
    rules: DraftRules,
    progress: Callable[[Path], None],
    force: bool = False,
    parallel: int = 2,
) -> dict[str, int]:
    """Transcribe each file; ``progress(path)`` once per file, done, skipped or failed."""
    counts = {"done": 0, "skipped": 0, "failed": 0}
    sem = asyncio.Semaphore(parallel)

    async def one(path: Path) -> None:
        target = output_path(path)
        if target.exists() and not force:
            counts["skipped"] += 1
            progress(path)
            return
        async with sem:
            try:
                audio = await asyncio.to_thread(read_recording, path)
                tr = await transcribe(pool, path.name, audio)
            except (BadRecording, OSError) as exc:
                counts["failed"] += 1
                log.error("%s", exc)
                progress(path)
                return
        draft = make_draft(tr.utterances(), rules) if tr.segments else None
        body = {
            "recording": str(path),
            "seconds": round(audio.seconds, 2),
            "status": tr.status,
            "segments": json.loads(tr.to_json()),
            "draft": draft_json(draft) if draft else None,
        }
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(body, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(target)
        counts["done"] += 1
        progress(path)

    await asyncio.gather(*(one(f) for f in files))
    return counts


async def pending_calls(
    engine: AsyncEngine, since: date | None, until: date | None, limit: int = 100_000
) -> list[tuple[str, str]]:
    """(call id, recording name) of answered calls whose transcript is not done."""
    c = t.calls.c
    not_done = or_(c.transcript_status.is_(None), c.transcript_status.in_(("pending", "partial")))
    cond = [c.recording.is_not(None), c.answered_at.is_not(None), not_done]
    if since is not None:
        cond.append(c.started_at >= datetime.combine(since, datetime.min.time(), UTC))
    if until is not None:
        end = datetime.combine(until + timedelta(days=1), datetime.min.time(), UTC)
        cond.append(c.started_at < end)
    q = select(c.call_id, c.recording).where(and_(*cond)).order_by(c.started_at).limit(limit)
    async with engine.connect() as conn:
        return [(r.call_id, r.recording) for r in await conn.execute(q)]


async def transcribe_calls(
    pool: EnginePool,
    engine: AsyncEngine,
    calls: list[tuple[str, str]],
    folder: Path,
    rules: DraftRules,
    progress: Callable[[float], None],
    parallel: int = 2,
) -> dict[str, int]:
    counts = {"done": 0, "missing": 0, "failed": 0}
    sem = asyncio.Semaphore(parallel)

    async def one(call_id: str, recording: str) -> None:
        path = folder / f"{recording}.wav"
        async with sem:
            try:
                audio = await asyncio.to_thread(read_recording, path)
            except FileNotFoundError:
                counts["missing"] += 1
                log.warning("call %s: recording %s not found", call_id, path)
                progress(0.0)
                return
            except (BadRecording, OSError) as exc:
                counts["failed"] += 1
                log.error("call %s: %s", call_id, exc)
                progress(0.0)
                return
            tr = await transcribe(pool, call_id, audio)
        draft = make_draft(tr.utterances(), rules) if tr.segments else None
        values = {
            "transcript": tr.to_json(),
            "transcript_status": tr.status,
            "draft": json.dumps(draft_json(draft), ensure_ascii=False) if draft else None,
        }
        async with engine.begin() as conn:
            await conn.execute(update(t.calls).where(t.calls.c.call_id == call_id).values(values))
        counts["done"] += 1
        progress(audio.seconds)

    await asyncio.gather(*(one(cid, rec) for cid, rec in calls))
    return counts
