"""``hotline serve`` (a real process) given requests it cannot parse: it answers 400 and logs
one line naming the client and the reason, not an ERROR with the parser's traceback."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import clean_env

BAD = [b"GET /\xff HTTP/1.1", b"GET http://[::1 HTTP/1.1", b"GET /a b HTTP/1.1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ask(port: int, line: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(line + b"\r\nHost: x\r\n\r\n")
        return s.recv(100)


def test_given_malformed_requests_when_served_then_400_and_one_info_line_each(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = clean_env()
    env.update(
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite3'}",
        HOTLINE_DATA_DIR=str(tmp_path / "var"),
        HOTLINE_HTTP_PORT=str(port),
        HOTLINE_ARI_URL=f"http://127.0.0.1:{free_port()}",  # no Asterisk: it keeps retrying
        HOTLINE_AMI_ENABLED="false",
        HOTLINE_ASR_ENABLED="false",
        HOTLINE_SURVEY_ENABLED="false",
    )
    log = (tmp_path / "stderr.txt").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "hotline.cli", "serve"], cwd=tmp_path, env=env, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while "hotline listening on" not in (tmp_path / "stderr.txt").read_text():
            assert server.poll() is None and time.monotonic() < deadline, (
                tmp_path / "stderr.txt"
            ).read_text()
            time.sleep(0.2)
        for line in BAD:
            assert ask(port, line).startswith(b"HTTP/1.0 400 Bad Request"), line
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        finally:
            if server.poll() is None:
                server.kill()
            log.close()
    errors = (tmp_path / "stderr.txt").read_text()
    assert "Traceback" not in errors and "ERROR" not in errors, errors
    said = [ln for ln in errors.splitlines() if "aiohttp.server" in ln]
    assert len(said) == len(BAD), errors
    assert all(" INFO " in ln and "bad request from 127.0.0.1 (400): " in ln for ln in said)
    assert "InvalidURLError: Invalid char in url path" in said[0]
    assert "InvalidURLError: http://[::1" in said[1]
