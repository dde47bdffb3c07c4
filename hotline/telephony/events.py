"""Typed ARI resources and events, after ``ari-api-docs/events.json``.

Only the fields the product reads are typed; every event keeps its raw dict so nothing
Asterisk sent is lost. Unknown event types parse to :class:`UnknownEvent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .exceptions import MalformedEvent

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallerId:
    name: str = ""
    number: str = ""

    @classmethod
    def from_json(cls, d: Json | None) -> CallerId:
        d = d or {}
        return cls(name=str(d.get("name", "")), number=str(d.get("number", "")))


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    state: str
    caller: CallerId = CallerId()
    connected: CallerId = CallerId()
    dialplan: Json = field(default_factory=dict)
    creationtime: str = ""
    language: str = ""
    channelvars: Json = field(default_factory=dict)

    @classmethod
    def from_json(cls, d: Json) -> Channel:
        return cls(
            id=_str(d, "id"),
            name=_str(d, "name"),
            state=_str(d, "state"),
            caller=CallerId.from_json(d.get("caller")),
            connected=CallerId.from_json(d.get("connected")),
            dialplan=dict(d.get("dialplan") or {}),
            creationtime=str(d.get("creationtime", "")),
            language=str(d.get("language", "")),
            channelvars=dict(d.get("channelvars") or {}),
        )


@dataclass(frozen=True, slots=True)
class Bridge:
    id: str
    bridge_type: str = ""
    name: str = ""
    channels: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, d: Json) -> Bridge:
        return cls(
            id=_str(d, "id"),
            bridge_type=str(d.get("bridge_type", "")),
            name=str(d.get("name", "")),
            channels=tuple(str(c) for c in d.get("channels") or ()),
        )


@dataclass(frozen=True, slots=True)
class Playback:
    id: str
    media_uri: str
    target_uri: str
    state: str

    @classmethod
    def from_json(cls, d: Json) -> Playback:
        return cls(
            id=_str(d, "id"),
            media_uri=str(d.get("media_uri", "")),
            target_uri=str(d.get("target_uri", "")),
            state=str(d.get("state", "")),
        )


@dataclass(frozen=True, slots=True)
class LiveRecording:
    name: str
    format: str
    state: str
    target_uri: str
    duration: int | None = None

    @classmethod
    def from_json(cls, d: Json) -> LiveRecording:
        return cls(
            name=_str(d, "name"),
            format=str(d.get("format", "")),
            state=str(d.get("state", "")),
            target_uri=str(d.get("target_uri", "")),
            duration=d.get("duration"),
        )


@dataclass(frozen=True, slots=True)
class Endpoint:
    technology: str
    resource: str
    state: str
    channel_ids: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.technology}/{self.resource}"

    @classmethod
    def from_json(cls, d: Json) -> Endpoint:
        return cls(
            technology=_str(d, "technology"),
            resource=_str(d, "resource"),
            state=str(d.get("state", "")),
            channel_ids=tuple(d.get("channel_ids") or ()),
        )


def _str(d: Json, key: str) -> str:
    value = d.get(key)
    if not isinstance(value, str):
        raise MalformedEvent(f"field {key!r} missing or not a string", field=key)
    return value


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AriEvent:
    type: str
    timestamp: str
    application: str
    raw: Json = field(repr=False, compare=False)

    channel_id: ClassVar[str | None] = None

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(**_base(d))

    def target_channel(self) -> str | None:
        """The channel this event is about, for dispatch to its call session."""
        return None


def _base(d: Json) -> Json:
    return {
        "type": d["type"],
        "timestamp": str(d.get("timestamp", "")),
        "application": str(d.get("application", "")),
        "raw": d,
    }


@dataclass(frozen=True, slots=True)
class UnknownEvent(AriEvent):
    """An event type the product does not react to (counted, then ignored)."""


@dataclass(frozen=True, slots=True)
class ChannelEvent(AriEvent):
    channel: Channel

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(**_base(d), channel=Channel.from_json(_obj(d, "channel")))

    def target_channel(self) -> str | None:
        return self.channel.id


@dataclass(frozen=True, slots=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...] = ()

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        args = d.get("args", [])
        if not isinstance(args, list):
            raise MalformedEvent("StasisStart args is not a list")
        return cls(
            **_base(d),
            channel=Channel.from_json(_obj(d, "channel")),
            args=tuple(str(a) for a in args),
        )


@dataclass(frozen=True, slots=True)
class StasisEnd(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class ChannelStateChange(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class ChannelCreated(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class ChannelConnectedLine(ChannelEvent):
    pass


@dataclass(frozen=True, slots=True)
class ChannelHangupRequest(ChannelEvent):
    cause: int = 0
    soft: bool = False

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(
            **_base(d),
            channel=Channel.from_json(_obj(d, "channel")),
            cause=int(d.get("cause", 0) or 0),
            soft=bool(d.get("soft", False)),
        )


@dataclass(frozen=True, slots=True)
class ChannelDestroyed(ChannelEvent):
    cause: int = 0
    cause_txt: str = ""

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(
            **_base(d),
            channel=Channel.from_json(_obj(d, "channel")),
            cause=int(d.get("cause", 0) or 0),
            cause_txt=str(d.get("cause_txt", "")),
        )


@dataclass(frozen=True, slots=True)
class ChannelDtmfReceived(ChannelEvent):
    digit: str = ""
    duration_ms: int = 0

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(
            **_base(d),
            channel=Channel.from_json(_obj(d, "channel")),
            digit=str(d.get("digit", "")),
            duration_ms=int(d.get("duration_ms", 0) or 0),
        )


@dataclass(frozen=True, slots=True)
class ChannelVarset(AriEvent):
    variable: str = ""
    value: str = ""
    channel: Channel | None = None

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        ch = d.get("channel")
        return cls(
            **_base(d),
            variable=str(d.get("variable", "")),
            value=str(d.get("value", "")),
            channel=Channel.from_json(ch) if isinstance(ch, dict) else None,
        )

    def target_channel(self) -> str | None:
        return self.channel.id if self.channel else None


@dataclass(frozen=True, slots=True)
class BridgeEvent(AriEvent):
    bridge: Bridge

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(**_base(d), bridge=Bridge.from_json(_obj(d, "bridge")))


@dataclass(frozen=True, slots=True)
class BridgeCreated(BridgeEvent):
    pass


@dataclass(frozen=True, slots=True)
class BridgeDestroyed(BridgeEvent):
    pass


@dataclass(frozen=True, slots=True)
class ChannelBridgeEvent(AriEvent):
    bridge: Bridge
    channel: Channel

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(
            **_base(d),
            bridge=Bridge.from_json(_obj(d, "bridge")),
            channel=Channel.from_json(_obj(d, "channel")),
        )

    def target_channel(self) -> str | None:
        return self.channel.id


@dataclass(frozen=True, slots=True)
class ChannelEnteredBridge(ChannelBridgeEvent):
    pass


@dataclass(frozen=True, slots=True)
class ChannelLeftBridge(ChannelBridgeEvent):
    pass


@dataclass(frozen=True, slots=True)
class Dial(AriEvent):
    peer: Channel
    dialstatus: str = ""
    dialstring: str = ""
    caller: Channel | None = None

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        caller = d.get("caller")
        return cls(
            **_base(d),
            peer=Channel.from_json(_obj(d, "peer")),
            dialstatus=str(d.get("dialstatus", "")),
            dialstring=str(d.get("dialstring", "")),
            caller=Channel.from_json(caller) if isinstance(caller, dict) else None,
        )

    def target_channel(self) -> str | None:
        return self.peer.id


@dataclass(frozen=True, slots=True)
class PlaybackEvent(AriEvent):
    playback: Playback

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(**_base(d), playback=Playback.from_json(_obj(d, "playback")))

    def target_channel(self) -> str | None:
        uri = self.playback.target_uri
        return uri.split(":", 1)[1] if uri.startswith("channel:") else None


@dataclass(frozen=True, slots=True)
class PlaybackStarted(PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True)
class PlaybackContinuing(PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True)
class PlaybackFinished(PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True)
class RecordingEvent(AriEvent):
    recording: LiveRecording

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(**_base(d), recording=LiveRecording.from_json(_obj(d, "recording")))


@dataclass(frozen=True, slots=True)
class RecordingStarted(RecordingEvent):
    pass


@dataclass(frozen=True, slots=True)
class RecordingFinished(RecordingEvent):
    pass


@dataclass(frozen=True, slots=True)
class RecordingFailed(RecordingEvent):
    pass


@dataclass(frozen=True, slots=True)
class EndpointStateChange(AriEvent):
    endpoint: Endpoint

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        return cls(**_base(d), endpoint=Endpoint.from_json(_obj(d, "endpoint")))


@dataclass(frozen=True, slots=True)
class DeviceStateChanged(AriEvent):
    name: str
    state: str

    @classmethod
    def parse(cls, d: Json) -> AriEvent:
        ds = _obj(d, "device_state")
        return cls(**_base(d), name=_str(ds, "name"), state=str(ds.get("state", "")))


@dataclass(frozen=True, slots=True)
class ApplicationReplaced(AriEvent):
    """Another websocket took our application name: this connection gets no more events."""


EVENT_TYPES: dict[str, type[AriEvent]] = {
    c.__name__: c
    for c in (
        StasisStart,
        StasisEnd,
        ChannelStateChange,
        ChannelCreated,
        ChannelConnectedLine,
        ChannelHangupRequest,
        ChannelDestroyed,
        ChannelDtmfReceived,
        ChannelVarset,
        BridgeCreated,
        BridgeDestroyed,
        ChannelEnteredBridge,
        ChannelLeftBridge,
        Dial,
        PlaybackStarted,
        PlaybackContinuing,
        PlaybackFinished,
        RecordingStarted,
        RecordingFinished,
        RecordingFailed,
        EndpointStateChange,
        DeviceStateChanged,
        ApplicationReplaced,
    )
}


def _obj(d: Json, key: str) -> Json:
    value = d.get(key)
    if not isinstance(value, dict):
        raise MalformedEvent(f"field {key!r} missing or not an object", field=key)
    return value


def parse_event(message: Any) -> AriEvent:
    """Turn one decoded websocket frame into a typed event.

    Raises :class:`MalformedEvent` for frames that are not an event object at all or whose
    known type lacks a required field; unknown types become :class:`UnknownEvent`.
    """
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise MalformedEvent("frame is not an ARI event object")
    cls = EVENT_TYPES.get(message["type"], UnknownEvent)
    try:
        return cls.parse(message)
    except (TypeError, ValueError) as exc:
        raise MalformedEvent(f"{message['type']}: {exc}", type=message["type"]) from exc
