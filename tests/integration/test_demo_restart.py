"""``make demo`` stopped with Ctrl-C while calls are queued, and started again from the same
checkout, three times (real processes): every run answers calls within 15 s, every stop
takes under 5 s, prints no traceback and restarts no speech worker, and no embedded Redis
outlives its server."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT.parent / "shared" / "models" / "vosk-model-small-cn-0.22"
PROGRESS = re.compile(r"calls (\d+)\s+answered (\d+)\s+abandoned (\d+)\s+fallback (\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_answers(sock: Path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(0.5)
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def run_demo(cwd: Path, run: int) -> tuple[float, float, str]:
    """One demo run: seconds from the first screen to the first answered call, seconds the
    stop took, and what it printed on stderr."""
    env = clean_env()
    env.update(HOTLINE_ASR_MODEL=str(MODEL), HOTLINE_ASR_WORKERS="1", HOTLINE_ASR_RTP_PORT="0")
    port = free_port()
    args = ["--port", str(port), "--ari-port", "0", "--ami-port", "0", "--seats", "2"]
    # More callers than two seats can take: calls are queued when the demo is stopped.
    args += ["--rate", "2", "--talk", "30", "--patience", "300", "--report-every", "1"]
    args += ["--answer-delay", "0.3", "--seed", str(run)]
    stderr = cwd / f"stderr-{run}.txt"
    with stderr.open("w") as err:
        demo = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "demo", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            start_new_session=True,  # its own process group, as a terminal gives it
        )
        try:
            assert demo.stdout is not None
            up = first_answer = None
            waiting = 0
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                line = demo.stdout.readline()
                assert line, stderr.read_text()
                if line.startswith("  traffic"):
                    up = time.monotonic()
                m = PROGRESS.search(line)
                if up is not None and m:
                    calls, answered, abandoned, fallback = map(int, m.groups())
                    assert fallback == 0, line
                    if answered and first_answer is None:
                        first_answer = time.monotonic() - up
                    waiting = calls - answered - abandoned
                    if first_answer is not None and waiting >= 4:
                        break
            assert up is not None and first_answer is not None, stderr.read_text()
            assert waiting >= 4, "no calls queued to stop on"
            t0 = time.monotonic()
            os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C: the whole process group
            demo.wait(30)
            stop_s = time.monotonic() - t0
        finally:
            if demo.poll() is None:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    return first_answer, stop_s, stderr.read_text()


def test_given_the_demo_stopped_with_calls_queued_three_times_then_each_run_answers(
    tmp_path: Path,
) -> None:
    if not (MODEL / "am" / "final.mdl").exists():
        pytest.fail(f"the Vosk model is missing at {MODEL}")
    for run in range(3):
        first_answer, stop_s, errors = run_demo(tmp_path, run)
        assert first_answer < 15.0, f"run {run}: first answer after {first_answer:.1f}s"
        assert stop_s < 5.0, f"run {run}: Ctrl-C took {stop_s:.1f}s"
        assert "Traceback" not in errors and "KeyboardInterrupt" not in errors, errors[-3000:]
        assert "ASR worker" not in errors or "died" not in errors, errors[-3000:]
        assert "handed to the dialplan" in errors
        assert not redis_answers(tmp_path / "var" / "redis.sock")
