"""The Vosk model directory with our decoding settings.

Vosk reads its decoder settings (beam, max-active, lattice-beam) from ``conf/model.conf``
when the model loads. To run a shipped model with other settings without touching it (it
may be read-only), we build an overlay directory: links to the model's parts and a
rewritten ``model.conf``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Decoding:
    """None keeps the model's own value."""

    beam: float | None = None
    max_active: int | None = None
    lattice_beam: float | None = None

    @property
    def shipped(self) -> bool:
        return self.beam is None and self.max_active is None and self.lattice_beam is None

    def describe(self) -> str:
        if self.shipped:
            return "shipped model.conf"
        return f"beam={self.beam} max-active={self.max_active} lattice-beam={self.lattice_beam}"


def rewrite_conf(conf: str, d: Decoding) -> str:
    """model.conf text with the chosen options replaced (or appended)."""
    lines = conf.splitlines()
    for opt, value in (
        ("beam", d.beam),
        ("max-active", d.max_active),
        ("lattice-beam", d.lattice_beam),
    ):
        if value is None:
            continue
        pattern = re.compile(rf"^--{re.escape(opt)}=")
        new = f"--{opt}={value}"
        for i, line in enumerate(lines):
            if pattern.match(line):
                lines[i] = new
                break
        else:
            lines.append(new)
    return "\n".join(lines) + "\n"


def model_dir(base: str | Path, d: Decoding, cache: str | Path) -> str:
    """A directory Vosk can load: ``base`` itself for the shipped settings, otherwise an
    overlay in ``cache`` (made once per base and settings)."""
    base = Path(base).resolve()
    conf_path = base / "conf" / "model.conf"
    if d.shipped:
        return str(base)
    if not conf_path.exists():
        raise FileNotFoundError(f"{conf_path}: the model has no decoder settings to change")
    conf = rewrite_conf(conf_path.read_text(), d)
    tag = hashlib.sha256(f"{base}\n{conf}".encode()).hexdigest()[:12]
    target = Path(cache) / f"{base.name}-{tag}"
    if (target / "conf" / "model.conf").exists():
        return str(target)
    (target / "conf").mkdir(parents=True, exist_ok=True)
    for part in base.iterdir():
        if part.name != "conf" and not (target / part.name).exists():
            (target / part.name).symlink_to(part)
    for part in (base / "conf").iterdir():
        if part.name != "model.conf" and not (target / "conf" / part.name).exists():
            (target / "conf" / part.name).symlink_to(part)
    tmp = target / "conf" / "model.conf.tmp"
    tmp.write_text(conf)
    tmp.replace(target / "conf" / "model.conf")
    return str(target)
