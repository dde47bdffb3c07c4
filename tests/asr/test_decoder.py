"""The worker's stream decoder with the real model: speech, and every kind of bad audio."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hotline.asr.worker import StreamDecoder, recogniser_factory


@pytest.fixture(scope="module")
def model(model_path: str) -> Any:
    from vosk import Model, SetLogLevel

    SetLogLevel(-1)
    return Model(model_path)


def pcm(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path)) as w:
        return w.readframes(w.getnframes()), w.getframerate()


def decode(model: Any, audio: bytes, rate: int = 16000, chunk: int = 3200) -> list[dict[str, Any]]:
    dec = StreamDecoder(1, recogniser_factory(model, rate, None), rate)
    out = []
    for i in range(0, len(audio), chunk):
        out += dec.audio(audio[i : i + chunk])
    return out + dec.finish()


def finals(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in results if r["type"] == "final"]


def test_given_mandarin_speech_when_decoded_then_known_words_come_out_without_spaces(
    model: Any, say: Any
) -> None:
    audio, _ = pcm(say("我想咨询一下社保卡怎么办理。"))
    out = finals(decode(model, b"\0" * 32000 + audio + b"\0" * 32000))
    text = "".join(r["text"] for r in out)
    assert "咨询" in text and " " not in text
    words = [w for r in out for w in r["words"]]
    assert all(0.8 <= w[1] <= w[2] <= 1.0 + len(audio) / 32000 + 0.5 for w in words), words


def test_given_silence_when_decoded_then_the_recogniser_is_never_fed(model: Any) -> None:
    dec = StreamDecoder(1, recogniser_factory(model, 16000, None))
    assert dec.audio(b"\0" * 32000 * 60) + dec.finish() == []
    assert dec.decoded_samples == 0 and dec.rec is None


def test_given_white_noise_when_decoded_then_it_ends_cleanly(model: Any) -> None:
    rng = np.random.default_rng(3)
    audio = rng.normal(0, 3000, 16000 * 20).clip(-32768, 32767).astype("<i2").tobytes()
    dec = StreamDecoder(1, recogniser_factory(model, 16000, None))
    out = dec.audio(audio) + dec.finish()
    assert all(r["type"] in ("partial", "final") for r in out)
    assert dec.decoded_samples < 16000 * 6, "steady noise is the floor, not speech"


def test_given_clipped_speech_when_decoded_then_words_still_come_out(model: Any, say: Any) -> None:
    audio, _ = pcm(say("我想咨询一下社保卡怎么办理。"))
    loud = (np.frombuffer(audio, "<i2").astype(np.int32) * 6).clip(-32768, 32767)
    out = finals(decode(model, b"\0" * 16000 + loud.astype("<i2").tobytes() + b"\0" * 32000))
    assert out and "".join(r["text"] for r in out)


def test_given_8khz_audio_when_opened_at_its_rate_then_it_is_decoded(model: Any, say: Any) -> None:
    audio, rate = pcm(say("您好，请问有什么可以帮您。", rate=8000))
    assert rate == 8000
    out = finals(decode(model, b"\0" * 16000 + audio + b"\0" * 16000, rate=8000, chunk=1600))
    assert "请问" in "".join(r["text"] for r in out)


def test_given_a_two_hour_call_when_decoded_then_times_stay_on_the_call_clock(
    model: Any, say: Any
) -> None:
    """Two hours of mostly silence with a sentence at the start, the hour and the end:
    silence is gated (cheap), the recogniser is reset per utterance, times are absolute."""
    speech, _ = pcm(say("我想咨询一下社保卡怎么办理。"))
    hour = 16000 * 2 * 3600
    dec = StreamDecoder(1, recogniser_factory(model, 16000, None))
    out: list[dict[str, Any]] = []
    silence = b"\0" * (16000 * 2 * 60)  # a minute
    spoken_at = []
    for minute in range(120):
        if minute in (0, 60, 119):
            spoken_at.append(dec.gate.position / 16000)
            out += dec.audio(speech + b"\0" * 32000)
        out += dec.audio(silence)
    out += dec.finish()
    starts = [r["start"] for r in finals(out)]
    assert spoken_at[1] > 3600 and spoken_at[2] > 7140
    for t in spoken_at:
        assert any(t - 0.5 <= s < t + 3 for s in starts), (t, starts)
    assert dec.gate.position * 2 >= 2 * hour
    assert dec.decoded_samples < 16000 * 60, "only the speech was decoded"
