"""``hotline transcribe FILES`` as a person sees it (a real process, the real Vosk model):
the progress bar ends at 100 % with one rate unit throughout, and the transcript files
keep Chinese readable."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hotline.simulator import speech
from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT.parent / "shared" / "models" / "vosk-model-small-cn-0.22"
CACHE = ROOT / "var" / "test-speech"


def test_given_done_new_and_broken_recordings_when_transcribed_then_the_bar_reaches_100(
    tmp_path: Path,
) -> None:
    if not (MODEL / "am" / "final.mdl").exists():
        pytest.fail(f"the Vosk model is missing at {MODEL}")
    if not speech.available():
        pytest.fail("espeak-ng and sox are needed (apt-get install espeak-ng sox)")
    folder = tmp_path / "rec"
    folder.mkdir()
    shutil.copy(speech.cached("我想咨询一下社保卡怎么办理。", CACHE), folder / "new.wav")
    shutil.copy(speech.cached("家里闻到很浓的煤气味。", CACHE), folder / "done.wav")
    (folder / "done.wav.transcript.json").write_text("{}", encoding="utf-8")  # an earlier run
    (folder / "junk.wav").write_bytes(b"this is not audio")
    env = clean_env()
    env.update(HOTLINE_DATA_DIR=str(tmp_path), HOTLINE_ASR_MODEL=str(MODEL))
    env.update(HOTLINE_ASR_WORKERS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "hotline.cli", "transcribe", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr  # junk.wav failed, the others are done
    assert "done 1, skipped 1, failed 1" in proc.stdout
    bars = [b.strip() for b in re.split(r"[\r\n]", proc.stderr) if b.startswith("transcribe:")]
    assert bars, proc.stderr
    assert bars[-1].startswith("transcribe: 100%|"), bars
    rates = [re.search(r", +([?\d.]+\S* [^\]]+)\]$", b) for b in bars]
    units = {re.sub(r"^[?\d.]+", "", m.group(1)) for m in rates if m}
    assert units == {"s audio/s"}, bars

    raw = (folder / "new.wav.transcript.json").read_bytes().decode("utf-8")
    assert "\\u" not in raw  # Chinese as itself, not \uXXXX escapes
    body = json.loads(raw)
    assert any("咨询" in s["text"] for s in body["segments"]), body
