"""The stand-in's model of Asterisk: channels, bridges, playbacks, recordings, endpoints.

Events are emitted with the field names, types and order recorded from Asterisk 22. A
channel that entered Stasis from the dialplan stops being reported after its StasisEnd
(Asterisk unsubscribes the app); a channel the app originated is reported to its end.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .media import ChannelControl, SoundCatalogue, say_files

log = logging.getLogger(__name__)

Json = dict[str, Any]
ASTERISK_ID = "02:fc:00:00:00:01"


class SimError(Exception):
    """An ARI error response: status and body exactly as Asterisk sends them."""

    def __init__(self, status: int, message: str, key: str = "message") -> None:
        super().__init__(message)
        self.status = status
        self.body = {key: message}


def ts(t: float | None = None) -> str:
    t = time.time() if t is None else t
    lt = time.gmtime(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", lt) + f".{int((t % 1) * 1000):03d}+0000"


@dataclass
class SimChannel:
    id: str
    name: str
    state: str
    caller: Json
    connected: Json
    dialplan: Json
    creationtime: str
    kind: str  # caller | agent | citizen (rung through the trunk) | media | snoop
    protocol_id: str = ""
    language: str = "en"
    vars: dict[str, str] = field(default_factory=dict)
    in_stasis: bool = False
    subscribed: bool = False  # app sees events (in Stasis, or originated by the app)
    originated: bool = False
    bridge: str = ""
    moh: bool = False
    heard: list[str] = field(default_factory=list)  # every media URI played to it, in order
    endpoint: str = ""
    app_args: str = ""
    channelvars: Json | None = None
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    bridged_with_agent: asyncio.Event = field(default_factory=asyncio.Event)
    answered_at: float = 0.0
    speech: str = ""  # WAV file the caller "speaks", for externalMedia RTP
    missing_sounds: list[str] = field(default_factory=list)  # media Asterisk found no file for
    control: ChannelControl | None = None

    def to_json(self) -> Json:
        d: Json = {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": self.protocol_id,
            "caller": dict(self.caller),
            "connected": dict(self.connected),
            "accountcode": "",
            "dialplan": dict(self.dialplan),
            "creationtime": self.creationtime,
            "language": self.language,
        }
        if self.channelvars is not None:
            d["channelvars"] = dict(self.channelvars)
        return d


@dataclass
class SimBridge:
    id: str
    name: str
    bridge_type: str
    creationtime: str
    channels: list[str] = field(default_factory=list)
    technology: str = "simple_bridge"
    recording: str = ""

    def to_json(self) -> Json:
        return {
            "id": self.id,
            "technology": self.technology,
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "creationtime": self.creationtime,
            "video_mode": "talker",
        }


@dataclass
class SeatScript:
    """How a scripted operator's phone behaves when rung."""

    answer_delay_s: float = 1.0
    answer_prob: float = 1.0
    talk_s: float = 0.0  # >0: the operator hangs up after this long (else the caller does)
    speech: str = ""  # WAV (16 kHz) the operator "speaks", for externalMedia RTP


@dataclass
class SimEndpoint:
    technology: str
    resource: str
    state: str = "online"
    script: SeatScript = field(default_factory=SeatScript)
    channel_ids: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.technology}/{self.resource}"

    def to_json(self) -> Json:
        return {
            "technology": self.technology,
            "resource": self.resource,
            "state": self.state,
            "channel_ids": list(self.channel_ids),
        }


