"""``hotline demo`` as a newcomer runs it (a real process): the first screen shows what is
really there, and waiting callers' descriptions are recorded under the data folder, where
the server finds and transcribes them."""

from __future__ import annotations

import http.client
import http.cookiejar
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT.parent / "shared" / "models" / "vosk-model-small-cn-0.22"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def first_event(port: int, kind: str, token: str, deadline: float) -> str:
    """The data of the first ``kind`` event on the demo's stream, read from its start."""
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        try:
            conn.request(
                "GET", f"/api/events?types={kind}&after=0-0", headers={"Authorization": token}
            )
            resp = conn.getresponse()
            assert resp.status == 200, resp.read()
            event = ""
            while True:
                line = resp.fp.readline().decode().strip()
                if line.startswith("event: "):
                    event = line[len("event: ") :]
                elif line.startswith("data: ") and event == kind:
                    return line[len("data: ") :]
        except (TimeoutError, ConnectionError):
            time.sleep(1)
        finally:
            conn.close()
    raise AssertionError(f"no {kind} event")


def sign_in(base: str, username: str, password: str) -> str:
    """Sign in through the login form as a browser would; returns where it lands."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=10).read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:500]
    form = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "username": username, "password": password, "next": ""}
    ).encode()
    with opener.open(f"{base}/login", data=form, timeout=10) as resp:
        return str(urllib.parse.urlsplit(resp.url).path)


def test_given_the_demo_when_callers_wait_then_screen_is_true_and_descriptions_transcribe(
    tmp_path: Path,
) -> None:
    if not (MODEL / "am" / "final.mdl").exists():
        pytest.fail(f"the Vosk model is missing at {MODEL}")
    port = free_port()
    env = clean_env()
    env.update(
        HOTLINE_ASR_MODEL=str(MODEL),
        HOTLINE_ASR_WORKERS="1",
        HOTLINE_ASR_RTP_PORT="0",
        HOTLINE_DESCRIBE_AFTER_S="0.5",  # every waiting caller is invited to describe at once
        HOTLINE_DESCRIBE_MIN_WAIT_S="0",
        HOTLINE_DESCRIBE_MAX_S="3",
        HOTLINE_ANNOUNCE_FIRST_S="0",
    )
    args = ["--port", str(port), "--ari-port", "0", "--ami-port", "0", "--seats", "1"]
    args += ["--rate", "0.5", "--talk", "30", "--report-every", "5", "--seed", "7"]
    log = (tmp_path / "stderr.txt").open("w")
    demo = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "demo", *args],
        cwd=tmp_path,  # so var/ is the newcomer's var/, here
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert demo.stdout is not None
        screen = []
        while not screen or not screen[-1].startswith("  traffic"):
            line = demo.stdout.readline()
            assert line, (tmp_path / "stderr.txt").read_text()
            screen.append(line.rstrip())
        text = "\n".join(screen)
        base = f"http://127.0.0.1:{port}"
        assert f"desk        {base}/login   operator desk {base}/desk" in text
        assert "password 'hotline-demo' for every demo account" in text
        assert "operators (username = seat) 1001" in text
        assert "banzhang (supervisor)" in text and "admin (admin)" in text
        assert "sanlian (department)" in text
        assert sign_in(base, "1001", "hotline-demo") == "/desk", "the screen's account works"
        assert f"metrics {base}/metrics" in text
        assert (
            'admin token demo-admin-token  (send "Authorization: Bearer demo-admin-token")' in text
        )
        assert "app hotline  user hotline  password hotline" in text
        assert "username hotline  secret hotline" in text
        assert "database sqlite+aiosqlite:///var/hotline.sqlite3" in text
        assert "recordings var/recordings/" in text
        assert "`rm -rf var`" in text and "make clean" in text

        data = first_event(
            port, "transcript.description", "Bearer demo-admin-token", time.monotonic() + 90
        )
        assert '"recording": "describe-' in data
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(60)
        finally:
            if demo.poll() is None:
                demo.kill()
            log.close()
    errors = (tmp_path / "stderr.txt").read_text()
    assert demo.returncode == 0, errors
    assert "not transcribed" not in errors and "Traceback" not in errors
    assert list((tmp_path / "var" / "recordings").glob("describe-*.wav"))
