"""A newcomer's mistakes with the real ``hotline`` command: each ends in one line on stderr
that names what is wrong (the variable, the file and line, the option) and how to fix it,
with a non-zero exit code and no traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = clean_env()
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite3'}"
    env["HOTLINE_DATA_DIR"] = str(tmp_path / "var")
    env.update(extra)
    return env


def hotline(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        cwd=tmp_path,
        env=cli_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def refused(proc: subprocess.CompletedProcess[str]) -> str:
    """The one line a refused command printed; fails on a traceback or any other output."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hotline: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HOTLINE_HTTP_PORT": "abc"}, "HOTLINE_HTTP_PORT='abc': must be a port number from 1"),
        ({"HOTLINE_HTTP_PORT": "99999"}, "HOTLINE_HTTP_PORT='99999': must be a port number"),
        ({"HOTLINE_AMI_PORT": "0"}, "HOTLINE_AMI_PORT='0': must be a port number"),
        ({"HOTLINE_LOG_LEVEL": "loud"}, "HOTLINE_LOG_LEVEL='loud': must be one of DEBUG, INFO"),
        ({"HOTLINE_TIMEZONE": "Asia/Shanghia"}, "HOTLINE_TIMEZONE='Asia/Shanghia': must be an"),
        ({"HOTLINE_IVR_FLOWS_DIR": "/no/such"}, "HOTLINE_IVR_FLOWS_DIR='/no/such': must be a"),
        ({"HOTLINE_CONFIG": "missing.toml"}, "HOTLINE_CONFIG=missing.toml: no such file; create"),
    ],
)
def test_given_a_bad_setting_when_any_command_runs_then_one_line_names_the_variable(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    proc = hotline(tmp_path, "migrate", **env)
    assert expected in refused(proc)
    assert proc.returncode == 2
    assert not (tmp_path / "h.sqlite3").exists()  # refused before touching anything


def test_given_a_log_level_in_lower_case_when_loaded_then_it_is_accepted(tmp_path: Path) -> None:
    proc = hotline(tmp_path, "migrate", HOTLINE_LOG_LEVEL="warning")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "database at head"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('log_level = "INFO"\nhttp_port = [\n', "cfg.toml:2: not valid TOML: invalid value"),
        ('log_level = "INFO"\nhttp_port = 80 80\n', "cfg.toml:2: not valid TOML: expected newline"),
        ("http_port = 8081\nhttp_prot = 8082\n", "cfg.toml:2: unknown setting 'http_prot'; did"),
        ('log_level = "INFO"\n\nhttp_port = 70000\n', "cfg.toml:3: http_port: must be a port"),
        ('[[operators]]\nid = "1001"\n', "cfg.toml:1: operators[0].endpoint: field required"),
    ],
)
def test_given_a_broken_config_file_when_loaded_then_the_file_and_line_are_named(
    tmp_path: Path, text: str, expected: str
) -> None:
    (tmp_path / "cfg.toml").write_text(text, encoding="utf-8")
    assert expected in refused(hotline(tmp_path, "migrate", HOTLINE_CONFIG="cfg.toml"))


def test_given_an_environment_variable_and_a_file_when_both_bad_then_the_variable_is_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "cfg.toml").write_text("http_port = 8081\n", encoding="utf-8")
    line = refused(hotline(tmp_path, "migrate", HOTLINE_CONFIG="cfg.toml", HOTLINE_HTTP_PORT="x"))
    assert "HOTLINE_HTTP_PORT='x'" in line and "cfg.toml" not in line


def test_given_a_user_when_added_again_then_refused_in_one_line(tmp_path: Path) -> None:
    first = hotline(tmp_path, "user", "add", "bob", "--role", "admin")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("user bob (id 1), API token: ")
    assert first.stderr == ""  # neither Alembic's INFO lines nor "database migrated"
    line = refused(hotline(tmp_path, "user", "add", "bob", "--role", "operator"))
    assert line == "hotline: user bob already exists; choose another username"


def test_given_an_unknown_department_when_a_user_is_added_then_the_known_codes_are_listed(
    tmp_path: Path,
) -> None:
    (tmp_path / "d.toml").write_text(
        '[[department]]\ncode = "water"\nname = "水务局"\n', encoding="utf-8"
    )
    assert hotline(tmp_path, "departments", "import", "d.toml").returncode == 0
    line = refused(
        hotline(tmp_path, "user", "add", "li", "--role", "department", "--department", "gas")
    )
    assert "--department gas: no such department; known codes: water" in line
    assert "hotline departments import" in line


