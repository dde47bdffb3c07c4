"""The draft corpus: labelled 12345 calls, each as said (clean) and as heard (recogniser-style).

    python bench/draft_corpus.py --from-raw FILE...   # first build: split, then write both parts
    python bench/draft_corpus.py                      # only remake the recogniser-style text
    python bench/draft_corpus.py --train              # the shipped models, from train.yaml

A raw line is ``KIND CAT HAZARD DISTRICT PLACE | turn／O:operator turn／turn`` (``-`` for none).
Each call goes to the blind part or the training part by a hash of its words (about 30 %
blind), once, before any extractor is tuned; the two parts are separate files so tuning
reads only ``train.yaml``.

The recogniser-style form is what a small Mandarin recogniser prints: words separated by
spaces, no punctuation, numbers spoken in Chinese (phone numbers digit by digit, house
numbers as words, bus routes digit by digit), and recognition errors: about one character in
fifteen replaced by a common character of the same sound (tones ignored), one in sixty by a
near sound (z/zh, c/ch, s/sh, n/l, -n/-ng), one in a hundred dropped. Seeded per call.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import re
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import jieba
import yaml
from pypinyin import Style, lazy_pinyin

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import ROOT

CORPUS = ROOT / "tests" / "asr" / "corpus"
KINDS = {
    "Q": "consultation",
    "H": "help",
    "C": "complaint",
    "R": "report",
    "S": "suggestion",
    "P": "praise",
    "O": "other",
}
CATEGORIES = {
    "wy": "城乡建设/物业服务",
    "hj": "环境保护/噪声污染",
    "ld": "劳动社保/拖欠工资",
    "sd": "供水供电供暖",
    "jt": "交通运输",
    "sc": "市场监管/消费维权",
    "ws": "卫生健康",
    "jy": "教育",
    "ga": "公安户籍",
    "mz": "民政",
    "-": None,
}
BLIND_SHARE = 0.3
DIGITS = "零一二三四五六七八九"
_PUNCT = re.compile(r"[，。！？、,.!?；;：:“”\"'（）()…—~～]+")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def parse_raw(line: str) -> dict[str, Any]:
    head, text = line.split("|", 1)
    kind, cat, hazard, district, place = head.split()
    turns = [t.strip() for t in text.strip().split("／") if t.strip()]
    for name in (district, place):
        if name != "-" and name not in text:
            raise ValueError(f"{name} is not in: {text}")
    return {
        "kind": KINDS[kind],
        "category": CATEGORIES[cat],
        "urgent": hazard != "-",
        "hazard": None if hazard == "-" else hazard,
        "district": None if district == "-" else district,
        "place": None if place == "-" else place,
        "said": turns,
    }


def is_blind(call: dict[str, Any]) -> bool:
    digest = hashlib.sha1("".join(call["said"]).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < BLIND_SHARE


# -- recogniser-style text -------------------------------------------------------------------


def _read_number(n: str) -> str:
    """128 → 一百二十八 (up to 9999)."""
    v = int(n)
    if v == 0:
        return "零"
    out, zero = "", False
    for unit, size in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        d, v = divmod(v, size)
        if d:
            if zero and out:
                out += "零"
            out += ("" if (unit == "十" and not out and d == 1) else DIGITS[d]) + unit
            zero = False
        elif out:
            zero = True
    return out


def spoken_numbers(text: str, rng: random.Random) -> str:
    def repl(m: re.Match[str]) -> str:
        digits, after = m.group(1), m.group(2) or ""
        if len(digits) >= 5 or after.startswith("路") or (len(digits) == 3 and rng.random() < 0.3):
            one = "幺" if rng.random() < 0.6 else "一"
            return "".join(one if c == "1" else DIGITS[int(c)] for c in digits) + after
        return _read_number(digits) + after

    return re.sub(r"(\d+)(路|号|栋|楼|层|点|块|元|个|天|年|岁|期)?", repl, text)


class Confusions:
    """Common characters grouped by toneless sound, weighted by how often jieba's dictionary
    uses them: the recogniser's likely substitutes."""

    NEAR = [("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("ing", "in"), ("eng", "en")]

    def __init__(self, top: int = 3500) -> None:
        freq: dict[str, int] = defaultdict(int)
        dict_txt = Path(jieba.__file__).with_name("dict.txt")
        for line in dict_txt.read_text(encoding="utf-8").splitlines():
            word, count = line.split(" ")[:2]
            for ch in word:
                if _CJK.match(ch):
                    freq[ch] += int(count)
        common = sorted(freq, key=lambda c: -freq[c])[:top]
        self.sound = {c: lazy_pinyin(c, style=Style.NORMAL)[0] for c in common}
        self.by_sound: dict[str, list[str]] = defaultdict(list)
        for c in common:
            self.by_sound[self.sound[c]].append(c)
        self.freq = freq

    def _pick(self, ch: str, sound: str, rng: random.Random) -> str:
        options = [c for c in self.by_sound.get(sound, []) if c != ch]
        if not options:
            return ch
        return rng.choices(options, weights=[self.freq[c] ** 0.5 for c in options])[0]

    def same_sound(self, ch: str, rng: random.Random) -> str:
        sound = self.sound.get(ch) or lazy_pinyin(ch, style=Style.NORMAL)[0]
        return self._pick(ch, sound, rng)

    def near_sound(self, ch: str, rng: random.Random) -> str:
        sound = self.sound.get(ch) or lazy_pinyin(ch, style=Style.NORMAL)[0]
        for a, b in self.NEAR:
            for x, y in ((a, b), (b, a)):
                swapped = _swap(sound, x, y)
                if swapped != sound and swapped in self.by_sound:
                    return self._pick(ch, swapped, rng)
        return ch


def _swap(sound: str, x: str, y: str) -> str:
    if x in ("zh", "ch", "sh", "n", "z", "c", "s", "l") and sound.startswith(x):
        if x in ("z", "c", "s") and sound[1:2] == "h":
            return sound
        return y + sound[len(x) :]
    if x in ("ing", "in", "eng", "en") and sound.endswith(x):
        if x in ("in", "en") and sound.endswith(x + "g"):
            return sound
        return sound[: -len(x)] + y
    return sound


def heard(text: str, rng: random.Random, conf: Confusions, scale: float = 1.0) -> str:
    """``scale`` multiplies the error rates (1: about 9 % of characters wrong)."""
    text = _PUNCT.sub(" ", spoken_numbers(text, rng))
    out = []
    for ch in text:
        r = rng.random()
        if _CJK.match(ch) and r < 0.065 * scale:
            ch = conf.same_sound(ch, rng)
        elif _CJK.match(ch) and r < 0.08 * scale:
            ch = conf.near_sound(ch, rng)
        elif _CJK.match(ch) and r < 0.09 * scale:
            ch = ""
        out.append(ch)
    words = jieba.lcut("".join(out))
    return " ".join(w for w in words if w.strip())


def with_heard(calls: list[dict[str, Any]], conf: Confusions) -> list[dict[str, Any]]:
    for call in calls:
        rng = random.Random(call["id"])
        call["heard"] = [
            ("O: " + heard(t[2:], rng, conf)) if t.startswith("O:") else heard(t, rng, conf)
            for t in call["said"]
        ]
    return calls


def write(path: Path, calls: list[dict[str, Any]], note: str) -> None:
    body = yaml.safe_dump(calls, allow_unicode=True, sort_keys=False, width=1000)
    path.write_text(note + body, encoding="utf-8")


NOTES = {
    "train": "# The draft corpus, training part: tune and train on this file only.\n",
    "blind": "# The draft corpus, blind part: scored, never read while tuning.\n",
}


def utterances(turns: list[str]) -> list[Any]:
    from hotline.asr.draft import Utterance

    return [
        Utterance("operator", t[2:].strip()) if t.startswith("O:") else Utterance("caller", t)
        for t in turns
    ]


def train_shipped() -> None:
    """The shipped kind and category models, from the training part in both forms."""
    import gzip
    import json

    from hotline.asr.draft import DATA, DraftRules
    from hotline.asr.train import Example, train_models

    calls = yaml.safe_load((CORPUS / "train.yaml").read_text("utf-8"))
    examples = [
        Example(utterances(c[form]), c["kind"], c["category"] or "")
        for c in calls
        for form in ("said", "heard")
    ]
    kind_model, category_model = train_models(examples, DraftRules.load())
    for name, model in (("kind_model", kind_model), ("category_model", category_model)):
        assert model is not None
        data = json.dumps(model.to_json(), ensure_ascii=False).encode()
        (DATA / f"{name}.json.gz").write_bytes(gzip.compress(data, mtime=0))
        print(f"{name}: {len(model.labels)} labels, {len(model.weights)} features")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--from-raw", nargs="*", type=Path, default=[])
    ap.add_argument("--train", action="store_true", help="train the shipped models and stop")
    args = ap.parse_args()
    if args.train:
        train_shipped()
        return 0
    CORPUS.mkdir(parents=True, exist_ok=True)
    if args.from_raw:
        lines = [ln for f in args.from_raw for ln in f.read_text("utf-8").splitlines() if ln]
        calls = [parse_raw(ln) for ln in lines]
        parts: dict[str, list[dict[str, Any]]] = {"train": [], "blind": []}
        for i, call in enumerate(calls, 1):
            call = {"id": f"d{i:04d}", **call}
            parts["blind" if is_blind(call) else "train"].append(call)
    else:
        parts = {
            name: yaml.safe_load((CORPUS / f"{name}.yaml").read_text("utf-8"))
            for name in ("train", "blind")
        }
    conf = Confusions()
    for name, calls in parts.items():
        write(CORPUS / f"{name}.yaml", with_heard(calls, conf), NOTES[name])
        print(f"{name}: {len(calls)} calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
