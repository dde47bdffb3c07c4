"""RTP parsing and the jitter buffer: tables and properties, no sockets."""

from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.asr.rtp import (
    BadPacket,
    JitterBuffer,
    RtpPacket,
    parse,
    to_little_endian,
)
from hotline.simulator.rtp import rtp_packet

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "asterisk" / "captures"


def pkt(seq: int, ssrc: int = 7, fill: int | None = None) -> RtpPacket:
    b = (seq if fill is None else fill) & 0xFF
    return RtpPacket(seq & 0xFFFF, seq * 320, ssrc, 118, bytes([b, 0]) * 320)


def test_given_the_recorded_first_packets_when_rebuilt_and_parsed_then_fields_match() -> None:
    summary = json.loads((CAPTURES / "external_media_rtp_summary.json").read_text())
    for p in summary["first_packets"]:
        data = rtp_packet(p["seq"], p["ts"], p["ssrc"], b"\x00\x01" * 320)
        got = parse(data)
        assert (got.seq, got.timestamp, got.ssrc, got.payload_type) == (
            p["seq"],
            p["ts"],
            p["ssrc"],
            summary["payload_types"][0],
        )
        assert len(got.payload) == summary["payload_sizes"][0]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "short"),
        (b"\x80\x76\x00", "short"),
        (struct.pack("!BBHII", 0x40, 118, 1, 0, 1) + b"\0\0", "version"),
        (struct.pack("!BBHII", 0x80, 0, 1, 0, 1) + b"\0\0", "payload_type"),  # PCMU
        (struct.pack("!BBHII", 0x80, 118, 1, 0, 1), "payload_size"),  # no audio
        (struct.pack("!BBHII", 0x80, 118, 1, 0, 1) + b"\0\0\0", "payload_size"),  # odd
        (struct.pack("!BBHII", 0x80, 118, 1, 0, 1) + b"\0" * 320, "payload_size"),  # 8 kHz
        (struct.pack("!BBHII", 0x8F, 118, 1, 0, 1) + b"\0\0", "short"),  # 15 CSRCs missing
        (struct.pack("!BBHII", 0x90, 118, 1, 0, 1) + b"\0\0\0\x09", "short"),  # bad extension
    ],
)
def test_given_a_malformed_datagram_when_parsed_then_the_reason_is_named(
    data: bytes, reason: str
) -> None:
    with pytest.raises(BadPacket) as err:
        parse(data)
    assert err.value.reason == reason


def test_given_csrcs_extension_and_padding_when_parsed_then_only_the_audio_remains() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 1, 118, 5, 0, 9)
    csrc = struct.pack("!I", 42)
    ext = struct.pack("!HH", 0xBEDE, 1) + b"\1\2\3\4"
    audio = b"\x12\x34" * 320
    padding = b"\0\0\3"
    got = parse(header + csrc + ext + audio + padding)
    assert got.payload == audio


def test_given_big_endian_samples_when_converted_then_the_recogniser_gets_little_endian() -> None:
    assert to_little_endian(b"\x12\x34\xff\xfe") == b"\x34\x12\xfe\xff"


def _run(buf: JitterBuffer, seqs: list[int]) -> list[bytes]:
    out: list[bytes] = []
    for s in seqs:
        out += buf.push(pkt(s))
    return out + buf.flush()


@pytest.mark.parametrize(
    ("arrivals", "released", "stats"),
    [
        ([1, 2, 3, 4], [1, 2, 3, 4], {"lost": 0}),
        ([1, 3, 2, 4], [1, 2, 3, 4], {"lost": 0}),  # reordered within the window
        ([1, 2, 2, 3], [1, 2, 3], {"duplicate": 1}),
        ([1, 2, 4, 5, 6, 7, 8], [1, 2, None, 4, 5, 6, 7, 8], {"lost": 1}),  # 3 never came
        ([1, 2, 4, 5, 6, 7, 8, 3], [1, 2, None, 4, 5, 6, 7, 8], {"late": 1}),  # too late
        ([65534, 65535, 0, 1], [65534, 65535, 0, 1], {"lost": 0}),  # wrap
        ([65535, 1, 0, 2], [65535, 0, 1, 2], {"lost": 0}),  # reorder across the wrap
        ([10, 11, 5000, 5001], [10, 11, 5000, 5001], {"resets": 1}),  # sender restarted
    ],
)
def test_given_arrivals_when_buffered_then_frames_come_out_in_order_with_gaps_filled(
    arrivals: list[int], released: list[int | None], stats: dict[str, int]
) -> None:
    buf = JitterBuffer(depth=4)
    out = _run(buf, arrivals)
    silence = b"\0" * 640
    assert out == [silence if s is None else pkt(s).payload for s in released]
    for name, value in stats.items():
        assert getattr(buf.stats, name) == value


def test_given_a_new_ssrc_when_pushed_then_the_stream_starts_over() -> None:
    buf = JitterBuffer()
    out = buf.push(pkt(100, ssrc=1)) + buf.push(pkt(9, ssrc=2)) + buf.flush()
    assert out == [pkt(100).payload, pkt(9).payload] and buf.stats.resets == 1


@settings(max_examples=200, deadline=None)
@given(
    start=st.integers(0, 0xFFFF),
    n=st.integers(1, 120),
    seed=st.integers(0, 10_000),
    loss=st.floats(0, 0.3),
    dup=st.floats(0, 0.2),
)
def test_property_any_mild_jitter_keeps_order_and_time(
    start: int, n: int, seed: int, loss: float, dup: float
) -> None:
    """Reordering by at most two places, loss and duplicates: released frames never go
    backwards, every frame received in time comes out once, and the count of frames (time)
    spans exactly first..last received."""
    rng = random.Random(seed)
    seqs = [(start + i) & 0xFFFF for i in range(n)]
    kept = [s for s in seqs if rng.random() >= loss] or [seqs[0]]
    arrivals = list(kept)
    for i in range(len(arrivals) - 1):
        if rng.random() < 0.2:
            arrivals[i], arrivals[i + 1] = arrivals[i + 1], arrivals[i]
    arrivals += [s for s in kept if rng.random() < dup]
    buf = JitterBuffer(depth=4)
    out: list[bytes] = []
    for s in arrivals:
        out += buf.push(RtpPacket(s, 0, 1, 118, struct.pack("!H", s) * 320))
    out += buf.flush()
    labels = [struct.unpack("!H", f[:2])[0] if any(f) else None for f in out]
    real = [x for x in labels if x is not None]
    assert len(real) == len(set(real)), "no frame twice"
    assert real == sorted(real, key=lambda x: (x - arrivals[0]) & 0xFFFF), "in order"
    assert buf.stats.released == len(out)
    assert buf.stats.received == len(arrivals)
