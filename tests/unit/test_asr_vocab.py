"""Spelling local names in a model's words, for Vosk grammars."""

from __future__ import annotations

import pytest

from hotline.asr.vocab import UNKNOWN, grammar, segment

WORDS = {"朝阳", "区", "朝", "阳", "幸福", "小区", "幸福小区", "社保", "卡", "人民", "政府"}


@pytest.mark.parametrize(
    ("phrase", "words"),
    [
        ("朝阳区", ["朝阳", "区"]),  # fewest words, not 朝 阳 区
        ("幸福小区", ["幸福小区"]),
        ("社保卡", ["社保", "卡"]),
        ("朝阳 区", ["朝阳", "区"]),  # spaces in the input do not matter
        ("蜀山区", None),  # 蜀 and 山 unknown
        ("", []),
    ],
)
def test_given_a_name_when_segmented_then_it_uses_the_fewest_known_words(
    phrase: str, words: list[str] | None
) -> None:
    assert segment(phrase, WORDS.__contains__) == words


def test_given_names_when_made_a_grammar_then_unknown_names_are_reported_and_unk_added() -> None:
    g, missing = grammar(["朝阳区", "蜀山区", "朝阳区", "社保卡"], WORDS.__contains__)
    assert g == ["朝阳 区", "社保 卡", UNKNOWN]
    assert missing == ["蜀山区"]