@dataclass
class SimStats:
    calls: int = 0
    stasis_calls: int = 0
    fallback_calls: int = 0
    fallback_answered: int = 0
    answered: int = 0
    abandoned: int = 0
    completed: int = 0
    originates: int = 0
    ws_drops: int = 0
    rest_requests: int = 0
    rest_errors: int = 0
    events_sent: int = 0
    events_dropped: int = 0
    rtp_packets: int = 0
    active_callers: int = 0
    max_active_callers: int = 0
    playbacks_failed: int = 0
    sounds_missing: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class SimAsterisk:
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

    def play(self, channel_id: str, media: str, playback_id: str | None, lang: str = "") -> Json:
        """Queue a playback on the channel (its REST reply comes at once, ``queued``); it
        starts when the channel's earlier commands are done."""
        ch = self._stasis_channel(channel_id)
        pb_id = playback_id or f"pb-{self.rng.getrandbits(32):08x}"
        if pb_id in self.playbacks:
            raise SimError(409, "Playback with the same id already exists")
        pb = {
            "id": pb_id,
            "media_uri": media,
            "target_uri": f"channel:{ch.id}",
            "language": lang or ch.language,
            "state": "queued",
        }
        self.playbacks[pb_id] = pb
        self._playback_stop[pb_id] = asyncio.Event()
        self.control(ch).post(lambda: self._perform_playback(ch, pb), quiet=True)
        return dict(pb)

    async def _perform_playback(self, ch: SimChannel, pb: Json) -> None:
        """``play_on_channel``: each media in turn; a sound with no file fails (the last
        media's failure is the playback's); number and digit files missing are silent."""
        pb_id = pb["id"]
        stop = self._playback_stop.get(pb_id)
        if pb_id not in self.playbacks or stop is None:
            return  # stopped while queued, or the channel is gone
        medias = pb["media_uri"].split(",")
        failed = False
        for i, media in enumerate(medias):
            pb["state"] = "playing" if i == 0 else "continuing"
            self.emit("PlaybackStarted" if i == 0 else "PlaybackContinuing", {"playback": dict(pb)})
            seconds, failed = self._media_length(ch, media, pb["language"])
            if not failed:
                ch.heard.append(media)
            if seconds > 0:
                try:
                    await asyncio.wait_for(stop.wait(), seconds)
                except TimeoutError:
                    pass
            if stop.is_set() or pb_id not in self.playbacks:
                break
        if failed:
            self.stats.playbacks_failed += 1
        self._finish_playback(pb_id, "failed" if failed else "done")

    def _media_length(self, ch: SimChannel, media: str, lang: str) -> tuple[float, bool]:
        """(seconds it plays, whether it failed) for one media URI."""
        scheme, _, name = media.partition(":")
        if scheme == "sound":
            if not self.catalogue.exists(name, lang):
                self._missing(ch, media)
                return 0.0, True
            return self.sounds.get(name, self.default_sound_s), False
        if scheme in ("number", "digits"):
            files = say_files(media)
            found = [f for f in files if self.catalogue.exists(f, lang)]
            for f in files:
                if f not in found:
                    self._missing(ch, f"sound:{f}")
            return (self.default_sound_s if found else 0.0), False
        return self.sounds.get(name, self.default_sound_s), False

    def _missing(self, ch: SimChannel, media: str) -> None:
        self.stats.sounds_missing += 1
        ch.missing_sounds.append(media)
        log.warning("stand-in: no sound file for %s (language %s) on %s", media, ch.language, ch.id)

    def _finish_playback(self, pb_id: str, state: str = "done") -> None:
        stop = self._playback_stop.pop(pb_id, None)
        if stop is not None:
            stop.set()
        pb = self.playbacks.pop(pb_id, None)
        if pb is None:
            return
        pb["state"] = state
        self.emit("PlaybackFinished", {"playback": dict(pb)})

    def stop_playback(self, pb_id: str) -> None:
        if pb_id not in self.playbacks:
            raise SimError(404, "Playback not found")
        self._finish_playback(pb_id)

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

    def continue_in_dialplan(self, ch: SimChannel, context: str = "") -> None:
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
        if ch.kind == "caller":
            self.stats.fallback_calls += 1
            self._enter_fallback_queue(ch)

    def originate(
        self,
        endpoint: str,
        app: str,
        app_args: str,
        channel_id: str | None,
        caller_id: str,
        timeout: int,
        variables: dict[str, str] | None = None,
    ) -> SimChannel:
        self.stats.originates += 1
        ep = self.endpoints.get(endpoint)
        trunk = ep is None and "@" in endpoint
        if trunk:
            # A citizen's phone through the trunk (callbacks, follow-up surveys).
            number = endpoint.split("/", 1)[-1].split("@", 1)[0]
            script = self.citizens.get(number, self.citizen_script)
            ep = SimEndpoint("PJSIP", endpoint.split("/", 1)[-1], script=script)
        if ep is None or ep.state != "online":
            raise SimError(500, "Allocation failed", key="error")
        if channel_id and channel_id in self.channels:
            raise SimError(409, "Channel with given unique ID already exists.")
        num = caller_id.split("<")[-1].rstrip(">").strip() if caller_id else ""
        name = caller_id.split("<")[0].strip().strip('"') if caller_id else ""
        ch = SimChannel(
            id=channel_id or self._uniqueid(),
            name=self._chan_name(endpoint),
            state="Down",
            caller={"name": name, "number": num},
            connected={"name": name, "number": num},
            dialplan={
                "context": "from-agent",
                "exten": "s",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
            creationtime=ts(),
            kind="citizen" if trunk else "agent",
            protocol_id=f"{self.rng.getrandbits(64):x}",
            subscribed=True,
            originated=True,
            endpoint=endpoint,
            app_args=app_args,
            speech=ep.script.speech,
        )
        for name, value in (variables or {}).items():
            ch.vars[name] = str(value)
            if name == "CHANNEL(language)":
                ch.language = str(value)
        self.channels[ch.id] = ch
        ep.channel_ids.append(ch.id)
        self.ami("Newchannel", self._ami_channel(ch))
        self.spawn(self._ring(ch, ep, app_args, timeout))
        return ch

    async def _ring(self, ch: SimChannel, ep: SimEndpoint, app_args: str, timeout: int) -> None:
        await asyncio.sleep(0)
        dial = {"forward": "", "dialstring": ep.resource}
        self.emit("Dial", {"dialstatus": "", **dial, "peer": ch.to_json()}, ch)
        self.emit("Dial", {"dialstatus": "RINGING", **dial, "peer": ch.to_json()}, ch)
        self._set_state(ch, "Ringing")
        script = ep.script
        answers = self.rng.random() < script.answer_prob
        wait = script.answer_delay_s if answers else float(timeout or 30)
        if answers and timeout and wait > timeout:
            answers, wait = False, float(timeout)
        try:
            await asyncio.wait_for(ch.gone.wait(), timeout=wait)
            return  # cancelled by the app before the seat answered
        except TimeoutError:
            pass
        if ch.id not in self.channels:
            return
        if not answers:
            self.emit("Dial", {"dialstatus": "NOANSWER", **dial, "peer": ch.to_json()}, ch)
            self._destroy(ch, 19, "User alerting, no answer")
            return
        self._set_state(ch, "Up")
        self.emit("Dial", {"dialstatus": "ANSWER", **dial, "peer": ch.to_json()}, ch)
        ch.dialplan = {
            "context": "from-agent",
            "exten": "s",
            "priority": 1,
            "app_name": "Stasis",
            "app_data": f"{self.app},{app_args}",
        }
        self._varset(ch, "STASISSTATUS", "")
        ch.in_stasis = True
        self.emit(
            "StasisStart",
            {"args": app_args.split(",") if app_args else [], "channel": ch.to_json()},
            ch,
        )
        if script.talk_s > 0:
            self.later(script.talk_s, self.remote_hangup, ch.id)

    def external_media(
        self,
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

    def snoop(self, channel_id: str, snoop_id: str | None, spy: str, app_args: str) -> SimChannel:
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

    def _answer_speech(self, agent: SimChannel) -> str:
        """What an operator says on this call: the caller's script for the answerer."""
        b = self.bridges.get(agent.bridge)
        for cid in b.channels if b else ():
            other = self.channels.get(cid)
            if other is not None and other is not agent and "ANSWER_SPEECH" in other.vars:
                return other.vars["ANSWER_SPEECH"]
        return ""

    # -- bridges -------------------------------------------------------------------------

    def create_bridge(self, bridge_id: str | None, bridge_type: str, name: str) -> SimBridge:
        bid = bridge_id or f"{self.rng.getrandbits(64):016x}"
        if bid in self.bridges:
            raise SimError(409, "Bridge with the same bridgeId already exists")
        b = SimBridge(id=bid, name=name, bridge_type=bridge_type or "mixing", creationtime=ts())
        self.bridges[bid] = b
        return b

    async def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        """Each channel joins on its own control, after whatever it is still doing (a
        playback or a recording holds the add back until it ends)."""
        b = self.get_bridge(bridge_id)
        chans = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise SimError(400, "Channel not found")
            if not ch.in_stasis:
                raise SimError(422, "Channel not in Stasis application")
            if ch.bridge and ch.bridge != bridge_id:
                raise SimError(409, "Channel currently recording or in another bridge")
            chans.append(ch)
        for ch in chans:
            await self.control(ch).post(functools.partial(self._join, b, ch))
        self._bridge_changed(b)

    def _join(self, b: SimBridge, ch: SimChannel) -> None:
        if b.id not in self.bridges:
            raise SimError(404, "Bridge not found")
        if ch.bridge == b.id:
            return
        if ch.bridge:
            raise SimError(409, "Channel currently recording or in another bridge")
        ch.bridge = b.id
        b.channels.append(ch.id)
        self.emit("ChannelEnteredBridge", {"bridge": b.to_json(), "channel": ch.to_json()}, ch)

    def _bridge_changed(self, b: SimBridge) -> None:
        members = [self.channels[c] for c in b.channels if c in self.channels]
        if len(members) >= 2:
            for ch in members:
                peer = next(m for m in members if m is not ch)
                self._varset(ch, "BRIDGEPEER", peer.name)
                self._varset(ch, "BRIDGEPVTCALLID", "")
            for ch in members:
                peer = next(m for m in members if m is not ch)
                line = {"name": peer.caller["name"], "number": peer.caller["number"]}
                if line["number"] and line != ch.connected:
                    ch.connected = line
                    self._ch_event("ChannelConnectedLine", ch)
            kinds = {m.kind for m in members}
            if kinds & {"caller", "citizen"} and "agent" in kinds:
                for m in members:
                    m.bridged_with_agent.set()
        self._start_media(b)

    def _leave_bridge(self, ch: SimChannel) -> None:
        b = self.bridges.get(ch.bridge)
        ch.bridge = ""
        if b is None or ch.id not in b.channels:
            return
        b.channels.remove(ch.id)
        self._varset(ch, "BRIDGEPEER", "")
        self.emit("ChannelLeftBridge", {"bridge": b.to_json(), "channel": ch.to_json()}, ch)

    def remove_from_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        b = self.get_bridge(bridge_id)
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise SimError(400, "Channel not found")
            if ch.id not in b.channels:
                raise SimError(422, "Channel not in this bridge")
            self._leave_bridge(ch)

    def destroy_bridge(self, bridge_id: str) -> None:
        b = self.get_bridge(bridge_id)
        if b.recording:
            self.stop_recording(b.recording)
        for cid in list(b.channels):
            if cid in self.channels:
                self._leave_bridge(self.channels[cid])
        del self.bridges[bridge_id]
        self.emit("BridgeDestroyed", {"bridge": b.to_json()})

    def record_bridge(self, bridge_id: str, name: str, fmt: str) -> Json:
        b = self.get_bridge(bridge_id)
        if not name:
            raise SimError(400, "Invalid parameters")
        if fmt not in ("wav", "gsm", "ulaw", "alaw", "sln", "wav49"):
            raise SimError(422, "The format specified is unknown on this system")
        rec = {
            "name": name,
            "format": fmt,
            "state": "queued",
            "target_uri": f"bridge:{b.id}",
            "_started": time.time(),
            "_speech": self._speech_of(b.channels),
        }
        self.live_recordings[name] = rec
        b.recording = name

        def started() -> None:
            if name in self.live_recordings:
                rec["state"] = "recording"
                self.emit("RecordingStarted", {"recording": _public(rec)})

        self.later(0.001, started)
        return _public(rec)

    def record_channel(
        self,
        channel_id: str,
        name: str,
        fmt: str,
        max_s: float,
        terminate_on: str,
        beep: bool = False,
    ) -> Json:
        """Queue a recording on the channel; it holds the channel's commands until it
        stops. With ``beep`` and no beep sound, Asterisk records nothing and still reports
        the recording finished."""
        ch = self._stasis_channel(channel_id)
        if not name:
            raise SimError(400, "Invalid parameters")
        if fmt not in ("wav", "gsm", "ulaw", "alaw", "sln", "wav49"):
            raise SimError(422, "The format specified is unknown on this system")
        if name in self.live_recordings:
            raise SimError(409, "Recording with the same name already in progress")
        rec = {
            "name": name,
            "format": fmt,
            "state": "queued",
            "target_uri": f"channel:{ch.id}",
            "_started": time.time(),
            "_terminate": terminate_on,
            "_speech": self._speech_of([ch.id]),
            "_done": asyncio.Event(),
            "_empty": False,
        }
        self.live_recordings[name] = rec
        self._channel_recs.setdefault(ch.id, set()).add(name)
        self.control(ch).post(lambda: self._perform_recording(ch, rec, max_s, beep), quiet=True)
        return _public(rec)

    async def _perform_recording(self, ch: SimChannel, rec: Json, max_s: float, beep: bool) -> None:
        name = rec["name"]
        if name not in self.live_recordings:
            return
        rec["state"] = "recording"
        rec["_started"] = time.time()
        self.emit("RecordingStarted", {"recording": _public(rec)})
        if beep and not self.catalogue.exists("beep", ch.language):
            self._missing(ch, "sound:beep")
            rec["_empty"] = True
            self.stop_recording(name)
            return
        if max_s > 0:
            self.later(max_s, self._stop_if_live, name)
        await rec["_done"].wait()

    def _stop_if_live(self, name: str) -> None:
        if name in self.live_recordings:
            self.stop_recording(name)

    def stop_recording(self, name: str) -> None:
        rec = self.live_recordings.pop(name, None)
        if rec is None:
            raise SimError(404, "Recording not found")
        target = rec["target_uri"].removeprefix("channel:")
        names = self._channel_recs.get(target)
        if names is not None:
            names.discard(name)
            if not names:
                del self._channel_recs[target]
        if "_done" in rec:
            rec["_done"].set()
        rec["state"] = "done"
        elapsed = 0.0 if rec.get("_empty") else time.time() - rec["_started"]
        duration = round(elapsed)
        if self.recordings_dir and not rec.get("_empty"):
            write_recording(Path(self.recordings_dir) / f"{name}.wav", rec["_speech"], elapsed)
        self.stored_recordings[name] = {
            "name": name,
            "format": rec["format"],
            "_duration": duration,
        }
        for b in self.bridges.values():
            if b.recording == name:
                b.recording = ""
        self.emit("RecordingFinished", {"recording": {**_public(rec), "duration": duration}})

    def _speech_of(self, channel_ids: list[str]) -> list[str]:
        out = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is not None and (ch.speech or "ANSWER_SPEECH" in ch.vars):
                out.append(ch.speech or ch.vars["ANSWER_SPEECH"])
        return out

    # -- fallback queue (the dialplan's Queue(fallback)) -------------------------------------

    def _enter_fallback_queue(self, ch: SimChannel) -> None:
        self.fallback_waiting.append(ch.id)
        self.ami(
            "QueueCallerJoin",
            [
                *self._ami_channel(ch),
                ("Queue", "fallback"),
                ("Position", str(len(self.fallback_waiting))),
                ("Count", str(len(self.fallback_waiting))),
            ],
        )
        self.spawn(self._fallback_connect(ch))

    async def _fallback_connect(self, ch: SimChannel) -> None:
        while ch.id in self.channels:
            free = [
                ep for ep in self.endpoints.values() if ep.state == "online" and not ep.channel_ids
            ]
            if free:
                ep = self.rng.choice(free)
                ep.channel_ids.append(f"fallback-{ch.id}")
                await asyncio.sleep(ep.script.answer_delay_s)
                if ch.id in self.fallback_waiting:
                    self.fallback_waiting.remove(ch.id)
                if ch.id in self.channels:
                    self.stats.fallback_answered += 1
                    ch.bridged_with_agent.set()
                    self.ami("QueueCallerLeave", [*self._ami_channel(ch), ("Queue", "fallback")])
                    self.ami(
                        "AgentConnect",
                        [*self._ami_channel(ch), ("Queue", "fallback"), ("Interface", ep.name)],
                    )
                    await ch.gone.wait()
                ep.channel_ids.remove(f"fallback-{ch.id}")
                return
            await asyncio.sleep(0.2)

    # -- media ---------------------------------------------------------------------------

    def _start_media(self, b: SimBridge) -> None:
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

    def _stop_rtp(self, channel_id: str) -> None:
        sender = self._rtp_senders.pop(channel_id, None)
        if sender is not None:
            sender.stop()
        sock = self._media_socks.pop(channel_id, None)
        if sock is not None:
            sock.close()

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

    def application_json(self) -> Json:
        return {
            "name": self.app,
            "channel_ids": [c.id for c in self.channels.values() if c.subscribed],
            "bridge_ids": list(self.bridges),
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


def _public(rec: Json) -> Json:
    return {k: v for k, v in rec.items() if not k.startswith("_")}


def write_recording(path: Path, speech: list[str], seconds: float) -> None:
    """What Asterisk would have recorded: the speakers' audio mixed, ``seconds`` long,
    8 kHz 16-bit mono."""
    import wave

    import numpy as np

    n = int(seconds * 16000)
    mix = np.zeros(n, np.int32)
    for wav in speech:
        with wave.open(wav) as w:
            x = np.frombuffer(w.readframes(w.getnframes()), "<i2")[:n]
        mix[: len(x)] += x
    pcm8k = mix[: n - n % 2].reshape(-1, 2).mean(axis=1).clip(-32768, 32767).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm8k.tobytes())
