"""The ticket draft: a pure function of a call's transcript and its data.

Kind, category (from a configurable taxonomy), location (district, street, road and number,
residential compound, against a configurable gazetteer), urgency (rules), suggested
department, a one-paragraph summary with personal data masked. Rules, taxonomy and
gazetteer are TOML data files (``hotline/asr/data/``); a deployment points at its own.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jieba

DATA = Path(__file__).with_name("data")
CN_DIGITS = "零〇一二三四五六七八九幺两"
_CN_VALUE = {c: str(i) for i, c in enumerate("零一二三四五六七八九")} | {
    "〇": "0",
    "幺": "1",
    "两": "2",
}
FILLERS = re.compile(
    r"(嗯+|啊+|呃+|哦+|那个|就是说|就是|然后呢|然后|对对对|对吧|喂+|你好)[，,。\s]*"
)
CALLER_SIDES = ("caller", "call")  # "call": a mono recording, both voices in one
_SPACE_IN_CJK = re.compile(r"(?<=[\u4e00-\u9fff\d])\s+(?=[\u4e00-\u9fff\d])")


@dataclass(frozen=True)
class Utterance:
    speaker: str  # caller or operator
    text: str
    start_s: float = 0.0


@dataclass(frozen=True)
class Location:
    district: str | None = None
    street: str | None = None
    road: str | None = None  # road and number, e.g. 长江西路100号
    compound: str | None = None

    def text(self) -> str:
        parts = [self.district, self.street, self.road, self.compound]
        return "".join(p for p in parts if p)


@dataclass(frozen=True)
class Draft:
    kind: str
    category: str | None
    location: Location
    urgent: bool
    urgent_reasons: tuple[str, ...]
    department: str | None
    summary: str
    content: str  # the caller's words, cleaned and masked


@dataclass(frozen=True)
class DraftRules:
    categories: list[dict[str, Any]]
    urgent: list[dict[str, Any]]
    kinds: list[dict[str, Any]]
    districts: list[str]
    streets: dict[str, list[str]] = field(default_factory=dict)
    roads: dict[str, list[str]] = field(default_factory=dict)
    compounds: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path = DATA) -> DraftRules:
        tax = tomllib.loads((folder / "taxonomy.toml").read_text(encoding="utf-8"))
        gaz = tomllib.loads((folder / "gazetteer.toml").read_text(encoding="utf-8"))
        rules = tomllib.loads((folder / "rules.toml").read_text(encoding="utf-8"))
        return cls(
            tax["category"],
            rules["urgent"],
            rules["kind"],
            gaz["districts"],
            gaz.get("streets", {}),
            gaz.get("roads", {}),
            gaz.get("compounds", {}),
        )

    @cached_property
    def tokenizer(self) -> jieba.Tokenizer:
        """jieba with these rules' place and category words, apart from jieba's global
        dictionary (the knowledge base segments with its own); built on first use."""
        tok = jieba.Tokenizer()
        for word in self.vocabulary:
            tok.add_word(word, freq=50_000)
        return tok

    @cached_property
    def vocabulary(self) -> set[str]:
        words = set(self.districts)
        for table in (self.streets, self.roads, self.compounds):
            for names in table.values():
                words.update(names)
        for c in self.categories:
            words.update(c["words"])
        return words

    def district_of(self, name: str, table: dict[str, list[str]]) -> str | None:
        return next((d for d, names in table.items() if name in names), None)


# -- text clean-up ---------------------------------------------------------------------------------


def join_words(text: str) -> str:
    """Vosk separates Chinese words with spaces; remove them (keep spaces between Latin words)."""
    return _SPACE_IN_CJK.sub("", text.strip())


def _cn_to_digits(run: str) -> str:
    return "".join(_CN_VALUE.get(c, c) for c in run)


_NUMBER_RUN = re.compile(rf"[0-9{CN_DIGITS}][0-9{CN_DIGITS}\s\-xX]{{5,}}[0-9{CN_DIGITS}xX]")


def mask(text: str) -> str:
    """Mask ID numbers, phone numbers and bank cards, in Arabic or Chinese digits."""

    def repl(m: re.Match[str]) -> str:
        raw = m.group(0)
        digits = re.sub(r"[\s\-]", "", _cn_to_digits(raw))
        n = len(digits)
        if n == 18 and digits[:17].isdigit():  # resident ID
            return digits[:4] + "*" * 10 + digits[-4:]
        if n == 11 and digits.startswith("1"):  # mobile
            return digits[:3] + "****" + digits[-4:]
        if 16 <= n <= 19 and digits.isdigit():  # bank card
            return digits[:4] + "*" * (n - 8) + digits[-4:]
        if 7 <= n <= 12 and digits.isdigit():  # landline with or without area code
            return digits[:3] + "*" * (n - 5) + digits[-2:]
        return raw

    return _NUMBER_RUN.sub(repl, text)


def clean(text: str) -> str:
    return FILLERS.sub("", join_words(text)).strip("，,。 ")


# -- extraction ------------------------------------------------------------------------------------


def _has(text: str, words: list[str], tokens: set[str]) -> list[str]:
    return [w for w in words if w in tokens or w in text]


def classify_kind(text: str, tokens: set[str], rules: DraftRules) -> str:
    for rule in rules.kinds:
        if _has(text, rule["words"], tokens):
            return str(rule["kind"])
    return "consultation"


def categorise(text: str, tokens: set[str], rules: DraftRules) -> tuple[str | None, str | None]:
    best, best_score = None, 0
    for cat in rules.categories:
        score = len(_has(text, cat["words"], tokens))
        if score > best_score:
            best, best_score = cat, score
    if best is None:
        return None, None
    return str(best["name"]), best.get("department")


def urgency(text: str, rules: DraftRules) -> tuple[str, ...]:
    return tuple(
        str(rule["name"])
        for rule in rules.urgent
        if all(any(w in text for w in group) for group in rule["groups"])
    )


_ROAD_NO = re.compile(rf"([\u4e00-\u9fff]{{1,8}}(?:路|街|大道|巷))([0-9{CN_DIGITS}十百]+)号")
_COMPOUND = re.compile(r"([\u4e00-\u9fff]{2,6}(?:小区|花园|家园|新村|公寓|山庄|苑|城))")


def locate(text: str, rules: DraftRules) -> Location:
    district = next((d for d in rules.districts if d in text), None)
    street = next((s for names in rules.streets.values() for s in names if s in text), None)
    road = None
    for names in rules.roads.values():
        for r in names:
            m = re.search(rf"{re.escape(r)}([0-9{CN_DIGITS}十百]+)号", text)
            if m:
                road = f"{r}{_cn_number(m.group(1))}号"
                break
            if road is None and r in text:
                road = r
        if road and road.endswith("号"):
            break
    if road is None:
        m = _ROAD_NO.search(text)
        if m:
            road = f"{m.group(1)}{_cn_number(m.group(2))}号"
    compound = next((c for names in rules.compounds.values() for c in names if c in text), None)
    if compound is None:
        m = _COMPOUND.search(text)
        compound = m.group(1) if m else None
    if district is None:
        for name, table in ((street, rules.streets), (compound, rules.compounds)):
            if name:
                district = rules.district_of(name, table)
                if district:
                    break
        if district is None and road:
            district = next(
                (d for d, names in rules.roads.items() if any(road.startswith(r) for r in names)),
                None,
            )
    return Location(district, street, road, compound)


def _cn_number(s: str) -> str:
    """一百二十三 / 幺二三 / 123 → 123 (enough for house numbers)."""
    if s.isdigit():
        return s
    if "百" in s or "十" in s:
        total, unit_val = 0, 0
        for ch in s:
            if ch == "百":
                total += (unit_val or 1) * 100
                unit_val = 0
            elif ch == "十":
                total += (unit_val or 1) * 10
                unit_val = 0
            else:
                unit_val = int(_CN_VALUE.get(ch, "0"))
        return str(total + unit_val)
    return _cn_to_digits(s)


def make_draft(utterances: list[Utterance], rules: DraftRules, *, max_summary: int = 160) -> Draft:
    caller = [clean(u.text) for u in utterances if u.speaker in CALLER_SIDES]
    everything = join_words(" ".join(u.text for u in utterances))
    said = "，".join(c for c in caller if c)
    tokens = set(rules.tokenizer.cut(everything))
    kind = classify_kind(said or everything, tokens, rules)
    category, department = categorise(everything, tokens, rules)
    reasons = urgency(everything, rules)
    location = locate(everything, rules)
    content = mask(said)
    head = "市民来电"
    if location.text():
        head += f"反映{location.text()}"
    if category:
        head += f"{category.split('/')[-1]}问题"
    body = content if len(content) <= max_summary else content[: max_summary - 1] + "…"
    summary = f"{head}：{body}" if body else head + "。"
    if reasons:
        summary = "【紧急】" + summary
    return Draft(kind, category, location, bool(reasons), reasons, department, summary, content)
