"""Parsing ARI frames into typed events."""

from __future__ import annotations

import json

import pytest

from hotline.telephony import events as ev
from hotline.telephony.exceptions import MalformedEvent
from tests.conftest import CAPTURES, needs_captures


@needs_captures
@pytest.mark.parametrize(
    "name", ["ari_events_ari_stasis_bridge.jsonl", "ari_events_ari_external_media.jsonl"]
)
def test_every_recorded_frame_parses_to_a_known_type(name: str) -> None:
    lines = (CAPTURES / name).read_text().splitlines()
    parsed = [ev.parse_event(json.loads(line)) for line in lines]
    assert len(parsed) == len(lines)
    assert not [p for p in parsed if isinstance(p, ev.UnknownEvent)]
    starts = [p for p in parsed if isinstance(p, ev.StasisStart)]
    assert starts and all(isinstance(p.args, tuple) for p in starts)


@needs_captures
def test_recorded_agent_stasis_start_carries_call_id_in_args() -> None:
    lines = (CAPTURES / "ari_events_ari_stasis_bridge.jsonl").read_text().splitlines()
    starts = [
        e for e in map(ev.parse_event, map(json.loads, lines)) if isinstance(e, ev.StasisStart)
    ]
    assert starts[1].args == ("agent", "1795425003.0")
    assert starts[1].channel.id == "agent-23b02aab"


@pytest.mark.parametrize(
    "frame",
    [
        [],
        "x",
        42,
        {"no": "type"},
        {"type": 5},
        {"type": "StasisStart", "channel": "not-an-object"},
        {"type": "StasisStart", "args": "x", "channel": {"id": "1", "name": "n", "state": "Up"}},
        {"type": "ChannelDestroyed", "channel": {"id": 1}},
        {"type": "PlaybackFinished"},
    ],
)
def test_malformed_frames_raise_a_domain_error(frame: object) -> None:
    with pytest.raises(MalformedEvent):
        ev.parse_event(frame)


def test_unknown_types_are_kept_not_rejected() -> None:
    e = ev.parse_event({"type": "ChannelTalkingStarted", "channel": {}})
    assert isinstance(e, ev.UnknownEvent) and e.raw["type"] == "ChannelTalkingStarted"


def test_playback_target_channel_is_derived_from_its_uri() -> None:
    e = ev.parse_event(
        {
            "type": "PlaybackFinished",
            "playback": {
                "id": "p",
                "media_uri": "sound:x",
                "target_uri": "channel:1.5",
                "state": "done",
            },
        }
    )
    assert e.target_channel() == "1.5"
