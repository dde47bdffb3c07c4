"""``hotline transcribe``: post-call transcription of recordings (see :mod:`.batch`);
``hotline draft train`` and ``hotline gazetteer import``: a deployment's own draft data
(see :mod:`.draft_cli`).

The workers, the model and the database are imported when the command runs.
"""

from __future__ import annotations

import argparse
import wave
from collections.abc import Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> dict[str, Command]:
    t = sub.add_parser(
        "transcribe",
        help="transcribe recordings (files, or calls by date) with the ASR workers",
        description="Files get <file>.transcript.json beside them; calls get their transcript "
        "and ticket draft in the database. Done work is skipped, so a run can be resumed.",
    )
    t.add_argument("files", nargs="*", type=Path, help="WAV files or folders of them")
    t.add_argument("--from", dest="since", type=date.fromisoformat, help="first day (calls)")
    t.add_argument("--to", dest="until", type=date.fromisoformat, help="last day (calls)")
    t.add_argument("--pending", action="store_true", help="every call still to transcribe")
    t.add_argument("--workers", type=int, default=0, help="worker processes (default: config)")
    t.add_argument("--force", action="store_true", help="redo files already transcribed")
    from . import draft_cli

    return {"transcribe": transcribe_cmd, **draft_cli.register(sub)}


def _wavs(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        out += sorted(p.rglob("*.wav")) if p.is_dir() else [p]
    return out


def _seconds(path: Path) -> float:
    """A recording's length from its header (0 if unreadable: it will fail with a reason)."""
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / w.getframerate()
    except (OSError, EOFError, wave.Error, ZeroDivisionError):
        return 0.0


# A fixed rate unit: tqdm's own format turns "s audio/s" into "s/s audio" below 1/s.
AUDIO_BAR = (
    "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s of audio "
    "[{elapsed}<{remaining}, {rate_noinv_fmt}]"
)


async def transcribe_cmd(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from hotline.config import load_settings
    from hotline.tickets import service

    from .batch import pending_calls, transcribe_calls, transcribe_files
    from .engine import EnginePool
    from .service import draft_rules, pool_config

    settings = load_settings()
    by_date = args.pending or args.since or args.until
    if not args.files and not by_date:
        print("name recordings, or --from/--to/--pending for calls in the database")
        return 2
    pool = EnginePool(pool_config(settings, args.workers or None))
    await pool.start()
    rules = draft_rules(settings)
    parallel = pool.cfg.workers
    try:
        if args.files:
            files = _wavs(args.files)
            seconds = {f: _seconds(f) for f in files}
            with tqdm(
                total=sum(seconds.values()), desc="transcribe", unit="s audio", bar_format=AUDIO_BAR
            ) as bar:
                counts = await transcribe_files(
                    pool, files, rules, lambda f: bar.update(seconds[f]), args.force, parallel
                )
            print(", ".join(f"{k} {v}" for k, v in counts.items()))
            return 1 if counts["failed"] else 0
        tickets = service.build(settings)
        await service.prepare(settings, tickets)
        calls = await pending_calls(tickets.engine, args.since, args.until)
        folder = Path(settings.recordings_dir)
        with tqdm(total=len(calls), desc="transcribe", unit="call") as bar:
            counts = await transcribe_calls(
                pool, tickets.engine, calls, folder, rules, lambda s: bar.update(1), parallel
            )
        await tickets.engine.dispose()
        print(", ".join(f"{k} {v}" for k, v in counts.items()))
        return 1 if counts["failed"] else 0
    finally:
        await pool.stop()
