"""The pages' message catalogues: zh-CN first, English beside it, one TOML file each.

Templates and scripts name a key; the text comes from the reader's locale (their own choice,
kept with their account), falling back to Chinese, then to the key itself, so a missing
translation shows something readable rather than nothing.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LOCALES = ("zh-CN", "en")
DEFAULT = "zh-CN"
FOLDER = Path(__file__).with_name("messages")


@cache
def catalogue(locale: str) -> dict[str, str]:
    """The locale's texts: ``<locale>.toml`` and each page area's ``<locale>.<area>.toml``
    (a key may be defined once only)."""
    if locale not in LOCALES:
        return {}
    out: dict[str, str] = {}
    for path in [FOLDER / f"{locale}.toml", *sorted(FOLDER.glob(f"{locale}.*.toml"))]:
        if not path.exists():
            continue
        for k, v in tomllib.loads(path.read_text(encoding="utf-8")).items():
            if k in out:
                raise ValueError(f"{path.name}: {k} is already defined")
            out[k] = str(v)
    return out


def text(locale: str, key: str, **values: object) -> str:
    raw = catalogue(locale).get(key) or catalogue(DEFAULT).get(key) or key
    return raw.format(**values) if values else raw


def pick(wanted: str | None, default: str = DEFAULT) -> str:
    """The locale to use: the reader's own choice, else the deployment's (Chinese unless
    configured otherwise; a browser's language does not decide, an office's does)."""
    return str(wanted) if wanted in LOCALES else default
