"""Every sound Asterisk is asked to play in Mandarin is shipped: the digits say.c strings
together for ``number:`` and ``digits:``, the beep before a recorded description, and every
sound the dialplan and the fallback queue name; and prompts.toml lists exactly the files."""

from __future__ import annotations

import importlib.util
import re
import wave
from pathlib import Path
from types import ModuleType

import pytest

from tests.unit.test_asterisk_config import load

ROOT = Path(__file__).resolve().parents[2]
SOUNDS = ROOT / "asterisk-config" / "sounds"
ZH = SOUNDS / "zh"
U64 = 2**64


def say_number_zh(num: int) -> list[str]:
    """The files Asterisk's ``ast_say_number_full_zh`` (main/say.c) plays for ``num``,
    ported line by line, with C's unsigned ``int - strlen()`` arithmetic kept."""
    if num == 0:
        return ["digits/0"]
    out: list[str] = []
    playh = playt = playz = 0
    last_length = 0
    while num or playh or playt or playz:
        if num < 0:
            fn, num = "digits/minus", -num
        elif playz:
            fn, last_length, playz = "digits/0", 0, 0
        elif playh:
            fn, playh = "digits/hundred", 0
        elif playt:
            fn, playt = "digits/thousand", 0
        elif num < 10:
            if (last_length - len(str(num))) % U64 > 1 and last_length != 0:
                last_length, playz = len(str(num)), playz + 1
                continue
            fn, num = f"digits/{num}", 0
        elif num < 100:
            if (last_length - len(str(num))) % U64 > 1 and last_length != 0:
                last_length, playz = len(str(num)), playz + 1
                continue
            last_length = len(str(num))
            fn, num = f"digits/{num // 10 * 10}", num % 10
        elif num < 1000:
            if (last_length - len(str(num))) % U64 > 1 and last_length != 0:
                last_length, playz = len(str(num)), playz + 1
                continue
            fn, playh = f"digits/{num // 100}", playh + 1
            last_length = len(str(num))
            num -= num // 100 * 100
        elif num < 10000:
            fn, playt = f"digits/{num // 1000}", playt + 1
            last_length = len(str(num))
            num -= num // 1000 * 1000
        elif num < 100_000_000:
            out += say_number_zh(num // 10000)
            last_length = len(str(num))
            num -= num // 10000 * 10000
            fn = "digits/wan"
        elif num < 1_000_000_000:
            out += say_number_zh(num // 100_000_000)
            last_length = len(str(num))
            num -= num // 100_000_000 * 100_000_000
            fn = "digits/yi"
        else:
            raise ValueError(f"{num} is too big for say.c")
        out.append(fn)
    return out


def say_digits(text: str) -> list[str]:
    """``ast_get_digit_str``: one file per digit, star, pound or minus (others are skipped)."""
    names = {"*": "star", "#": "pound", "-": "minus"}
    return [f"digits/{c if c.isdigit() else names[c]}" for c in text if c.isdigit() or c in names]


def exists(name: str) -> bool:
    return (ZH / f"{name}.wav").is_file()


@pytest.mark.parametrize(
    ("num", "files"),
    [
        (0, ["0"]),
        (7, ["7"]),
        (10, ["10"]),
        (15, ["10", "5"]),
        (40, ["40"]),
        (105, ["1", "hundred", "0", "5"]),
        (110, ["1", "hundred", "10"]),
        (999, ["9", "hundred", "90", "9"]),
        (1005, ["1", "thousand", "0", "5"]),
        (1050, ["1", "thousand", "0", "50"]),
        (2300, ["2", "thousand", "3", "hundred"]),
        (10000, ["1", "wan"]),
        (120_000_000, ["1", "yi", "2", "thousand", "wan"]),
        (-3, ["minus", "3"]),
    ],
)
def test_the_say_c_port_reads_numbers_as_asterisk_does(num: int, files: list[str]) -> None:
    assert say_number_zh(num) == [f"digits/{f}" for f in files]


def test_given_number_media_in_the_code_then_every_file_say_c_plays_is_shipped() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "hotline").rglob("*.py"))
    assert re.search(r'f"number:\{', code), "the server announces positions with number:N"
    needed = {name for n in range(100_000) for name in say_number_zh(n)}
    needed |= {name for n in (10**8, 123_456_789, -1) for name in say_number_zh(n)}
    assert sorted(n for n in needed if not exists(n)) == []


def test_given_digits_media_then_every_key_a_caller_can_hear_read_back_is_shipped() -> None:
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "hotline").rglob("*.py"))
    assert re.search(r'f"digits:\{', code), "ticket numbers are read back with digits:"
    assert say_digits("2026112300001*#-") == [
        *(f"digits/{d}" for d in "2026112300001"),
        "digits/star",
        "digits/pound",
        "digits/minus",
    ]
    assert sorted(n for n in say_digits("0123456789*#-") if not exists(n)) == []


def test_given_recordings_made_with_a_beep_then_the_beep_is_shipped() -> None:
    ari = (ROOT / "hotline" / "telephony" / "ari.py").read_text(encoding="utf-8")
    assert "beep=True" in ari
    assert exists("beep")


def test_given_the_dialplan_and_the_fallback_queue_then_every_sound_they_name_is_shipped() -> None:
    conf = ROOT / "asterisk-config"
    dialplan = (conf / "extensions.conf").read_text(encoding="utf-8")
    named = set(re.findall(r"\b(?:Playback|Background)\(([^,)&]+)", dialplan))
    assert {"ss-noservice", "hotline/sorry_busy"} <= named
    queue = next(s for s in load(conf, "queues.conf", rendered=False) if s.name == "fallback")
    assert int(queue.get("announce-frequency")[0]) > 0
    assert queue.get("announce-position") in ([], ["yes"])  # app_queue's default is yes
    named |= {"queue-youarenext", "queue-thereare", "queue-callswaiting", "queue-thankyou"}
    assert sorted(n for n in named if not exists(n)) == []


def _make_prompts() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_prompts", SOUNDS / "make_prompts.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_prompts_toml_lists_exactly_the_shipped_files_in_asterisks_format() -> None:
    import tomllib

    listed = _make_prompts().sounds(tomllib.loads((SOUNDS / "prompts.toml").read_text("utf-8")))
    shipped = {str(p.relative_to(ZH).with_suffix("")) for p in ZH.rglob("*.wav")}
    assert set(listed) == shipped
    for name in sorted(shipped):
        with wave.open(str(ZH / f"{name}.wav")) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2), name
            assert 0.1 < w.getnframes() / 8000 < 20, name
