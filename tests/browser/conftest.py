"""Headless Chromium (Debian's, driven by Playwright: it cannot download a browser here) and
a signed-in desk against the real server. Screenshots land in var/artifacts/browser/."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.asr.conftest import model_path, say  # noqa: F401 - the speech fixtures

ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct-horse-9"
CLOSE_TIMEOUT_S = 20.0


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail("Chromium is needed for the browser tests (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    p = await async_playwright().start()
    b = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    try:
        yield b
    finally:
        # A browser that hangs while closing (seen once under load) must not hold the run.
        for closing in (b.close, p.stop):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(closing(), CLOSE_TIMEOUT_S)


class Desk:
    """One browser tab signed in at the server, with its console errors collected."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.on("dialog", lambda d: self.errors.append(f"dialog: {d.message}"))

    async def sign_in(self, username: str, password: str = PASSWORD) -> None:
        await self.page.goto(f"{self.base}/login")
        await self.page.fill("input[name=username]", username)
        await self.page.fill("input[name=password]", password)
        await self.page.click("button[type=submit]")
        await self.page.wait_for_load_state()

    async def shot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        await self.page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture
async def desk_tab(browser: Any) -> AsyncIterator[Any]:
    contexts: list[Any] = []

    async def open_tab(base: str, locale: str = "zh-CN") -> Desk:
        ctx = await browser.new_context(viewport={"width": 1366, "height": 768}, locale=locale)
        contexts.append(ctx)
        return Desk(await ctx.new_page(), base)

    yield open_tab
    for ctx in contexts:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ctx.close(), CLOSE_TIMEOUT_S)


class FlakyProxy:
    """A TCP proxy in front of the server whose network can be cut: open connections are
    closed and new ones refused until it is restored (what a desk's dropped Wi-Fi does)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = True
        self.writers: set[Any] = set()
        self.server: Any = None
        self.port = 0

    async def start(self) -> FlakyProxy:
        import asyncio

        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: Any, writer: Any) -> None:
        import asyncio
        import contextlib

        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_writer}

        async def pipe(src: Any, dst: Any) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    def drop(self) -> None:
        self.up = False
        for w in list(self.writers):
            w.close()

    def restore(self) -> None:
        self.up = True

    async def stop(self) -> None:
        self.drop()
        self.server.close()
