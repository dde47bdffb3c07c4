"""Builds speech recognition: the worker pool, the RTP receiver and the live transcriber,
and fills the call hooks that start and finish a call's transcript. Without a model (or if
the workers cannot start) calls go on without transcripts."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from ..config import Settings
from ..keys import ARI, HOOKS, METRICS, STORE
from . import http as asr_http
from . import service

log = logging.getLogger(__name__)
Ctx = Callable[[web.Application], AsyncIterator[None]]


def speech(settings: Settings) -> Ctx:
    async def asr_ctx(app: web.Application) -> AsyncIterator[None]:
        live = None
        if settings.asr_enabled:

            async def publish(event: str, now: float, **data: Any) -> None:
                if event == "transcript.description":  # kept for the desk's panel too
                    await app[STORE].save_call(
                        data["call_id"],
                        description_text=data.get("text", ""),
                        description_draft=json.dumps(data.get("draft"), ensure_ascii=False),
                    )
                await app[STORE].publish(event, now, **data)

            try:
                live = await service.start(
                    settings,
                    app[ARI],
                    publish,
                    app[METRICS],
                    app[HOOKS].on_description_draft,  # the queue's, built before speech
                )
            except Exception as exc:
                log.error("speech recognition off: %s", exc)
        if live is not None:
            rules = live.transcriber.rules
            await asyncio.to_thread(lambda: rules.tokenizer)  # the drafts' jieba, off the loop
            app[asr_http.TRANSCRIBER] = live.transcriber
            hooks = app[HOOKS]
            hooks.on_connected = live.transcriber.connected
            hooks.on_description = live.transcriber.describe
            if hooks.on_call_end is not None:
                hooks.on_call_end = service.with_transcript(live.transcriber, hooks.on_call_end)
        yield
        if live is not None:
            await live.stop()

    return asr_ctx
