"""The stand-in's AMI: a TCP server speaking the Manager protocol as recorded.

CRLF line endings, ``Asterisk Call Manager/11.0.0`` banner, ``Response:`` blocks with the
caller's ActionID, EventList start/Complete for list actions, and async Originate answered
later by an ``OriginateResponse`` event (Reason 4 answered, 3 no answer, 0 failure).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from .model import SimAsterisk, SimError

log = logging.getLogger(__name__)

EOL = "\r\n"
Headers = list[tuple[str, str]]


def encode(headers: Headers) -> bytes:
    return ("".join(f"{k}: {v}{EOL}" for k, v in headers) + EOL).encode()


def parse_block(block: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in block.split(EOL):
        if ": " in line:
            k, v = line.split(": ", 1)
            out.setdefault(k.lower(), v)
        elif line.endswith(":"):
            out.setdefault(line[:-1].lower(), "")
    return out


class AmiSession:
    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.sim = server.sim
        self.reader = reader
        self.writer = writer
        self.authed = False

    def send(self, headers: Headers) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(headers))

    def on_event(self, event: str, headers: Headers) -> None:
        if self.authed:
            self.send(
                [
                    ("Event", event),
                    ("Privilege", "call,all"),
                    ("Timestamp", f"{time.time():.6f}"),
                    *headers,
                ]
            )

    async def run(self) -> None:
        self.writer.write(f"Asterisk Call Manager/11.0.0{EOL}".encode())
        self.sim.ami_listeners.append(self.on_event)
        buf = ""
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                buf += data.decode("utf-8", "replace")
                while EOL + EOL in buf:
                    block, buf = buf.split(EOL + EOL, 1)
                    if block.strip():
                        if not await self.handle(parse_block(block)):
                            return
                await self.writer.drain()
        finally:
            with contextlib.suppress(ValueError):
                self.sim.ami_listeners.remove(self.on_event)
            self.writer.close()

    async def handle(self, msg: dict[str, str]) -> bool:
        action = msg.get("action", "")
        aid = msg.get("actionid", "")
        ah = [("ActionID", aid)] if aid else []
        name = action.lower()
        if name == "login":
            if (msg.get("username"), msg.get("secret")) != self.server.creds:
                self.send([("Response", "Error"), *ah, ("Message", "Authentication failed")])
                await self.writer.drain()
                return False
            self.authed = True
            self.server.logins += 1
            self.send([("Response", "Success"), *ah, ("Message", "Authentication accepted")])
            self.send(
                [
                    ("Event", "FullyBooted"),
                    ("Privilege", "system,all"),
                    ("Uptime", "24"),
                    ("LastReload", "24"),
                    ("Status", "Fully Booted"),
                ]
            )
            return True
        if not self.authed:
            self.send([("Response", "Error"), *ah, ("Message", "Missing action in request")])
            return True
        handler = self.server.actions.get(name)
        if handler is None:
            self.send(
                [
                    ("Response", "Error"),
                    *ah,
                    (
                        "Message",
                        f"Invalid/unknown command: {action}. Use Action: "
                        "ListCommands to show available commands.",
                    ),
                ]
            )
            return True
        handler(self, msg, ah)
        return name != "logoff"

    def send_list(
        self, ah: Headers, message: str, event: str, items: list[Headers], complete: str
    ) -> None:
        self.send([("Response", "Success"), *ah, ("EventList", "start"), ("Message", message)])
        for item in items:
            self.send([("Event", event), *ah, *item])
        self.send(
            [("Event", complete), *ah, ("EventList", "Complete"), ("ListItems", str(len(items)))]
        )


def _ping(s: AmiSession, msg: dict[str, str], ah: Headers) -> None:
    s.send([("Response", "Success"), *ah, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}")])


def _logoff(s: AmiSession, msg: dict[str, str], ah: Headers) -> None:
    s.send([("Response", "Goodbye"), *ah, ("Message", "Thanks for all the fish.")])


def _command(s: AmiSession, msg: dict[str, str], ah: Headers) -> None:
    cmd = msg.get("command", "")
    out = (
        "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-23 09:00:34 UTC"
        if cmd == "core show version"
        else f"No such command '{cmd}' (type 'core show help {cmd}' for other possible commands)"
    )
    s.send([("Response", "Success"), *ah, ("Message", "Command output follows"), ("Output", out)])


def _endpoints(s: AmiSession, msg: dict[str, str], ah: Headers) -> None:
    items = [
        [
            ("ObjectType", "endpoint"),
            ("ObjectName", ep.resource),
            ("Transport", "transport-udp"),
            ("Aor", ep.resource),
            ("Auths", ""),
            ("OutboundAuths", ""),
            ("Contacts", f"{ep.resource}/sip:{ep.resource}@127.0.0.1:5060,"),
            (
                "DeviceState",
                ("In use" if ep.channel_ids else "Not in use")
                if ep.state == "online"
                else "Unavailable",
            ),
            ("ActiveChannels", str(len(ep.channel_ids))),
        ]
        for ep in s.sim.endpoints.values()
    ]
    s.send_list(
        ah,
        "A listing of Endpoints follows, presented as EndpointList events",
        "EndpointList",
        items,
        "EndpointListComplete",
    )


def _channels(s: AmiSession, msg: dict[str, str], ah: Headers) -> None:
    items = []
    for ch in s.sim.channels.values():
        items.append(
            [
                *s.sim._ami_channel(ch),
                ("Application", ch.dialplan.get("app_name", "")),
                ("ApplicationData", ch.dialplan.get("app_data", "")),
                ("Duration", "00:00:01"),
                ("BridgeId", ch.bridge),
            ]
        )
    s.send_list(ah, "Channels will follow", "CoreShowChannel", items, "CoreShowChannelsComplete")


def _device_states(s: AmiSession, msg: dict[str, str], ah: Headers) -> None:
    items = [
        [
            ("Device", ep.name),
            (
                "State",
                ("INUSE" if ep.channel_ids else "NOT_INUSE")
                if ep.state == "online"
                else "UNAVAILABLE",
            ),
        ]
        for ep in s.sim.endpoints.values()
    ]
    s.send_list(
        ah,
        "Device State Changes will follow",
        "DeviceStateChange",
        items,
        "DeviceStateListComplete",
    )


def _queue_status(s: AmiSession, msg: dict[str, str], ah: Headers) -> None:
    waiting = len(s.sim.fallback_waiting)
    items: list[Headers] = [
        [
            ("Queue", "fallback"),
            ("Max", "0"),
            ("Strategy", "ringall"),
            ("Calls", str(waiting)),
            ("Holdtime", "0"),
            ("TalkTime", "0"),
            ("Completed", str(s.sim.stats.fallback_answered)),
            ("Abandoned", "0"),
            ("ServiceLevel", "0"),
            ("ServicelevelPerf", "0.0"),
            ("ServicelevelPerf2", "0.0"),
            ("Weight", "0"),
        ]
    ]
    s.send(
        [
            ("Response", "Success"),
            *ah,
            ("EventList", "start"),
            ("Message", "Queue status will follow"),
        ]
    )
    s.send([("Event", "QueueParams"), *items[0], *ah])
    members = 0
    for ep in s.sim.endpoints.values():
        members += 1
        s.send(
            [
                ("Event", "QueueMember"),
                ("Queue", "fallback"),
                ("Name", ep.name),
                ("Location", ep.name),
                ("StateInterface", ep.name),
                ("Membership", "static"),
                ("Penalty", "0"),
                ("CallsTaken", "0"),
                ("LastCall", "0"),
                ("LastPause", "0"),
                ("LoginTime", str(int(time.time()))),
                ("InCall", "1" if ep.channel_ids else "0"),
                ("Status", "1" if ep.state == "online" else "5"),
                ("Paused", "0"),
                ("PausedReason", ""),
                ("Wrapuptime", "0"),
                *ah,
            ]
        )
    s.send(
        [
            ("Event", "QueueStatusComplete"),
            *ah,
            ("EventList", "Complete"),
            ("ListItems", str(members + 1)),
        ]
    )


def _originate(s: AmiSession, msg: dict[str, str], ah: Headers) -> None:
    endpoint = msg.get("channel", "")
    if not endpoint:
        s.send([("Response", "Error"), *ah, ("Message", "Channel not specified")])
        return
    s.send([("Response", "Success"), *ah, ("Message", "Originate successfully queued")])
    timeout_s = int(msg.get("timeout", "30000") or 30000) / 1000
    s.sim.spawn(_originate_async(s, msg, ah, endpoint, timeout_s))


async def _originate_async(
    s: AmiSession, msg: dict[str, str], ah: Headers, endpoint: str, timeout_s: float
) -> None:
    sim = s.sim
    ep = sim.endpoints.get(endpoint)
    base = [
        ("Event", "OriginateResponse"),
        ("Privilege", "call,all"),
        ("Timestamp", f"{time.time():.6f}"),
        *ah,
    ]
    if ep is None or ep.state != "online":
        s.send(
            [
                *base,
                ("Response", "Failure"),
                ("Channel", endpoint),
                ("Context", "default"),
                ("Exten", "s"),
                ("Reason", "0"),
                ("Uniqueid", "<unknown>"),
                ("CallerIDNum", "<unknown>"),
                ("CallerIDName", "<unknown>"),
            ]
        )
        return
    answers = sim.rng.random() < ep.script.answer_prob and ep.script.answer_delay_s <= timeout_s
    await asyncio.sleep(ep.script.answer_delay_s if answers else timeout_s)
    uid = msg.get("channelid") or f"{int(time.time())}.{sim.rng.getrandbits(16)}"
    if answers:
        s.send(
            [
                *base,
                ("Response", "Success"),
                ("Channel", f"{endpoint}-00000001"),
                ("Context", msg.get("context", "")),
                ("Exten", msg.get("exten", "s")),
                ("Reason", "4"),
                ("Uniqueid", uid),
                ("CallerIDNum", "12345"),
                ("CallerIDName", "12345 Hotline"),
            ]
        )
    else:
        s.send(
            [
                *base,
                ("Response", "Failure"),
                ("Channel", endpoint),
                ("Reason", "3"),
                ("Uniqueid", "<unknown>"),
                ("CallerIDNum", "<unknown>"),
                ("CallerIDName", "<unknown>"),
            ]
        )


class AmiServer:
    def __init__(self, sim: SimAsterisk, user: str = "hotline", secret: str = "hotline") -> None:
        self.sim = sim
        self.creds = (user, secret)
        self.logins = 0
        self.sessions: set[AmiSession] = set()
        self._server: asyncio.AbstractServer | None = None
        self.actions: dict[str, Callable[[AmiSession, dict[str, str], Headers], None]] = {
            "ping": _ping,
            "logoff": _logoff,
            "command": _command,
            "pjsipshowendpoints": _endpoints,
            "coreshowchannels": _channels,
            "devicestatelist": _device_states,
            "queuestatus": _queue_status,
            "originate": _originate,
        }

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = AmiSession(self, reader, writer)
        self.sessions.add(session)
        try:
            await session.run()
        except (ConnectionError, SimError) as exc:
            log.debug("AMI session ended: %r", exc)
        finally:
            self.sessions.discard(session)

    def drop_all(self) -> None:
        for s in list(self.sessions):
            s.writer.close()

    async def close(self) -> None:
        self.drop_all()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
