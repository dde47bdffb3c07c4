"""What Asterisk finds to play, and how a channel's commands take turns.

``SoundCatalogue`` answers whether a sound exists for a channel's language the way Asterisk's
file lookup does (the channel's language first, then ``en``, then a file with no language);
``say_files`` lists the files ``number:`` and ``digits:`` media play (``main/say.c``: a
missing digit file is skipped in silence, never an error). ``ChannelControl`` is Asterisk's
``stasis_app_control``: commands on one channel run one after another, so a playback or a
recording holds back a bridge add, an answer or a variable behind it.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOUND_SUFFIXES = (".wav", ".ulaw", ".alaw", ".gsm", ".sln", ".sln16", ".g722")


class SoundCatalogue:
    """The sound files an Asterisk has, as ``<lang>/<name>`` (or plain ``<name>``) without
    their extension. ``None`` names: a stand-in told nothing about sounds finds every one."""

    def __init__(self, names: set[str] | None = None) -> None:
        self.names = names

    @classmethod
    def from_dirs(cls, *roots: Path) -> SoundCatalogue:
        names: set[str] = set()
        for root in roots:
            for path in root.rglob("*"):
                if path.suffix in SOUND_SUFFIXES and path.is_file():
                    names.add(path.relative_to(root).with_suffix("").as_posix())
        return cls(names)

    def exists(self, name: str, language: str) -> bool:
        if self.names is None:
            return True
        for candidate in (f"{language}/{name}", f"en/{name}", name):
            if candidate in self.names:
                return True
        return False


def say_files(media: str) -> list[str]:
    """The files a ``number:N`` or ``digits:D`` media plays (Mandarin rules for numbers)."""
    scheme, _, value = media.partition(":")
    if scheme == "digits":
        names = {"*": "star", "#": "pound", "-": "minus"}
        return [f"digits/{names.get(c, c)}" for c in value if c.isdigit() or c in names]
    if scheme == "number":
        try:
            return _zh_number(int(value))
        except ValueError:
            return []
    return []


def _zh_number(n: int) -> list[str]:
    """``ast_say_number_full_zh`` for 0 ≤ n < 10⁸: 一百零五 → 1 hundred 0 5."""
    if n < 0:
        return ["digits/minus", *_zh_number(-n)]
    if n < 10:
        return [f"digits/{n}"]
    if n >= 10_000:
        rest = n % 10_000
        wan = [*_zh_number(n // 10_000), "digits/wan"]
        if rest:
            wan += (["digits/0"] if rest < 1000 else []) + _zh_number(rest)
        return wan
    out: list[str] = []
    for unit, name in ((1000, "thousand"), (100, "hundred")):
        if n >= unit:
            out += [f"digits/{n // unit}", f"digits/{name}"]
            n %= unit
            if 0 < n < unit // 10:
                out.append("digits/0")
    if n >= 10:
        out.append(f"digits/{n // 10 * 10}")
        n %= 10
    if n:
        out.append(f"digits/{n}")
    return out


class ChannelControl:
    """A channel's command queue. ``post`` returns a future resolved once the command has
    run; a command that returns an awaitable (a playback, a recording) holds the queue until
    it completes. When the channel leaves Stasis, what is still queued fails."""

    def __init__(self, channel_id: str, gone_error: Callable[[], Exception]) -> None:
        self.channel_id = channel_id
        self._gone_error = gone_error
        self._queue: collections.deque[tuple[Callable[[], Any], asyncio.Future[Any]]] = (
            collections.deque()
        )
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    def post(self, command: Callable[[], Any], quiet: bool = False) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if quiet:  # nobody waits for an asynchronous command's outcome
            fut.add_done_callback(_swallow)
        if self.closed:
            fut.set_exception(self._gone_error())
            return fut
        self._queue.append((command, fut))
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        return fut

    async def _run(self) -> None:
        try:
            while self._queue:
                command, fut = self._queue.popleft()
                if fut.done():
                    continue
                try:
                    result = command()
                    if inspect.isawaitable(result):
                        result = await result
                except Exception as exc:
                    if not fut.done():
                        fut.set_exception(exc)
                    continue
                if not fut.done():
                    fut.set_result(result)
        finally:
            self._task = None

    def close(self) -> None:
        """The channel left Stasis or hung up: queued commands fail."""
        self.closed = True
        while self._queue:
            _, fut = self._queue.popleft()
            if not fut.done():
                fut.set_exception(self._gone_error())


def _swallow(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.debug("stand-in: asynchronous command failed: %r", fut.exception())
