"""The stand-in's model of Asterisk: channels, bridges, playbacks, recordings, endpoints.

Events are emitted with the field names, types and order recorded from Asterisk 22. A
channel that entered Stasis from the dialplan stops being reported after its StasisEnd
(Asterisk unsubscribes the app); a channel the app originated is reported to its end.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import socket
import time
from collections.abc import Callable
from typing import Any

from .bridges_ops import BridgeOps
from .dial_ops import TRANSFER_CONTEXT, DialOps
from .media import ChannelControl, SoundCatalogue
from .media_ops import MediaOps
from .state import (  # re-exported: the stand-in's vocabulary
    ASTERISK_ID,
    Json,
    SeatScript,
    SimBridge,
    SimChannel,
    SimEndpoint,
    SimError,
    SimStats,
    ts,
)
from .taps_ops import TapOps

log = logging.getLogger(__name__)


class SimAsterisk(MediaOps, BridgeOps, TapOps, DialOps):
    """State and behaviour; the HTTP and AMI servers are thin layers over this."""

    def __init__(
        self,
        app: str = "hotline",
        sounds: dict[str, float] | None = None,
        default_sound_s: float = 2.0,
        seed: int | None = None,
        catalogue: SoundCatalogue | None = None,
        caller_language: str = "en",
        snoop_stasis_delay_s: float = 0.02,
    ) -> None:
        self.app = app
        # Which sound files exist (None: all of them), and the language an inbound channel
        # starts with (the endpoint's ``language``; Asterisk's default is en).
        self.catalogue = catalogue or SoundCatalogue()
        self.caller_language = caller_language
        # A snoop channel enters Stasis from its own thread, after the REST reply.
        self.snoop_stasis_delay_s = snoop_stasis_delay_s
        self.channels: dict[str, SimChannel] = {}
        self.bridges: dict[str, SimBridge] = {}
        self.snoops: list[tuple[str, str, str, str]] = []  # (snoop, target, spy, whisper)
        self.playbacks: dict[str, Json] = {}
        self._playback_stop: dict[str, asyncio.Event] = {}
        self.live_recordings: dict[str, Json] = {}
        self._channel_recs: dict[str, set[str]] = {}  # channel id → its live recordings
        self.stored_recordings: dict[str, Json] = {}
        self.endpoints: dict[str, SimEndpoint] = {}
        self.sounds = sounds or {}
        # Citizens' phones rung through the trunk: a default script, or one per number.
        self.citizen_script = SeatScript(answer_delay_s=0.3)
        self.citizens: dict[str, SeatScript] = {}
        self.default_sound_s = default_sound_s
        self.stats = SimStats()
        self.rng = random.Random(seed)
        self.ws_clients: set[asyncio.Queue[Json | None]] = set()
        self.other_apps: dict[str, set[asyncio.Queue[Json | None]]] = {}  # see events_ws
        self.ami_listeners: list[Callable[[str, list[tuple[str, str]]], None]] = []
        self.fallback_waiting: list[str] = []
        self._seq = itertools.count()
        self._epoch = int(time.time())
        self._rtp_senders: dict[str, Any] = {}
        self._media_socks: dict[str, socket.socket] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        # Where finished recordings are written as 8 kHz WAV (like Asterisk's "wav"), from
        # the speech of the channels recorded; None: recordings are metadata only.
        self.recordings_dir: str | None = None

    # -- plumbing ------------------------------------------------------------------------

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)
        return t

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        asyncio.get_running_loop().call_later(max(0.0, delay), fn, *args)

    @property
    def app_connected(self) -> bool:
        return bool(self.ws_clients)

    def emit(
        self, type_: str, fields: Json, channel: SimChannel | None = None, always: bool = False
    ) -> None:
        """Send one event to the app, unless the channel is not (or no longer) ours."""
        if channel is not None and not channel.subscribed and not always:
            return
        if not self.ws_clients:
            self.stats.events_dropped += 1
            return
        event = {
            "type": type_,
            "timestamp": ts(),
            **fields,
            "asterisk_id": ASTERISK_ID,
            "application": self.app,
        }
        for q in self.ws_clients:
            q.put_nowait(event)
        self.stats.events_sent += 1

    def ami(self, event: str, headers: list[tuple[str, str]]) -> None:
        for listener in list(self.ami_listeners):
            listener(event, headers)

    def _ch_event(self, type_: str, ch: SimChannel, **extra: Any) -> None:
        self.emit(type_, {**extra, "channel": ch.to_json()}, ch)

    def _varset(self, ch: SimChannel, name: str, value: str) -> None:
        ch.vars[name] = value
        self.emit("ChannelVarset", {"variable": name, "value": value, "channel": ch.to_json()}, ch)

    def _uniqueid(self) -> str:
        return f"{self._epoch}.{next(self._seq)}"

    def _chan_name(self, base: str) -> str:
        return f"{base}-{next(self._seq):08x}"

    def get_channel(self, channel_id: str) -> SimChannel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise SimError(404, "Channel not found")
        return ch

    def _stasis_channel(self, channel_id: str) -> SimChannel:
        ch = self.get_channel(channel_id)
        if not ch.in_stasis:
            raise SimError(409, "Channel not in a Stasis application")
        return ch

    def control(self, ch: SimChannel) -> ChannelControl:
        if ch.control is None:
            ch.control = ChannelControl(
                ch.id, lambda: SimError(422, "Channel not in Stasis application")
            )
        return ch.control

    async def run_on(self, channel_id: str, command: Callable[[SimChannel], Any]) -> Any:
        """A command whose REST reply waits until it has run on the channel (answer,
        variables, bridge changes): behind any playback or recording still in progress."""
        ch = self._stasis_channel(channel_id)
        return await self.control(ch).post(lambda: command(ch))

    def queue_on(self, channel_id: str, command: Callable[[SimChannel], Any]) -> None:
        """A command Asterisk queues and replies to at once (music, continue)."""
        ch = self._stasis_channel(channel_id)
        self.control(ch).post(lambda: command(ch), quiet=True)

    def get_bridge(self, bridge_id: str) -> SimBridge:
        b = self.bridges.get(bridge_id)
        if b is None:
            raise SimError(404, "Bridge not found")
        return b

    # -- endpoints -----------------------------------------------------------------------

    def add_endpoint(
        self, resource: str, script: SeatScript | None = None, technology: str = "PJSIP"
    ) -> SimEndpoint:
        ep = SimEndpoint(technology, resource, script=script or SeatScript())
        self.endpoints[ep.name] = ep
        return ep

    def set_endpoint_state(self, name: str, state: str) -> None:
        ep = self.endpoints[name]
        ep.state = state
        self.emit("EndpointStateChange", {"endpoint": ep.to_json()})
        self.ami(
            "DeviceStateChange",
            [("Device", name), ("State", "NOT_INUSE" if state == "online" else "UNAVAILABLE")],
        )

    # -- inbound calls -------------------------------------------------------------------

    def incoming_call(
        self, number: str, line: str = "12345", speech: str = "", answer_speech: str = ""
    ) -> SimChannel:
        """A citizen dials ``line``; the dialplan runs Stasis(hotline,inbound,<line>).
        ``speech`` is what the caller says; ``answer_speech`` what the operator who takes
        the call says (unless the seat has its own)."""
        self.stats.calls += 1
        now = ts()
        ch = SimChannel(
            id=self._uniqueid(),
            name=self._chan_name("PJSIP/caller"),
            state="Ring",
            caller={"name": number, "number": number},
            connected={"name": "", "number": ""},
            dialplan={
                "context": "from-caller",
                "exten": line,
                "priority": 2,
                "app_name": "Stasis",
                "app_data": f"{self.app},inbound,{line}",
            },
            creationtime=now,
            kind="caller",
            protocol_id=f"{self.rng.getrandbits(32)}@127.0.0.1",
            language=self.caller_language,
            speech=speech,
        )
        if answer_speech:
            ch.vars["ANSWER_SPEECH"] = answer_speech
        self.channels[ch.id] = ch
        self.stats.active_callers += 1
        self.stats.max_active_callers = max(
            self.stats.max_active_callers, self.stats.active_callers
        )
        self.ami("Newchannel", self._ami_channel(ch))
        if not self.app_connected:
            # Asterisk destroyed the app when its websocket closed: Stasis() fails at
            # once and the dialplan falls back to Queue(fallback).
            ch.vars["STASISSTATUS"] = "FAILED"
            self.stats.fallback_calls += 1
            self._enter_fallback_queue(ch)
            return ch
        self.stats.stasis_calls += 1
        ch.in_stasis = ch.subscribed = True
        ch.app_args = f"inbound,{line}"
        self.emit("StasisStart", {"args": ["inbound", line], "channel": ch.to_json()}, ch)
        return ch

    def remote_hangup(self, channel_id: str, cause: int = 16) -> None:
        """The far end hangs up (a caller's BYE, an operator putting the phone down)."""
        ch = self.channels.get(channel_id)
        if ch is None:
            return
        self._ch_event("ChannelHangupRequest", ch, cause=cause)
        self._destroy(ch, cause, "Normal Clearing")

    def send_dtmf(self, channel_id: str, digit: str, duration_ms: int = 100) -> None:
        ch = self.channels.get(channel_id)
        if ch is not None:
            self._ch_event("ChannelDtmfReceived", ch, digit=digit, duration_ms=duration_ms)
            for name in list(self._channel_recs.get(ch.id, ())):
                if digit in self.live_recordings[name].get("_terminate", ""):
                    self.stop_recording(name)

    # -- REST operations -----------------------------------------------------------------

    def answer(self, ch: SimChannel) -> None:
        if ch.state != "Up":
            self._set_state(ch, "Up")

    def _set_state(self, ch: SimChannel, state: str) -> None:
        ch.state = state
        if state == "Up" and not ch.answered_at:
            ch.answered_at = time.time()
        self._ch_event("ChannelStateChange", ch)
        self.ami("Newstate", self._ami_channel(ch))

    def hangup(self, channel_id: str, reason: str = "normal") -> None:
        if reason not in ("normal", "busy", "congestion", "no_answer", "answered_elsewhere", ""):
            raise SimError(400, "Invalid reason for hangup provided")
        ch = self.get_channel(channel_id)
        self._ch_event("ChannelHangupRequest", ch, cause=32, soft=True)
        self._destroy(ch, 16, "Normal Clearing")

    def _destroy(self, ch: SimChannel, cause: int, cause_txt: str) -> None:
        if ch.id not in self.channels:
            return
        if ch.control is not None:
            ch.control.close()
        for pb_id, pb in list(self.playbacks.items()):
            if pb["target_uri"] == f"channel:{ch.id}":
                self._finish_playback(pb_id)
        for name in list(self._channel_recs.get(ch.id, ())):
            self.stop_recording(name)
        if ch.bridge:
            self._leave_bridge(ch)
        if ch.in_stasis:
            ch.in_stasis = False
            self._ch_event("StasisEnd", ch)
            if ch.originated:
                self._varset(ch, "STASISSTATUS", "SUCCESS")
            else:
                ch.subscribed = False
        self._stop_rtp(ch.id)
        del self.channels[ch.id]
        if ch.kind == "caller":
            self.stats.active_callers -= 1
        ep = self.endpoints.get(ch.endpoint)
        if ep and ch.id in ep.channel_ids:
            ep.channel_ids.remove(ch.id)
        if ch.id in self.fallback_waiting:
            self.fallback_waiting.remove(ch.id)
        self._ch_event("ChannelDestroyed", ch, cause=cause, cause_txt=cause_txt)
        self.ami(
            "Hangup", [*self._ami_channel(ch), ("Cause", str(cause)), ("Cause-txt", cause_txt)]
        )
        ch.gone.set()

    def hold(self, ch: SimChannel, on: bool) -> None:
        """``ast_indicate(HOLD)`` on the channel: chan_pjsip (moh_passthrough off, as the
        shipped pjsip.conf has it) plays it music on hold itself. Asterisk publishes no
        ChannelHold for an indication (only for a hold *queued* by a phone's re-INVITE)."""
        if ch.held == on:
            return
        ch.held = on
        self.moh(ch, on)

    def mute(self, ch: SimChannel, direction: str, on: bool) -> None:
        if on:
            ch.muted = "both" if ch.muted not in ("", direction) else direction
        elif direction == "both" or ch.muted == direction:
            ch.muted = ""
        elif ch.muted == "both":
            ch.muted = "out" if direction == "in" else "in"

    def moh(self, ch: SimChannel, on: bool) -> None:
        ch.moh = on
        self.ami(
            "MusicOnHoldStart" if on else "MusicOnHoldStop",
            [*self._ami_channel(ch), ("Class", "default")] if on else self._ami_channel(ch),
        )

    def set_var(self, ch: SimChannel, name: str, value: str) -> None:
        if name == "CHANNEL(language)":
            ch.language = value
        self._varset(ch, name, value)

    def get_var(self, channel_id: str, name: str) -> str:
        ch = self.get_channel(channel_id)
        if name == "CALLERID(num)":
            return str(ch.caller["number"])
        if name in (ch.channelvars or {}):
            return str((ch.channelvars or {})[name])
        if name not in ch.vars:
            raise SimError(404, "Provided variable was not found")
        return ch.vars[name]

    def continue_in_dialplan(self, ch: SimChannel, context: str = "", exten: str = "") -> None:
        if not ch.in_stasis or ch.id not in self.channels:
            return
        if ch.control is not None:
            ch.control.close()
            ch.control = None
        if ch.bridge:
            self._leave_bridge(ch)
        ch.in_stasis = False
        self._ch_event("StasisEnd", ch)
        ch.subscribed = ch.originated
        if context == TRANSFER_CONTEXT and exten:
            self._dial_transfer(ch, exten)
        elif ch.kind == "caller":
            self.stats.fallback_calls += 1
            self._enter_fallback_queue(ch)

    # -- AMI views -----------------------------------------------------------------------

    def _ami_channel(self, ch: SimChannel) -> list[tuple[str, str]]:
        codes = {"Down": "0", "Ring": "4", "Ringing": "5", "Up": "6"}
        return [
            ("Channel", ch.name),
            ("ChannelState", codes.get(ch.state, "0")),
            ("ChannelStateDesc", ch.state),
            ("CallerIDNum", ch.caller["number"] or "<unknown>"),
            ("CallerIDName", ch.caller["name"] or "<unknown>"),
            ("ConnectedLineNum", ch.connected["number"] or "<unknown>"),
            ("ConnectedLineName", ch.connected["name"] or "<unknown>"),
            ("Language", ch.language),
            ("AccountCode", ""),
            ("Context", ch.dialplan.get("context", "")),
            ("Exten", ch.dialplan.get("exten", "")),
            ("Priority", str(ch.dialplan.get("priority", 1))),
            ("Uniqueid", ch.id),
            ("Linkedid", ch.id),
        ]

    def application_json(self, name: str = "") -> Json:
        ours = not name or name == self.app
        return {
            "name": name or self.app,
            "channel_ids": [c.id for c in self.channels.values() if c.subscribed and ours],
            "bridge_ids": list(self.bridges) if ours else [],
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }

    async def close(self) -> None:
        for s in list(self._rtp_senders.values()):
            s.stop()
        for t in list(self._tasks):
            t.cancel()


__all__ = [
    "ASTERISK_ID",
    "Json",
    "SeatScript",
    "SimAsterisk",
    "SimBridge",
    "SimChannel",
    "SimEndpoint",
    "SimError",
    "SimStats",
    "ts",
]
