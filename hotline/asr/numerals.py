"""Chinese numerals as digits, before masking and matching: 一三八零零一三八零零零 → 13800138000,
长江西路一百号 → 长江西路100号, 五楼 → 5楼. Pure.

Only what reads as a number is changed: a run of three or more digit words (a phone or card
number read out), a number with units (二十八, 一百二十), or a single digit before a counter of
places (号, 栋, 楼, 层, 单元, 室, 期, 路). 一下, 一直, 三四个 and 十几 stay as they are.
"""

from __future__ import annotations

import re

DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "幺": 1, "两": 2}
UNITS = {"十": 10, "百": 100, "千": 1000}
_D = "零〇一二三四五六七八九幺两"
_PLACE_COUNTERS = "号|栋|幢|楼|层|单元|室|期|路|号线"
_RUN = re.compile(rf"[{_D}十百千万]+")
_AFTER_SINGLE = re.compile(rf"(?:{_PLACE_COUNTERS})")


def _value(run: str) -> int | None:
    """一百二十八 → 128, 十二 → 12, 三千零五 → 3005; None when it does not parse."""
    total, section, digit = 0, 0, None
    for ch in run:
        if ch in "零〇" and digit is None:
            continue  # 三千零五: the zero only holds a place
        if ch in DIGIT:
            if digit is not None:
                return None  # two digit words in a row inside a unit number
            digit = DIGIT[ch]
        elif ch in UNITS:
            section += (1 if digit is None else digit) * UNITS[ch]
            digit = None
        elif ch == "万":
            total += (section + (digit or 0)) * 10_000
            section, digit = 0, None
        else:
            return None
    return total + section + (digit or 0)


def _replace(m: re.Match[str], text: str) -> str:
    run = m.group(0)
    after = text[m.end() : m.end() + 2]
    before = text[m.start() - 1 : m.start()]
    if after[:1] in ("几", "多") and not any(u in run for u in UNITS):
        return run
    if not any(u in run for u in (*UNITS, "万")):
        if len(run) >= 3:
            return "".join(str(DIGIT[c]) for c in run)
        if len(run) == 1 and _AFTER_SINGLE.match(after) and before != "第":
            return str(DIGIT[run])
        return run
    if len(run) == 1 or after[:1] == "几" or run[0] in "百千万":  # 十 alone, 十几个, 万一
        return run
    value = _value(run)
    return run if value is None else str(value)


def normalise(text: str) -> str:
    return _RUN.sub(lambda m: _replace(m, text), text)
