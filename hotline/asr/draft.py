"""The ticket draft: a pure function of a call's transcript and its data.

Kind and category (from a configurable taxonomy) by a linear model over the call's words
(:mod:`.classify`), urgency as hazards described as happening now (:mod:`.hazards`), the
location against the city's gazetteer (:mod:`.places`), the suggested department, and a
one-paragraph summary with personal numbers masked. Chinese numerals are read as digits and
words are matched by sound too (:mod:`.sounds`), so a recogniser's slips still match. The
rules, taxonomy, gazetteer and models are data files (``hotline/asr/data/``); a deployment
keeps its own in a folder, and any file it lacks comes from the shipped ones.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jieba

from .classify import NONE_LABEL, LinearModel, features, keyword_label, predict
from .hazards import Finding, HazardRules, find_hazards
from .numerals import normalise
from .places import Gazetteer, Location, build_gazetteer, locate
from .sounds import Lexicon, Text

__all__ = ["Draft", "DraftRules", "Location", "Utterance", "clean", "join_words", "make_draft"]

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
COMMON_WORD = 100  # a span jieba counts this often is a word, not a misheard one
KIND_DEFAULT = "consultation"
# How much each word of a label's own list (rules.toml, taxonomy.toml) adds to the model's
# score for it: a few hundred training calls teach the model less than a hotline's word
# lists say (5-fold cross-validation on the corpus' training part: category 67 % → 83 %,
# kind 88 % → 93 %).
CATEGORY_CUE_WEIGHT = 1.5
KIND_CUE_WEIGHT = 3.0


@dataclass(frozen=True)
class Utterance:
    speaker: str  # caller or operator
    text: str
    start_s: float = 0.0


@dataclass(frozen=True)
class Draft:
    kind: str
    category: str | None
    location: Location
    urgent: bool
    urgent_reasons: tuple[str, ...]  # for the operator: the hazard and the caller's words
    department: str | None
    summary: str
    content: str  # the caller's words, cleaned and masked
    hazards: tuple[str, ...] = ()  # the hazards' names, e.g. ("gas",)


@dataclass(frozen=True)
class DraftRules:
    """Everything a draft is made from. ``kind_model``/``category_model`` may be None: the
    rules' and the taxonomy's words then decide."""

    categories: list[dict[str, Any]]
    kinds: list[dict[str, Any]]
    hazards: HazardRules
    gazetteer: Gazetteer
    kind_model: LinearModel | None = None
    category_model: LinearModel | None = None
    notes: tuple[str, ...] = field(default=())  # what loading left out, and why

    @classmethod
    def load(cls, folder: Path = DATA) -> DraftRules:
        """The rules in ``folder``; a file it lacks comes from the shipped data, except that a
        folder with its own gazetteer.toml has only its own places.csv, and its own
        taxonomy.toml only its own models."""
        files = _Files(folder)
        tax = tomllib.loads(files.text("taxonomy.toml"))
        rules = tomllib.loads(files.text("rules.toml"))
        hazards = HazardRules.from_toml(tomllib.loads(files.text("hazards.toml")))
        gaz_cfg = tomllib.loads(files.text("gazetteer.toml"))
        own_gazetteer = files.own("gazetteer.toml")
        places = files.csv("places.csv", shipped_too=not own_gazetteer)
        divisions = files.csv("divisions.csv.gz")
        gazetteer = build_gazetteer(divisions, gaz_cfg, places)
        notes: list[str] = []
        names = {str(c["name"]) for c in tax["category"]}
        kinds = {str(k["kind"]) for k in rules["kind"]} | {KIND_DEFAULT}
        own_tax = files.own("taxonomy.toml")
        models = []
        for name, allowed in (("kind_model", kinds), ("category_model", names | {NONE_LABEL})):
            data = files.json(f"{name}.json.gz", shipped_too=not own_tax)
            model = LinearModel.from_json(data) if data else None
            if model is not None and not set(model.labels) <= allowed:
                notes.append(f"{name}: labels outside the taxonomy, not used (retrain)")
                model = None
            models.append(model)
        kind_model, category_model = models
        return cls(
            tax["category"],
            rules["kind"],
            hazards,
            gazetteer,
            kind_model,
            category_model,
            tuple(notes),
        )

    @cached_property
    def tokenizer(self) -> jieba.Tokenizer:
        """jieba with these rules' place and category words, apart from jieba's global
        dictionary (the knowledge base segments with its own); built on first use."""
        tok = jieba.Tokenizer()
        for word in sorted(self.vocabulary):
            tok.add_word(word, freq=50_000)
        return tok

    @cached_property
    def vocabulary(self) -> set[str]:
        words = self.gazetteer.words()
        for c in self.categories:
            words.update(c["words"])
        return words

    @cached_property
    def category_words(self) -> Lexicon[str]:
        return Lexicon((w, str(c["name"])) for c in self.categories for w in c["words"])

    @cached_property
    def kind_words(self) -> Lexicon[str]:
        return Lexicon((w, str(k["kind"])) for k in self.kinds for w in k["words"])

    @cached_property
    def departments(self) -> dict[str, str | None]:
        return {str(c["name"]): c.get("department") for c in self.categories}

    def read(self, text: str) -> Text:
        tok = self.tokenizer
        return Text.of(text, tok.cut(text), lambda w: tok.FREQ.get(w, 0) >= COMMON_WORD)

    def features(self, text: Text, found: list[Finding]) -> set[str]:
        cues = (("k", self.category_words), ("q", self.kind_words))
        feats = features(text, self.tokenizer.cut(text.chars), cues)
        feats.update(f"h:{f.hazard}" for f in found)
        if found:
            feats.add("h:any")
        return feats

    def kind_of(self, feats: set[str], text: Text) -> str:
        if self.kind_model is not None:
            return predict(self.kind_model, feats, text, self.kind_words, KIND_CUE_WEIGHT)
        for rule in self.kinds:  # in order: the first kind whose words are said
            if any(h.value == rule["kind"] for h in self.kind_words.find(text)):
                return str(rule["kind"])
        return KIND_DEFAULT

    def category_of(self, feats: set[str], text: Text) -> str | None:
        if self.category_model is not None:
            model = self.category_model
            label = predict(model, feats, text, self.category_words, CATEGORY_CUE_WEIGHT)
            return label or None
        return keyword_label(text, self.category_words, None)


class _Files:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def own(self, name: str) -> bool:
        return self.folder != DATA and (self.folder / name).exists()

    def path(self, name: str, shipped_too: bool = True) -> Path | None:
        for base in (self.folder, DATA) if shipped_too else (self.folder,):
            if (base / name).exists():
                return base / name
        return None

    def text(self, name: str) -> str:
        path = self.path(name)
        return path.read_text(encoding="utf-8") if path else ""

    def raw(self, name: str, shipped_too: bool = True) -> str:
        path = self.path(name, shipped_too)
        if path is None:
            return ""
        data = path.read_bytes()
        return (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8")

    def csv(self, name: str, shipped_too: bool = True) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(self.raw(name, shipped_too))))

    def json(self, name: str, shipped_too: bool = True) -> dict[str, Any] | None:
        raw = self.raw(name, shipped_too)
        return json.loads(raw) if raw else None


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


# -- the draft -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """A call as the draft reads it: the caller's words and the whole call, ready to match,
    the hazards found, and the features the kind and category models see."""

    said: str  # the caller's words, cleaned, numerals as digits
    spoken: Text
    whole: Text
    found: list[Finding]
    kind_features: set[str]
    category_features: set[str]


def read_call(utterances: list[Utterance], rules: DraftRules) -> Reading:
    caller = [clean(u.text) for u in utterances if u.speaker in CALLER_SIDES]
    said = normalise("，".join(c for c in caller if c))
    everything = normalise("，".join(join_words(u.text) for u in utterances if u.text.strip()))
    whole = rules.read(everything)
    spoken = rules.read(said) if said else whole
    found = find_hazards(spoken, rules.hazards)
    return Reading(
        said, spoken, whole, found, rules.features(spoken, found), rules.features(whole, found)
    )


def make_draft(utterances: list[Utterance], rules: DraftRules, *, max_summary: int = 160) -> Draft:
    r = read_call(utterances, rules)
    kind = rules.kind_of(r.kind_features, r.spoken)
    category = rules.category_of(r.category_features, r.whole)
    department = rules.departments.get(category) if category else None
    location = locate(r.whole, rules.gazetteer)
    content = mask(r.said)
    head = "市民来电"
    if location.text():
        head += f"反映{location.text()}"
    if category:
        head += f"{category.split('/')[-1]}问题"
    body = content if len(content) <= max_summary else content[: max_summary - 1] + "…"
    summary = f"{head}：{body}" if body else head + "。"
    if r.found:
        summary = "【紧急】" + summary
    reasons = tuple(f.reason() for f in r.found)
    hazards = tuple(f.hazard for f in r.found)
    return Draft(
        kind, category, location, bool(r.found), reasons, department, summary, content, hazards
    )