def test_given_a_department_role_without_a_department_then_the_option_is_named(
    tmp_path: Path,
) -> None:
    line = refused(hotline(tmp_path, "user", "add", "li", "--role", "department"))
    assert line == "hotline: --role department needs --department CODE (the user's department)"


def test_given_a_broken_departments_file_when_imported_then_file_and_line_are_named(
    tmp_path: Path,
) -> None:
    (tmp_path / "d.toml").write_text('[[department]]\ncode = "water\n', encoding="utf-8")
    assert "d.toml:2: not valid TOML" in refused(
        hotline(tmp_path, "departments", "import", "d.toml")
    )
    (tmp_path / "e.toml").write_text('[[department]]\nname = "水务局"\n', encoding="utf-8")
    line = refused(hotline(tmp_path, "departments", "import", "e.toml"))
    assert line == "hotline: e.toml: department #1 has no code"
    line = refused(hotline(tmp_path, "departments", "import", "nope.toml"))
    assert line.startswith("hotline: nope.toml: cannot read it")


def test_given_an_unknown_revision_when_migrating_then_the_known_ones_are_listed(
    tmp_path: Path,
) -> None:
    line = refused(hotline(tmp_path, "migrate", "--revision", "zzz"))
    assert (
        line == "hotline: --revision zzz: no such revision; "
        "use head, base, -N or one of 0001, 0002, 0003, 0004, 0005"
    )


def test_given_data_when_migrating_to_base_without_yes_then_refused_and_data_kept(
    tmp_path: Path,
) -> None:
    assert hotline(tmp_path, "user", "add", "bob", "--role", "admin").returncode == 0
    line = refused(hotline(tmp_path, "migrate", "--revision", "base"))
    assert "--revision base downgrades the database" in line and "add --yes" in line
    assert "add --yes" in refused(hotline(tmp_path, "migrate", "--revision", "-1"))
    with sqlite3.connect(tmp_path / "h.sqlite3") as db:
        assert db.execute("SELECT username FROM users").fetchall() == [("bob",)]

    down = hotline(tmp_path, "migrate", "--revision", "base", "--yes")
    assert down.returncode == 0, down.stderr
    with sqlite3.connect(tmp_path / "h.sqlite3") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "users" not in tables


def test_given_an_unreachable_database_when_a_command_runs_then_the_url_is_named(
    tmp_path: Path,
) -> None:
    line = refused(
        hotline(
            tmp_path,
            "user",
            "add",
            "bob",
            "--role",
            "admin",
            DATABASE_URL="postgresql+asyncpg://hotline@127.0.0.1:9/hotline",
        )
    )
    assert "DATABASE_URL=postgresql+asyncpg://hotline@127.0.0.1:9/hotline: cannot use" in line


def test_given_no_sync_url_when_sync_runs_then_the_variable_is_named(tmp_path: Path) -> None:
    line = refused(hotline(tmp_path, "sync"))
    assert line.startswith("hotline: HOTLINE_SYNC_URL is not set; set it")
    assert hotline(tmp_path, "sync").returncode == 2


HEAVY = ("vosk", "jieba", "sqlalchemy", "aiohttp", "numpy", "alembic", "hotline.app")


@pytest.mark.parametrize("args", [["--help"], ["demo", "--help"], ["user", "add", "--help"]])
def test_given_help_when_asked_then_no_heavy_module_is_imported(
    tmp_path: Path, args: list[str]
) -> None:
    probe = (
        "import sys\n"
        "from hotline import cli\n"
        "try:\n"
        f"    cli.main({args!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('loaded:', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=cli_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: hotline" in proc.stdout
    assert proc.stdout.splitlines()[-1] == "loaded: []"


def test_given_demo_help_then_every_option_has_help_and_a_default(tmp_path: Path) -> None:
    out = hotline(tmp_path, "demo", "--help").stdout
    flat = " ".join(out.split())
    for expected in (
        "--port PORT the server's HTTP port (API, metrics) (default: 8080)",
        "--seats SEATS scripted operators, logged in ready (default: 12)",
        "--wrapup WRAPUP wrap-up after each call, s (default: 3.0)",
        "--seed SEED random seed for repeatable traffic; None: new each run",
        "rm -rf var resets",
    ):
        assert expected in flat, out
