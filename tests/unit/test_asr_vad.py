"""The voice-activity gate: tables over synthetic signals and a chunking property."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.asr.vad import AUDIO, END, START, Gate, VadConfig

RATE = 16000


def tone(seconds: float, amp: float = 8000.0, hz: float = 300.0) -> bytes:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amp * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return b"\0\0" * int(seconds * RATE)


def noise(seconds: float, amp: float, seed: int = 1) -> bytes:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, amp, int(seconds * RATE))).clip(-32768, 32767).astype("<i2").tobytes()


def kinds(events: list[tuple[str, bytes | int]]) -> list[str]:
    out: list[str] = []
    for k, _ in events:
        if k != AUDIO or not out or out[-1] != AUDIO:
            out.append(k)
    return out


def test_given_only_silence_when_gated_then_nothing_reaches_the_recogniser() -> None:
    g = Gate()
    assert g.push(silence(30)) + g.finish() == []
    assert g.speech_frames == 0 and g.position == 30 * RATE


def test_given_a_word_between_silences_when_gated_then_one_utterance_with_preroll() -> None:
    g = Gate()
    events = g.push(silence(2) + tone(1.0) + silence(2)) + g.finish()
    assert kinds(events) == [START, AUDIO, END]
    start = next(v for k, v in events if k == START)
    cfg = VadConfig()
    onset = 2 * RATE + (cfg.onset_frames - 1) * 320
    assert start == onset - (cfg.preroll_frames - 1) * 320
    fed = sum(len(v) for k, v in events if k == AUDIO) // 2  # type: ignore[arg-type]
    # preroll + the tone + the hangover, nothing more
    assert RATE * 1.0 < fed <= RATE * (1.0 + 0.3 + 0.6 + 0.05)


def test_given_two_phrases_when_gated_then_two_utterances() -> None:
    g = Gate()
    events = g.push(tone(0.8) + silence(1.5) + tone(0.8) + silence(1.5))
    assert kinds(events) == [START, AUDIO, END, START, AUDIO, END]


def test_given_steady_noise_when_gated_then_it_is_the_floor_not_speech() -> None:
    g = Gate()
    g.push(noise(60, amp=3000))
    assert not g.in_speech
    assert g.speech_frames < 6 * 50, "only until the first window's assumed floor expires"
    events = g.push(tone(1.0, amp=20000))
    assert START in kinds(events), "speech over the noise still opens an utterance"


def test_given_endless_talking_when_gated_then_it_is_cut_into_bounded_utterances() -> None:
    syllables = (tone(0.2) + silence(0.06)) * 62  # 16 s without a pause long enough to end
    g = Gate(cfg=VadConfig(max_utterance_s=5.0))
    events = g.push(syllables)
    assert kinds(events).count(END) == 3


def test_given_a_steady_tone_when_gated_then_after_the_window_it_is_background() -> None:
    g = Gate()
    events = g.push(silence(0.1) + tone(16.0))
    assert kinds(events) == [START, AUDIO, END]


def test_given_clipped_audio_when_gated_then_it_is_speech() -> None:
    clipped = (
        np.clip(
            np.frombuffer(tone(1.0, amp=60000.0 / 2), "<i2").astype(np.int32) * 4, -32768, 32767
        )
        .astype("<i2")
        .tobytes()
    )
    g = Gate()
    assert START in kinds(g.push(silence(0.5) + clipped + silence(1)))


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(1, 5000), min_size=1, max_size=30))
def test_property_chunk_sizes_do_not_change_the_decisions(cuts: list[int]) -> None:
    audio = silence(0.5) + tone(0.7) + silence(1.0) + tone(0.3) + silence(0.8)
    whole = Gate()
    expected = whole.push(audio) + whole.finish()
    g = Gate()
    got: list[tuple[str, bytes | int]] = []
    pos = 0
    for c in cuts:
        got += g.push(audio[pos : pos + 2 * c])
        pos += 2 * c
    got += g.push(audio[pos:]) + g.finish()
    assert kinds(got) == kinds(expected)
    assert [v for k, v in got if k == START] == [v for k, v in expected if k == START]
    join = b"".join(v for k, v in got if k == AUDIO)  # type: ignore[misc]
    assert join == b"".join(v for k, v in expected if k == AUDIO)  # type: ignore[misc]
