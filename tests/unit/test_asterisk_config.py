"""The shipped Asterisk configuration, rendered as the container entrypoint renders it, is one
Asterisk can load and the server can use: nothing left for Asterisk to expand, every context
and user the server names, and a trunk that identifies incoming calls."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hotline.config import Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "asterisk-config"
RENDER = TEMPLATE / "render.sh"
SAMPLE = {
    "ASTERISK_ARI_PASSWORD": "ari-pw",
    "ASTERISK_AMI_SECRET": "ami;secret",
    "SEAT_PASSWORD": "seat-pw",
    "SEAT_FIRST": "1001",
    "SEAT_LAST": "1005",
    "TRUNK_HOST": "sip.carrier.example:5060",
    "TRUNK_MATCH": "203.0.113.10,203.0.113.0/28",
}
REQUIRED = ["ASTERISK_ARI_PASSWORD", "ASTERISK_AMI_SECRET", "SEAT_PASSWORD", "TRUNK_HOST"]
REQUIRED.append("TRUNK_MATCH")


@dataclass
class Section:
    name: str
    file: str
    templates: list[str]
    options: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> list[str]:
        return [v for k, v in self.options if k == key]


def _strip_comment(line: str) -> str:
    # ';' starts a comment unless escaped as '\;'; ';--' block comments are not used here
    return re.sub(r"(?<!\\);.*", "", line).strip()


def load(
    folder: Path, name: str, seen: tuple[str, ...] = (), *, rendered: bool = True
) -> list[Section]:
    """Sections of ``name`` with its #includes followed, as Asterisk's config parser does;
    in the templates (``rendered=False``) the files render.sh writes are skipped."""
    assert name not in seen, f"#include loop: {' → '.join([*seen, name])}"
    path = folder / name
    assert path.is_file(), f"{' → '.join([*seen, name])}: #include of a missing file"
    sections: list[Section] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = _strip_comment(raw)
        if line.startswith("#"):
            directive, _, target = line.partition(" ")
            target = target.strip().strip('"')
            if (directive == "#include" and rendered) or (folder / target).is_file():
                included = load(folder, target, (*seen, name), rendered=rendered)
                if included and sections and included[0].name == "":
                    sections[-1].options += included.pop(0).options
                sections += included
            continue
        m = re.fullmatch(r"\[([^\]]+)\](?:\(([^)]*)\))?", line)
        if m:
            sections.append(Section(m.group(1), name, (m.group(2) or "").split(",")))
        elif line:
            key, sep, value = line.partition("=")
            assert sep, f"{name}: not an option: {raw!r}"
            if not sections:
                sections.append(Section("", name, []))
            sections[-1].options.append((key.strip(), value.lstrip(">").strip()))
    return sections


def render(out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SAMPLE and k != "AMI_PERMIT"}
    return subprocess.run(
        ["sh", str(RENDER), str(TEMPLATE), str(out)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("etc-asterisk")
    result = render(out, **SAMPLE)
    assert result.returncode == 0, result.stderr
    return out


def default(name: str) -> str:
    value = Settings.model_fields[name].default
    assert isinstance(value, str)
    return value


def test_given_sample_values_when_rendered_then_nothing_is_left_for_asterisk_to_expand(
    rendered: Path,
) -> None:
    for path in sorted(rendered.glob("*.conf")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "${" not in line and "$(" not in line:
                continue
            # the dialplan's own variables are expanded per call, on exten/same lines only
            assert path.name == "extensions.conf" and re.match(r"\s*(exten|same)\s*=>", line), (
                f"{path.name}:{n}: {line}"
            )
            assert "ENV(" not in line and "TRUNK" not in line, f"{path.name}:{n}: {line}"
    for conf in ("pjsip.conf", "extensions.conf", "queues.conf", "ari.conf", "manager.conf"):
        load(rendered, conf)  # every #include resolves


def test_given_the_rendered_pjsip_then_the_trunk_identifies_callers_and_seats_have_auth(
    rendered: Path,
) -> None:
    sections = load(rendered, "pjsip.conf")
    trunk = {s.get("type")[0]: s for s in sections if s.name == "trunk"}
    assert set(trunk) == {"endpoint", "aor", "identify"}
    assert trunk["identify"].get("endpoint") == ["trunk"]
    assert trunk["identify"].get("match") == [SAMPLE["TRUNK_MATCH"]]
    assert trunk["aor"].get("contact") == [f"sip:{SAMPLE['TRUNK_HOST']}"]
    assert trunk["endpoint"].get("aors") == ["trunk"]
    # the server dials callbacks and transfers through the trunk endpoint
    assert "@trunk" in default("callback_endpoint")
    seats = [str(n) for n in range(1001, 1006)]
    endpoints = {s.name for s in sections if "seat-template" in s.templates}
    auths = {s.name: s for s in sections if "seat-auth" in s.templates}
    assert endpoints == set(seats)
    assert {a.get("password")[0] for a in auths.values()} == {SAMPLE["SEAT_PASSWORD"]}
    for seat in seats:
        endpoint = next(s for s in sections if s.name == seat and "seat-template" in s.templates)
        assert endpoint.get("auth") == [f"{seat}-auth"] and f"{seat}-auth" in auths
    members = [
        v for s in load(rendered, "queues.conf") if s.name == "fallback" for v in s.get("member")
    ]
    assert members == [f"PJSIP/{seat}" for seat in seats]


def test_given_the_rendered_dialplan_then_every_context_the_server_names_exists(
    rendered: Path,
) -> None:
    sections = {s.name: s for s in load(rendered, "extensions.conf")}
    fallback = sections[default("fallback_context")]
    assert any(v.startswith(f"{default('fallback_extension')},1,") for v in fallback.get("exten"))
    transfer = sections[default("transfer_context")]
    assert any(v.startswith("_X.,1,") for v in transfer.get("exten"))
    entry = sections["hotline-entry"]
    apps = re.findall(r"Stasis\(([^,)]+)", " ".join(entry.get("same")))
    assert apps == [default("ari_app")]
    trunk_context = next(
        s.get("context")[0]
        for s in load(rendered, "pjsip.conf")
        if s.get("type") == ["endpoint"] and s.name == "trunk"
    )
    lines = {v.split(",")[0] for v in sections[trunk_context].get("exten")}
    default_lines = Settings.model_fields["lines"].get_default(call_default_factory=True)
    assert {line.number for line in default_lines} <= lines


def test_given_the_rendered_ari_and_ami_then_the_servers_users_log_in(rendered: Path) -> None:
    ari = {s.name: s for s in load(rendered, "ari.conf")}
    assert ari[default("ari_user")].get("password") == [SAMPLE["ASTERISK_ARI_PASSWORD"]]
    ami = {s.name: s for s in load(rendered, "manager.conf")}
    # ';' is escaped, so Asterisk does not cut the secret at a comment
    assert ami[default("ami_user")].get("secret") == ["ami\\;secret"]
    moh = {s.name for s in load(rendered, "musiconhold.conf")}
    assert default("moh_class") in moh


@pytest.mark.parametrize("missing", REQUIRED)
def test_given_a_required_variable_missing_then_render_fails_naming_it(
    tmp_path: Path, missing: str
) -> None:
    env = {k: v for k, v in SAMPLE.items() if k != missing}
    result = render(tmp_path / "out", **env)
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("TRUNK_MATCH", "203.0.113.10\n[evil]", "TRUNK_MATCH must be a single line"),
        ("SEAT_LAST", "11x", "SEAT_LAST must be a number"),
        ("SEAT_FIRST", "2000", "SEAT_FIRST (2000) is after SEAT_LAST"),
    ],
)
def test_given_a_bad_value_then_render_fails_naming_it(
    tmp_path: Path, name: str, value: str, message: str
) -> None:
    result = render(tmp_path / "out", **{**SAMPLE, name: value})
    assert result.returncode != 0 and message in result.stderr


def test_given_the_template_folder_as_output_then_render_refuses(tmp_path: Path) -> None:
    result = render(TEMPLATE, **SAMPLE)
    assert result.returncode != 0 and "must differ" in result.stderr
    assert not (TEMPLATE / "pjsip_trunk.conf").exists()
