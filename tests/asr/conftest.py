"""Fixtures for the speech tests: the real Vosk model and synthetic Mandarin speech."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.simulator import speech

MODEL = (
    Path(__file__).resolve().parents[2].parent / "shared" / "models" / "vosk-model-small-cn-0.22"
)
CACHE = Path(__file__).resolve().parents[2] / "var" / "test-speech"


@pytest.fixture(scope="session")
def model_path() -> str:
    if not (MODEL / "am" / "final.mdl").exists():
        pytest.fail(f"the Vosk model is missing at {MODEL}")
    return str(MODEL)


@pytest.fixture(scope="session")
def say() -> object:
    """say(text) → a 16 kHz WAV of it (made once, cached under var/)."""
    if not speech.available():
        pytest.fail("espeak-ng and sox are needed (apt-get install espeak-ng sox)")

    def make(text: str, rate: int = 16000) -> Path:
        return speech.cached(text, CACHE, rate=rate)

    return make
