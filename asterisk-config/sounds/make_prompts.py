"""Generate the placeholder Mandarin sounds listed in prompts.toml.

    python asterisk-config/sounds/make_prompts.py [--force]

Every file goes under ``zh/`` with the name Asterisk looks it up by: the hotline's prompts as
``zh/hotline/<name>.wav``, the digits ``say.c`` plays for ``number:`` and ``digits:`` as
``zh/digits/<name>.wav``, stock sounds (``ss-noservice``, ``queue-*``) and tones (``beep``)
as ``zh/<name>.wav``.

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
ZH = HERE / "zh"
# espeak-ng pads with silence; trimmed, digits run together as "三百零五", not "三 … 百 …"
TRIM = ["silence", "1", "0.02", "0.5%", "reverse", "silence", "1", "0.02", "0.5%", "reverse"]
FADE = ["fade", "0.01", "0", "0.01"]  # no click at either end of a tone
SOX_8K = ["-r", "8000", "-c", "1", "-b", "16"]  # what Asterisk plays without transcoding
FOLDERS = {"digits": "digits", "core": "", "tones": ""}  # table → folder under zh/


def sounds(prompts: dict[str, object]) -> dict[str, tuple[str, str]]:
    """``{relative name without extension: (kind, text or synth arguments)}``."""
    out: dict[str, tuple[str, str]] = {}
    for key, value in prompts.items():
        if isinstance(value, str):
            out[f"hotline/{key}"] = ("speech", value)
            continue
        if key not in FOLDERS or not isinstance(value, dict):
            raise SystemExit(f"prompts.toml: unknown table [{key}]")
        kind = "tone" if key == "tones" else "speech"
        for name, text in value.items():
            out[f"{FOLDERS[key]}/{name}".lstrip("/")] = (kind, str(text))
    return out


def pinyin(text: str) -> str:
    words = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    spoken = []
    for w in words:
        w = w.strip()
        if not w:
            continue
        spoken.append("," if w in {"，", "。", "；", "：", "、"} else w)
    return " ".join(spoken)


def render(name: str, kind: str, text: str, force: bool) -> bool:
    target = ZH / f"{name}.wav"
    if target.exists() and not force:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    if kind == "tone":
        subprocess.run(
            ["sox", "-n", *SOX_8K, str(target), "synth", *text.split(), "vol", "0.5", *FADE],
            check=True,
        )
        return True
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "175", "-w", str(raw), pinyin(text)],
            check=True,
        )
        subprocess.run(
            ["sox", str(raw), *SOX_8K, str(target), "norm", "-3", *TRIM],
            check=True,
        )
    return True


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    args = p.parse_args()
    wanted = sounds(tomllib.loads((HERE / "prompts.toml").read_text(encoding="utf-8")))
    made = sum(render(name, kind, text, args.force) for name, (kind, text) in wanted.items())
    print(f"{made} sounds written, {len(wanted) - made} kept, in {ZH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
