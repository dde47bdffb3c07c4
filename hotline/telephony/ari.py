"""ARI client: REST calls the product uses, and the event websocket.

REST errors become domain exceptions (:mod:`.exceptions`). The websocket reconnects with
exponential backoff; after every (re)connect ``on_connected`` runs so the controller can
list the app's channels and bridges and rebuild its view.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from ..metrics import Metrics
from .events import (
    AriEvent,
    Bridge,
    Channel,
    Endpoint,
    LiveRecording,
    Playback,
    StasisStart,
    parse_event,
)
from .exceptions import (
    AriAuthError,
    AriConflict,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnavailable,
    MalformedEvent,
)

log = logging.getLogger(__name__)

EventHandler = Callable[[AriEvent], None]
ConnectedHandler = Callable[[], Awaitable[None]]
Json = Any


def _error_for(status: int, body: Json, method: str, path: str) -> AriError:
    text = ""
    if isinstance(body, dict):
        text = str(body.get("message") or body.get("error") or "")
    msg = f"{method} {path}: {status} {text}".strip()
    if status == 404 or (status == 400 and "not found" in text.lower()):
        # addChannel answers 400 "Channel not found" when the channel just hung up.
        return AriNotFound(msg, http_status=status)
    if status == 409:
        return AriConflict(msg, http_status=status)
    if status in (401, 403):
        return AriAuthError(msg, http_status=status)
    if status >= 500:
        return AriServerError(msg, http_status=status)
    return AriError(msg, http_status=status)


def _params(**kw: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in kw.items():
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            out[k] = ",".join(str(x) for x in v)
        else:
            out[k] = str(v)
    return out


class AriClient:
    """One Stasis application's connection to Asterisk."""

    def __init__(
        self,
        base_url: str,
        user: str,
        password: str,
        app: str,
        metrics: Metrics | None = None,
        reconnect_initial_s: float = 0.2,
        reconnect_max_s: float = 10.0,
        request_timeout_s: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self.metrics = metrics or Metrics()
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._ws_task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closing = False
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.connected = asyncio.Event()
        self.on_event: EventHandler = lambda event: None
        self.on_connected: ConnectedHandler | None = None
        self._stasis_waiters: dict[str, asyncio.Future[None]] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=200)
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=self._timeout, connector=connector
            )
        self._closing = False
        self._ws_task = asyncio.create_task(self._ws_loop(), name="ari-websocket")

    async def close(self) -> None:
        self._closing = True
        if self._ws is not None:
            try:
                await asyncio.wait_for(self._ws.close(), 2.0)
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
        if self._ws_task is not None:
            self._ws_task.cancel()
            await asyncio.wait([self._ws_task], timeout=3.0)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- REST ----------------------------------------------------------------------------

    async def request(
        self, method: str, path: str, params: dict[str, str] | None = None, body: Json = None
    ) -> Json:
        if self._session is None:
            raise AriUnavailable("ARI client not started")
        url = f"{self.base_url}/ari{path}"
        try:
            async with self._session.request(method, url, params=params, json=body) as resp:
                if resp.status == 204:
                    return None
                data: Json
                if resp.content_type == "application/json":
                    data = await resp.json()
                else:
                    data = await resp.read()
                if resp.status >= 400:
                    raise _error_for(resp.status, data, method, path)
                return data
        except AriError as exc:
            self.metrics.ari_errors.labels(kind=exc.error_id).inc()
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            self.metrics.ari_errors.labels(kind="unavailable").inc()
            raise AriUnavailable(f"{method} {path}: {exc!r}") from exc

    async def asterisk_info(self) -> Json:
        return await self.request("GET", "/asterisk/info")

    async def ping(self) -> Json:
        return await self.request("GET", "/asterisk/ping")

    # channels
    async def list_channels(self) -> list[Channel]:
        return [Channel.from_json(c) for c in await self.request("GET", "/channels")]

    async def get_channel(self, channel_id: str) -> Channel:
        return Channel.from_json(await self.request("GET", f"/channels/{channel_id}"))

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/answer")

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{channel_id}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{channel_id}", _params(reason=reason))

    async def play(
        self, channel_id: str, media: str, playback_id: str | None = None, lang: str | None = None
    ) -> Playback:
        path = f"/channels/{channel_id}/play" + (f"/{playback_id}" if playback_id else "")
        return Playback.from_json(await self.request("POST", path, _params(media=media, lang=lang)))

    async def start_moh(self, channel_id: str, moh_class: str = "default") -> None:
        await self.request("POST", f"/channels/{channel_id}/moh", _params(mohClass=moh_class))

    async def stop_moh(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/moh")

    async def hold(self, channel_id: str) -> None:
        """Indicate hold *to* this channel (its own phone is told it is held; chan_pjsip
        with moh_passthrough off plays it music on hold locally)."""
        await self.request("POST", f"/channels/{channel_id}/hold")

    async def unhold(self, channel_id: str) -> None:
        await self.request("DELETE", f"/channels/{channel_id}/hold")

    async def mute(self, channel_id: str, direction: str = "in") -> None:
        await self.request("POST", f"/channels/{channel_id}/mute", _params(direction=direction))

    async def unmute(self, channel_id: str, direction: str = "in") -> None:
        await self.request("DELETE", f"/channels/{channel_id}/mute", _params(direction=direction))

    async def get_variable(self, channel_id: str, variable: str) -> str:
        data = await self.request(
            "GET", f"/channels/{channel_id}/variable", _params(variable=variable)
        )
        return str(data.get("value", ""))

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self.request(
            "POST", f"/channels/{channel_id}/variable", _params(variable=variable, value=value)
        )

    async def originate(
        self,
        endpoint: str,
        *,
        app: str | None = None,
        app_args: str | None = None,
        channel_id: str | None = None,
        caller_id: str | None = None,
        timeout: int | None = None,
        originator: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> Channel:
        params = _params(
            endpoint=endpoint,
            app=app or self.app,
            appArgs=app_args,
            callerId=caller_id,
            timeout=timeout,
            channelId=channel_id,
            originator=originator,
        )
        body = {"variables": variables} if variables else None
        return Channel.from_json(await self.request("POST", "/channels", params, body))

    async def continue_in_dialplan(
        self,
        channel_id: str,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
    ) -> None:
        await self.request(
            "POST",
            f"/channels/{channel_id}/continue",
            _params(context=context, extension=extension, priority=priority),
        )

    async def snoop(
        self,
        channel_id: str,
        snoop_id: str,
        spy: str = "in",
        app: str | None = None,
        app_args: str | None = None,
    ) -> Channel:
        return Channel.from_json(
            await self.request(
                "POST",
                f"/channels/{channel_id}/snoop/{snoop_id}",
                _params(spy=spy, app=app or self.app, appArgs=app_args),
            )
        )

    async def external_media(
        self,
        external_host: str,
        channel_id: str | None = None,
        fmt: str = "slin16",
        direction: str = "both",
    ) -> Channel:
        return Channel.from_json(
            await self.request(
                "POST",
                "/channels/externalMedia",
                _params(
                    app=self.app,
                    external_host=external_host,
                    format=fmt,
                    channelId=channel_id,
                    encapsulation="rtp",
                    transport="udp",
                    direction=direction,
                ),
            )
        )

    # bridges
    async def list_bridges(self) -> list[Bridge]:
        return [Bridge.from_json(b) for b in await self.request("GET", "/bridges")]

    async def create_bridge(
        self, bridge_id: str, bridge_type: str = "mixing", name: str | None = None
    ) -> Bridge:
        return Bridge.from_json(
            await self.request(
                "POST", f"/bridges/{bridge_id}", _params(type=bridge_type, name=name)
            )
        )

    async def get_bridge(self, bridge_id: str) -> Bridge:
        return Bridge.from_json(await self.request("GET", f"/bridges/{bridge_id}"))

    async def add_channels(self, bridge_id: str, *channel_ids: str) -> None:
        await self.request(
            "POST", f"/bridges/{bridge_id}/addChannel", _params(channel=list(channel_ids))
        )

    async def remove_channels(self, bridge_id: str, *channel_ids: str) -> None:
        await self.request(
            "POST", f"/bridges/{bridge_id}/removeChannel", _params(channel=list(channel_ids))
        )

    async def bridge_start_moh(self, bridge_id: str, moh_class: str = "default") -> None:
        await self.request("POST", f"/bridges/{bridge_id}/moh", _params(mohClass=moh_class))

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{bridge_id}")

    async def record_bridge(
        self, bridge_id: str, name: str, fmt: str = "wav", max_duration_s: int = 0
    ) -> LiveRecording:
        return LiveRecording.from_json(
            await self.request(
                "POST",
                f"/bridges/{bridge_id}/record",
                _params(
                    name=name,
                    format=fmt,
                    ifExists="overwrite",
                    beep=False,
                    maxDurationSeconds=max_duration_s or None,
                ),
            )
        )

    async def record_channel(
        self,
        channel_id: str,
        name: str,
        *,
        max_duration_s: int,
        max_silence_s: int = 3,
        terminate_on: str = "#",
        fmt: str = "wav",
    ) -> LiveRecording:
        """Record what the caller says, after a beep (speak-while-you-wait)."""
        return LiveRecording.from_json(
            await self.request(
                "POST",
                f"/channels/{channel_id}/record",
                _params(
                    name=name,
                    format=fmt,
                    ifExists="overwrite",
                    beep=True,
                    maxDurationSeconds=max_duration_s,
                    maxSilenceSeconds=max_silence_s,
                    terminateOn=terminate_on,
                ),
            )
        )

    # playbacks, recordings, endpoints, device states, applications
    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{playback_id}")

    async def stop_recording(self, name: str) -> None:
        await self.request("POST", f"/recordings/live/{name}/stop")

    async def list_stored_recordings(self) -> list[Json]:
        return list(await self.request("GET", "/recordings/stored"))

    async def get_stored_recording_file(self, name: str) -> bytes:
        return bytes(await self.request("GET", f"/recordings/stored/{name}/file"))

    async def list_endpoints(self, technology: str | None = None) -> list[Endpoint]:
        path = "/endpoints" + (f"/{technology}" if technology else "")
        return [Endpoint.from_json(e) for e in await self.request("GET", path)]

    async def list_device_states(self) -> list[Json]:
        return list(await self.request("GET", "/deviceStates"))

    def expect_stasis(self, channel_id: str) -> asyncio.Future[None]:
        """A future resolved when ``channel_id`` enters Stasis. Register it before the
        request that creates the channel: a snoop channel's StasisStart may come before or
        after the REST reply."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._stasis_waiters[channel_id] = fut
        fut.add_done_callback(lambda f: self._forget_waiter(channel_id, f))
        return fut

    def _forget_waiter(self, channel_id: str, fut: asyncio.Future[None]) -> None:
        if self._stasis_waiters.get(channel_id) is fut:
            del self._stasis_waiters[channel_id]

    async def get_application(self) -> Json:
        return await self.request("GET", f"/applications/{self.app}")

    # -- websocket -----------------------------------------------------------------------

    async def _ws_loop(self) -> None:
        delay = self.reconnect_initial_s
        while not self._closing:
            try:
                await self._ws_once()
                delay = self.reconnect_initial_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: back off and retry, never give up
                log.warning("ARI websocket failed: %r; retry in %.2fs", exc, delay)
            finally:
                self.connected.clear()
                self.metrics.ari_connected.set(0)
            if self._closing:
                break
            await asyncio.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, self.reconnect_max_s)

    async def _ws_once(self) -> None:
        assert self._session is not None
        url = f"{self.base_url}/ari/events"
        params = {"app": self.app, "subscribeAll": "false"}
        async with self._session.ws_connect(
            url, params=params, heartbeat=20.0, timeout=aiohttp.ClientWSTimeout(ws_close=5.0)
        ) as ws:
            self._ws = ws
            self.metrics.ari_reconnects.inc()
            self.metrics.ari_connected.set(1)
            log.info("ARI websocket connected to %s (app %s)", self.base_url, self.app)
            self.connected.set()
            if self.on_connected is not None:
                # Events that arrive during resync queue up in the websocket; the resync
                # runs first so the view is complete before they are dispatched.
                await self.on_connected()
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.handle_frame(msg.data)
                elif msg.type == aiohttp.WSMsgType.BINARY:
                    self.metrics.ari_bad_frames.labels(reason="binary").inc()
                elif msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
            self._ws = None
            if not self._closing:
                log.warning("ARI websocket closed by peer")

    def handle_frame(self, data: str) -> None:
        """Parse one text frame and hand it on; bad frames are logged and counted."""
        try:
            message = json.loads(data)
        except ValueError:
            self.metrics.ari_bad_frames.labels(reason="json").inc()
            log.warning("ARI frame is not JSON: %.200r", data)
            return
        try:
            event = parse_event(message)
        except MalformedEvent as exc:
            self.metrics.ari_bad_frames.labels(reason="schema").inc()
            log.warning("ARI frame rejected: %s: %.200r", exc, data)
            return
        self.metrics.ari_events.labels(type=event.type).inc()
        log.debug("ARI event %s", data)
        if isinstance(event, StasisStart):
            waiter = self._stasis_waiters.pop(event.channel.id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        try:
            self.on_event(event)
        except Exception:
            log.exception("ARI event handler failed on %s", event.type)
