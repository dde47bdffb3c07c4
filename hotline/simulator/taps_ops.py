"""The stand-in's speech taps: snoop channels (in Stasis after the REST reply) and externalMedia
channels (in Stasis before it, as recorded), and the RTP they send from a bridge."""

# mypy: disable-error-code="misc"
# (A mixin of SimAsterisk annotates self as SimAsterisk, so its attribute use is checked;
# mypy calls such a self type "not a supertype" under the misc code.)
from __future__ import annotations

import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import SimAsterisk

from .state import Json, SimBridge, SimChannel, SimError, ts

SNOOP_DIRECTIONS = ("none", "both", "out", "in")


class TapOps:
    """Part of :class:`~.model.SimAsterisk` (a mixin: the state lives there)."""

    def external_media(
        self: SimAsterisk,
        app: str,
        external_host: str,
        fmt: str,
        channel_id: str | None,
        encapsulation: str = "rtp",
        transport: str = "udp",
    ) -> tuple[SimChannel, Json]:
        if not external_host or ":" not in external_host:
            raise SimError(400, "external_host is required")
        if fmt != "slin16":
            raise SimError(422, "The format specified is unknown on this system")
        # Asterisk sends from the address it reports in UNICASTRTP_LOCAL_*; so do we.
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        local_port = sock.getsockname()[1]
        ch = SimChannel(
            id=channel_id or self._uniqueid(),
            name=f"UnicastRTP/{external_host}-0x{self.rng.getrandbits(44):x}",
            state="Down",
            caller={"name": "", "number": ""},
            connected={"name": "", "number": ""},
            dialplan={
                "context": "default",
                "exten": "s",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
            creationtime=ts(),
            kind="media",
            subscribed=True,
            originated=True,
            channelvars={
                "STASISSTATUS": "",
                "UNICASTRTP_LOCAL_PORT": str(local_port),
                "UNICASTRTP_LOCAL_ADDRESS": "127.0.0.1",
            },
        )
        ch.vars["EXTERNAL_HOST"] = external_host
        self._media_socks[ch.id] = sock
        self.channels[ch.id] = ch
        reply = ch.to_json()
        ch.channelvars = None

        def enter() -> None:
            if ch.id not in self.channels:
                return
            dialstring = f"{external_host}/c({fmt})"
            self.emit(
                "Dial",
                {"dialstatus": "", "forward": "", "dialstring": dialstring, "peer": ch.to_json()},
                ch,
            )
            self._set_state(ch, "Up")
            self.emit(
                "Dial",
                {
                    "dialstatus": "ANSWER",
                    "forward": "",
                    "dialstring": dialstring,
                    "peer": ch.to_json(),
                },
                ch,
            )
            self._varset(ch, "STASISSTATUS", "")
            ch.in_stasis = True
            self.emit("StasisStart", {"args": [], "channel": ch.to_json()}, ch)

        # As recorded: the channel is up and in Stasis before the REST reply is sent.
        enter()
        return ch, reply

    def snoop(
        self: SimAsterisk,
        channel_id: str,
        snoop_id: str | None,
        spy: str,
        app_args: str,
        whisper: str = "none",
    ) -> SimChannel:
        # As res/ari/resource_channels.c checks them: spy is what the snoop hears of the
        # channel, whisper where what it is sent goes (out: to the channel's own party only).
        for name, value in (("spy", spy), ("whisper", whisper)):
            if value not in SNOOP_DIRECTIONS:
                raise SimError(400, f"Invalid direction specified for {name}")
        if spy == "none" and whisper == "none":
            raise SimError(400, "Direction must be specified for at least spy or whisper")
        target = self._stasis_channel(channel_id)
        ch = SimChannel(
            id=snoop_id or self._uniqueid(),
            name=self._chan_name(f"Snoop/{target.id}"),
            state="Up",
            caller={"name": "", "number": ""},
            connected={"name": "", "number": ""},
            dialplan={
                "context": "default",
                "exten": "s",
                "priority": 1,
                "app_name": "Stasis",
                "app_data": f"{self.app},{app_args}",
            },
            creationtime=ts(),
            kind="snoop",
            subscribed=True,
            originated=True,
            speech=target.speech or self._answer_speech(target),
        )
        ch.vars["SNOOP_TARGET"] = target.id
        ch.vars["SNOOP_SPY"] = spy
        ch.vars["SNOOP_WHISPER"] = whisper
        self.snoops.append((ch.id, target.id, spy, whisper))
        self.channels[ch.id] = ch

        def enter() -> None:
            if ch.id not in self.channels:
                return
            ch.in_stasis = True
            args = app_args.split(",") if app_args else []
            self.emit("StasisStart", {"args": args, "channel": ch.to_json()}, ch)

        # Its own thread puts it in Stasis, after the REST reply (do not rely on the order).
        self.later(self.snoop_stasis_delay_s, enter)
        return ch

    def _answer_speech(self: SimAsterisk, agent: SimChannel) -> str:
        """What an operator says on this call: the caller's script for the answerer."""
        b = self.bridges.get(agent.bridge)
        for cid in b.channels if b else ():
            other = self.channels.get(cid)
            if other is not None and other is not agent and "ANSWER_SPEECH" in other.vars:
                return other.vars["ANSWER_SPEECH"]
        return ""

    def _start_media(self: SimAsterisk, b: SimBridge) -> None:
        from .rtp import RtpSender

        members = [self.channels[c] for c in b.channels if c in self.channels]
        speech = next((m.speech for m in members if m.speech), "")
        for m in members:
            if m.kind == "media" and m.id not in self._rtp_senders:
                host, port = m.vars["EXTERNAL_HOST"].rsplit(":", 1)
                sock = self._media_socks.pop(m.id, None)
                sender = RtpSender((host, int(port)), speech or None, self.stats, sock=sock)
                self._rtp_senders[m.id] = sender
                self.spawn(sender.run())

    def _stop_rtp(self: SimAsterisk, channel_id: str) -> None:
        sender = self._rtp_senders.pop(channel_id, None)
        if sender is not None:
            sender.stop()
        sock = self._media_socks.pop(channel_id, None)
        if sock is not None:
            sock.close()
