"""Synthetic Mandarin speech for the stand-in's callers and operators, the ASR tests and the
benchmarks.

Debian's espeak-ng reads hanzi as English, so the text goes through pypinyin to
tone-numbered pinyin and the ``cmn-latn-pinyin`` voice reads that; sox makes 16 kHz mono
16-bit WAV. The voice is robotic: a small model recognises some of its words, not all, which
is why tests assert on the words it does recognise.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PUNCTUATION = {"，": ",", "。": ".", "；": ",", "：": ",", "、": ",", "？": "?", "！": "."}


@dataclass(frozen=True)
class Line:
    side: str  # caller | operator
    text: str


# Short calls as a citizen and an operator would say them; the benchmark's reference texts.
CALLS: list[list[Line]] = [
    [
        Line("operator", "您好，这里是一二三四五热线，请问有什么可以帮您。"),
        Line("caller", "我想咨询一下社保卡怎么办理。"),
        Line("operator", "您可以带身份证到社区服务中心办理。"),
        Line("caller", "好的谢谢你。"),
    ],
    [
        Line("operator", "您好，请讲。"),
        Line("caller", "我们小区停水了，已经两天了，一直没有人管。"),
        Line("operator", "请问您在哪个小区。"),
        Line("caller", "在幸福小区三号楼。"),
    ],
    [
        Line("caller", "我要投诉楼下的饭店噪音太大，晚上睡不着觉。"),
        Line("operator", "好的，我们会转给城管部门处理。"),
    ],
    [
        Line("caller", "公司拖欠工资三个月了，老板不见了。"),
        Line("operator", "请问公司叫什么名字。"),
    ],
    [
        Line("caller", "家里闻到很浓的煤气味，怎么办。"),
        Line("operator", "请您马上开窗，不要开关电器，我们马上通知燃气公司。"),
    ],
    [
        Line("caller", "我想问一下孩子上学报名需要什么材料。"),
        Line("operator", "需要户口本和房产证明。"),
    ],
]


def available() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def pinyin(text: str) -> str:
    from pypinyin import Style, lazy_pinyin

    words = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    return " ".join(PUNCTUATION.get(w.strip(), w.strip()) for w in words if w.strip())


def synthesize(text: str, target: Path, *, rate: int = 16000, speed: int = 150) -> Path:
    """Write ``text`` spoken as a mono 16-bit WAV at ``rate``."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(
            ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", str(speed), "-w", str(raw), pinyin(text)],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(target), "norm", "-3"],
            check=True,
            capture_output=True,
        )
    return target


def conversations(folder: Path) -> list[tuple[str, str]]:
    """Each of :data:`CALLS` as two 16 kHz WAVs, (caller's side, operator's side): each
    side silent while the other speaks, as snoop channels hear them."""
    import wave

    out = []
    for n, call in enumerate(CALLS):
        sides = {"caller": bytearray(), "operator": bytearray()}
        for line in call:
            with wave.open(str(cached(line.text, folder))) as w:
                audio = w.readframes(w.getnframes())
            gap = b"\0" * 16000  # half a second between turns
            for side, buf in sides.items():
                buf += (audio if side == line.side else b"\0" * len(audio)) + gap
        paths = []
        for side, buf in sides.items():
            path = folder / f"call{n}-{side}.wav"
            if not path.exists():
                with wave.open(str(path), "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(16000)
                    w.writeframes(bytes(buf))
            paths.append(str(path))
        out.append((paths[0], paths[1]))
    return out


def cached(text: str, folder: Path, *, rate: int = 16000, speed: int = 150) -> Path:
    """``synthesize`` once per text and settings."""
    tag = hashlib.sha256(f"{text}|{rate}|{speed}".encode()).hexdigest()[:16]
    target = folder / f"{tag}.wav"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f"{tag}.tmp.wav"
        synthesize(text, tmp, rate=rate, speed=speed)
        tmp.replace(target)
    return target
