"""The stand-in's state as data: channels, bridges, endpoints, seat scripts, counters, and
the error Asterisk answers with."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from .media import ChannelControl

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
    moh: bool = False  # music on hold playing to it (MOH started, or a hold indicated)
    held: bool = False  # hold indicated to it (ARI POST /channels/{id}/hold)
    muted: str = ""  # voice suppressed: "in" (from its phone), "out", "both" or ""
    transferred_to: str = ""  # the number the dialplan's transfer context dialled for it
    transfer_answered: bool = False  # ... and that number answered
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
    answer_delay_jitter_s: float = 0.0  # >0: each ring adds a uniform random 0..this to the delay


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
