"""RTP as Asterisk's externalMedia sends it: payload type 118, slin16 big-endian,
640-byte payloads (20 ms at 16 kHz) every 20 ms."""

from __future__ import annotations

import asyncio
import random
import socket
import struct
import sys
import time
import wave
from array import array
from typing import Any

from hotline.asr.rtp import FRAME_BYTES, FRAME_S, FRAME_SAMPLES, PAYLOAD_TYPE


def load_slin16_be(path: str) -> bytes:
    """16 kHz mono 16-bit WAV → big-endian samples (as externalMedia sends them)."""
    with wave.open(path, "rb") as w:
        if w.getframerate() != 16000 or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(
                f"{path}: need 16 kHz mono 16-bit, got {w.getframerate()} Hz "
                f"{w.getnchannels()} ch {8 * w.getsampwidth()} bit"
            )
        samples = array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "little":
        samples.byteswap()
    return samples.tobytes()


def rtp_packet(seq: int, timestamp: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    b1 = (0x80 if marker else 0) | PAYLOAD_TYPE
    return struct.pack("!BBHII", 0x80, b1, seq & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc) + payload


class RtpSender:
    """Streams a WAV (or silence) to ``addr`` in real time until stopped."""

    def __init__(
        self,
        addr: tuple[str, int],
        wav: str | None,
        stats: Any = None,
        max_seconds: float = 7200.0,
        sock: socket.socket | None = None,
    ) -> None:
        self.addr = addr
        self.sock = sock  # bound to the channel's UNICASTRTP_LOCAL_PORT
        self.audio = load_slin16_be(wav) if wav else b""
        self.stats = stats
        self.max_frames = int(max_seconds / FRAME_S)
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        if self.sock is not None:
            self.sock.connect(self.addr)
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, sock=self.sock
            )
        else:
            transport, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=self.addr
            )
        seq = random.getrandbits(16)
        stamp = random.getrandbits(32)
        ssrc = random.getrandbits(32)
        start = time.monotonic()
        try:
            for n in range(self.max_frames):
                if self._stop.is_set():
                    break
                off = n * FRAME_BYTES
                chunk = self.audio[off : off + FRAME_BYTES]
                chunk = chunk + b"\x00" * (FRAME_BYTES - len(chunk))
                transport.sendto(rtp_packet(seq + n, stamp + n * FRAME_SAMPLES, ssrc, chunk))
                if self.stats is not None:
                    self.stats.rtp_packets += 1
                delay = start + (n + 1) * FRAME_S - time.monotonic()
                if delay > 0:
                    try:
                        await asyncio.wait_for(self._stop.wait(), timeout=delay)
                    except TimeoutError:
                        pass
        finally:
            transport.close()
