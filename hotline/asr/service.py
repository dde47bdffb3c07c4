"""Builds the live speech-recognition parts from the settings (used by the composition root
and by ``hotline transcribe``)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Settings
from ..telephony.records import CallSummary
from .draft import DraftRules
from .engine import EnginePool, PoolConfig
from .model import Decoding, model_dir
from .receiver import RtpReceiver
from .tap import LiveTranscriber, OnDescriptionDraft, Publish
from .transcript import draft_json

log = logging.getLogger(__name__)


def draft_folder(settings: Settings) -> Path:
    """Where a deployment keeps its own draft data (``hotline draft train`` and ``hotline
    gazetteer import`` write there); a file it lacks comes from the shipped data."""
    return Path(settings.data_dir) / "draft"


def draft_rules(settings: Settings) -> DraftRules:
    folder = draft_folder(settings)
    rules = DraftRules.load(folder) if folder.is_dir() else DraftRules.load()
    for note in rules.notes:
        log.warning("ticket drafts: %s", note)
    return rules


def pool_config(settings: Settings, workers: int | None = None) -> PoolConfig:
    decoding = Decoding(settings.asr_beam, settings.asr_max_active, settings.asr_lattice_beam)
    path = model_dir(settings.asr_model, decoding, Path(settings.data_dir) / "asr-models")
    return PoolConfig(
        path,
        workers=workers or settings.asr_workers,
        share="fork" if settings.asr_share_model else "none",
        max_streams=settings.asr_max_streams,
        max_backlog_s=settings.asr_max_backlog_s,
    )


@dataclass
class Live:
    pool: EnginePool
    receiver: RtpReceiver
    transcriber: LiveTranscriber

    async def stop(self) -> None:
        await self.transcriber.close()
        self.receiver.stop()
        await self.pool.stop()


async def start(
    settings: Settings,
    ari: Any,
    publish: Publish,
    metrics: Any,
    on_description_draft: OnDescriptionDraft | None = None,
) -> Live:
    pool = EnginePool(pool_config(settings), metrics)
    await pool.start()
    receiver = RtpReceiver(metrics, idle_s=settings.asr_idle_s)
    try:
        port = await receiver.start(settings.asr_rtp_host, settings.asr_rtp_port)
    except OSError:
        await pool.stop()
        raise
    advertise = settings.asr_rtp_advertise or f"{settings.asr_rtp_host}:{port}"
    recordings = Path(settings.recordings_dir) if settings.recordings_dir else None
    transcriber = LiveTranscriber(
        ari,
        pool,
        receiver,
        advertise,
        publish,
        draft_rules(settings),
        metrics,
        recordings,
        on_description_draft,
    )
    log.info("speech recognition: RTP on %s, %d workers", advertise, settings.asr_workers)
    return Live(pool, receiver, transcriber)


def with_transcript(
    transcriber: LiveTranscriber, record: Callable[[CallSummary], None]
) -> Callable[[CallSummary], None]:
    """Wrap the call-record hook: an answered call's record waits (off the call path) for
    its last transcript words and draft, or is marked for post-call transcription."""
    pending: set[asyncio.Task[None]] = set()

    async def complete(summary: CallSummary) -> None:
        try:
            done = await transcriber.finish(summary.call_id)
            if done is not None:
                summary.transcript = done.transcript.to_json()
                summary.transcript_status = done.transcript.status
                if done.draft is not None:
                    summary.draft = json.dumps(draft_json(done.draft), ensure_ascii=False)
        except Exception:
            log.exception("call %s: transcript lost; left for post-call", summary.call_id)
            summary.transcript_status = "pending"
        record(summary)

    def on_end(summary: CallSummary) -> None:
        if summary.call_id in transcriber.calls:
            task = asyncio.ensure_future(complete(summary))
            pending.add(task)
            task.add_done_callback(pending.discard)
            return
        if summary.answered_at is not None and summary.recording:
            summary.transcript_status = "pending"
        record(summary)

    return on_end
