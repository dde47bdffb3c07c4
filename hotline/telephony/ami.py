"""AMI client on panoramisk: login, events, actions, reconnect with resync.

Two fixes over panoramisk's protocol: bytes are decoded incrementally (a multi-byte UTF-8
character split across TCP reads — a Chinese caller name — is not lost), and a failed
login is reported instead of silently leaving the connection unauthenticated.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections.abc import Callable
from typing import Any

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from ..metrics import Metrics
from .exceptions import AmiError

log = logging.getLogger(__name__)
EOL = "\r\n"

EventCallback = Callable[[Message], None]


class IncrementalAMIProtocol(AMIProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.version: str | None = None
        self._buffer = ""
        self.bad_frames = 0

    def data_received(self, data: bytes) -> None:
        text = self._decoder.decode(data)
        if self.version is None and (self._buffer + text).startswith("Asterisk Call Manager/"):
            banner, sep, rest = (self._buffer + text).partition(EOL)
            if not sep:
                self._buffer += text
                return
            self.version = banner.partition("/")[2].strip()
            self._buffer, text = "", rest
        self._buffer += text
        *blocks, self._buffer = self._buffer.split(EOL + EOL)
        for block in blocks:
            block = block.strip()
            if not block:
                continue
            try:
                message = Message.from_line(block)
            except Exception:  # a frame panoramisk cannot read must not kill the link
                message = None
            if message is None:
                self.bad_frames += 1
                log.warning("AMI frame ignored: %.200r", block)
                continue
            self.handle_message(message)


class _Manager(Manager):
    def __init__(self, client: AmiClient, **config: Any) -> None:
        super().__init__(**config)
        self.client = client

    def connect(self, *args: Any, **kwargs: Any) -> Any:
        if self.client.closing:  # panoramisk reschedules connect after every loss
            return None
        return super().connect(*args, **kwargs)

    def connection_lost(self, exc: Any) -> None:
        if self.client.closing:
            self._connected = False
            return
        super().connection_lost(exc)

    def login(self, future: asyncio.Future[Any]) -> bool:
        ok = bool(super().login(future))
        if not ok:
            try:
                msg = future.result().get("message", "login refused")
            except Exception as exc:
                msg = repr(exc)
            self.client.last_error = str(msg)
            log.error("AMI login failed: %s", msg)
        return ok


class AmiClient:
    """Connection to the Asterisk Manager Interface."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        secret: str,
        metrics: Metrics | None = None,
        reconnect_s: float = 2.0,
    ) -> None:
        self.metrics = metrics or Metrics()
        self.last_error = ""
        self.closing = False
        self.logged_in = asyncio.Event()
        self.device_states: dict[str, str] = {}
        self.resyncs = 0
        self._subscribers: list[tuple[str, EventCallback]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.manager = _Manager(
            self,
            host=host,
            port=port,
            username=user,
            secret=secret,
            ping_delay=10,
            ping_interval=10,
            reconnect_timeout=max(1, int(reconnect_s)),
            protocol_factory=IncrementalAMIProtocol,
            encoding="utf8",
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
            loop=asyncio.get_event_loop(),
        )
        self.manager.register_event("*", self._on_event)

    def subscribe(self, pattern: str, callback: EventCallback) -> None:
        """``pattern`` as panoramisk's: ``QueueCaller*``, ``DeviceStateChange``, ``*``."""
        self.manager.register_event(pattern, lambda manager, event: callback(event))

    async def start(self) -> None:
        self.manager.connect()

    async def close(self) -> None:
        self.closing = True
        self.manager.close()
        for t in list(self._tasks):
            t.cancel()
        self.metrics.ami_connected.set(0)
        self.logged_in.clear()

    def _spawn(self, coro: Any) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    def _on_login(self, manager: Manager) -> None:
        self.metrics.ami_reconnects.inc()
        self.metrics.ami_connected.set(1)
        self.logged_in.set()
        log.info("AMI logged in")
        self._spawn(self.resync())

    def _on_disconnect(self, manager: Manager, exc: Any) -> None:
        self.metrics.ami_connected.set(0)
        self.logged_in.clear()
        log.warning("AMI connection lost: %r", exc)

    def _on_event(self, manager: Manager, event: Message) -> None:
        name = str(event.get("Event", ""))
        self.metrics.ami_events.labels(event=name).inc()
        if name == "DeviceStateChange" and event.get("Device"):
            self.device_states[str(event["Device"])] = str(event.get("State", ""))

    async def resync(self) -> None:
        """After every login: device states afresh (events were missed while down)."""
        self.resyncs += 1
        try:
            items = await self.action({"Action": "DeviceStateList"})
        except AmiError as exc:
            log.warning("AMI resync failed: %s", exc)
            return
        for item in items:
            if item.get("Event") == "DeviceStateChange" and item.get("Device"):
                self.device_states[str(item["Device"])] = str(item.get("State", ""))

    async def action(self, action: dict[str, Any], timeout_s: float = 10.0) -> list[Message]:
        """Send an action; the response and any list events that follow it."""
        if not self.logged_in.is_set():
            raise AmiError("AMI not connected", last_error=self.last_error)
        try:
            result = await asyncio.wait_for(self.manager.send_action(action), timeout_s)
        except TimeoutError as exc:
            raise AmiError(f"AMI {action.get('Action')} timed out") from exc
        messages = result if isinstance(result, list) else [result]
        first = messages[0]
        if str(first.get("Response", "")) == "Error":
            raise AmiError(
                f"AMI {action.get('Action')}: {first.get('Message', '')}",
                action=action.get("Action"),
            )
        return messages

    async def command(self, command: str) -> str:
        messages = await self.action({"Action": "Command", "Command": command})
        out = messages[0].get("Output", "")
        return "\n".join(out) if isinstance(out, list) else str(out)

    async def originate(
        self,
        channel: str,
        context: str,
        exten: str,
        caller_id: str,
        timeout_s: float = 30.0,
        variables: dict[str, str] | None = None,
        channel_id: str | None = None,
    ) -> Message:
        """Async originate; returns the OriginateResponse (Reason 4 answered, 3 no answer,
        0 failure)."""
        action: dict[str, Any] = {
            "Action": "Originate",
            "Channel": channel,
            "Context": context,
            "Exten": exten,
            "Priority": 1,
            "CallerID": caller_id,
            "Timeout": int(timeout_s * 1000),
            "Async": "true",
        }
        if channel_id:
            action["ChannelId"] = channel_id
        if variables:
            action["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        messages = await self.action(action, timeout_s=timeout_s + 10)
        for m in messages:
            if m.get("Event") == "OriginateResponse":
                return m
        raise AmiError("no OriginateResponse", channel=channel)

    async def endpoints(self) -> list[Message]:
        messages = await self.action({"Action": "PJSIPShowEndpoints"})
        return [m for m in messages if m.get("Event") == "EndpointList"]
