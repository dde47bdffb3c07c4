"""Runtime grammar with the real model: local names spelled in its words, and spotted."""

from __future__ import annotations

from typing import Any

from hotline.asr.engine import EnginePool, PoolConfig
from hotline.asr.vocab import segment


def test_given_the_real_model_when_names_are_spelled_then_multi_word_names_work(
    model_path: str,
) -> None:
    from vosk import Model, SetLogLevel

    SetLogLevel(-1)
    m = Model(model_path)
    known = lambda w: m.vosk_model_find_word(w) >= 0  # noqa: E731
    assert not known("社保卡") and segment("社保卡", known) == ["社保", "卡"]
    assert segment("朝阳区", known) is not None


async def test_given_a_phrase_list_when_a_call_is_decoded_then_the_name_is_spotted(
    model_path: str, say: Any
) -> None:
    import wave

    with wave.open(str(say("我想咨询一下社保卡怎么办理。"))) as w:
        audio = b"\0" * 16000 + w.readframes(w.getnframes()) + b"\0" * 32000
    pool = EnginePool(PoolConfig(model_path, workers=1))
    await pool.start()
    try:
        results: list[dict[str, Any]] = []
        names = ["社保卡", "公积金", "幸福小区", "朝阳区"]
        assert pool.open("spot", results.append, grammar=names, batch=True)
        for i in range(0, len(audio), 3200):
            await pool.feed_paced("spot", audio[i : i + 3200])
        await pool.close("spot")
    finally:
        await pool.stop()

    # What we saw with this model: the name shows in the partial results; the final of
    # the same utterance can lose it to [unk] when Vosk's endpointing cuts mid-phrase
    # (README: "Vocabulary"). So the spotting is asserted over partials and finals.
    texts = [r["text"] for r in results if r["type"] in ("partial", "final")]
    assert any("社保卡" in t for t in texts), results
    assert set("".join(texts)) <= set("".join(names)), "a grammar only ever yields its phrases"
