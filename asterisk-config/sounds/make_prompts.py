"""Generate the placeholder Mandarin prompts listed in prompts.toml.

    python asterisk-config/sounds/make_prompts.py [--force]

Needs espeak-ng and sox (Debian: apt-get install espeak-ng sox) and pypinyin. Debian's
espeak-ng reads hanzi as English, so each text goes through pypinyin to tone-numbered pinyin
and the cmn-latn-pinyin voice reads that. Existing files are kept unless --force, so studio
recordings dropped in place are never overwritten.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from pypinyin import Style, lazy_pinyin

HERE = Path(__file__).resolve().parent
OUT = HERE / "zh" / "hotline"


def pinyin(text: str) -> str:
    words = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    spoken = []
    for w in words:
        w = w.strip()
        if not w:
            continue
        spoken.append("," if w in {"，", "。", "；", "：", "、"} else w)
    return " ".join(spoken)


def render(name: str, text: str, force: bool) -> bool:
    target = OUT / f"{name}.wav"
    if target.exists() and not force:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "175", "-w", str(raw), pinyin(text)],
            check=True,
        )
        subprocess.run(
            ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(target), "norm", "-3"],
            check=True,
        )
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    args = p.parse_args()
    prompts = tomllib.loads((HERE / "prompts.toml").read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    made = sum(render(name, text, args.force) for name, text in prompts.items())
    print(f"{made} prompts written, {len(prompts) - made} kept, in {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
