"""The RTP receiver over real UDP sockets on loopback."""

from __future__ import annotations

import asyncio
import socket
import struct

from hotline.asr.receiver import RtpReceiver, RtpStream
from hotline.simulator.rtp import rtp_packet
from tests.conftest import wait_for


def frame(n: int) -> bytes:
    return struct.pack(">h", n) * 320  # big-endian, as Asterisk sends slin16


class Sender:
    def __init__(self, port: int) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.dest = ("127.0.0.1", port)

    def send(self, seq: int, ssrc: int = 5, payload: bytes | None = None) -> None:
        data = rtp_packet(seq, seq * 320, ssrc, frame(seq) if payload is None else payload)
        self.sock.sendto(data, self.dest)

    def raw(self, data: bytes) -> None:
        self.sock.sendto(data, self.dest)


class Collector:
    def __init__(self) -> None:
        self.audio = bytearray()
        self.idle = 0

    def labels(self) -> list[int]:
        return [struct.unpack_from("<h", self.audio, i)[0] for i in range(0, len(self.audio), 640)]


async def started(idle_s: float = 0.3) -> tuple[RtpReceiver, int]:
    rx = RtpReceiver(idle_s=idle_s)
    return rx, await rx.start("127.0.0.1", 0)


def expect(rx: RtpReceiver, tx: Sender, key: str = "call/caller") -> Collector:
    c = Collector()

    def idle() -> None:
        c.idle += 1

    rx.expect("127.0.0.1", tx.port, RtpStream(key, c.audio.extend, idle))
    return c


async def test_given_packets_out_of_order_with_loss_and_duplicates_then_audio_is_in_order() -> None:
    rx, port = await started()
    tx = Sender(port)
    c = expect(rx, tx)
    for seq in [1, 2, 4, 3, 3, 5, 7, 8, 9, 10, 11, 12]:  # 6 lost, 3 repeated
        tx.send(seq)
    await wait_for(lambda: c.idle, what="idle after the burst")
    assert c.labels() == [1, 2, 3, 4, 5, 0, 7, 8, 9, 10, 11, 12]
    assert rx.dropped["duplicate"] == 1
    rx.stop()


async def test_given_rtp_from_an_unknown_source_then_it_is_dropped_and_counted() -> None:
    rx, port = await started()
    known, stranger = Sender(port), Sender(port)
    c = expect(rx, known)
    for seq in range(1, 6):
        stranger.send(seq)
    known.send(1)
    await wait_for(lambda: c.idle, what="idle")
    assert c.labels() == [1]
    assert rx.dropped["unknown_source"] == 5
    rx.stop()


async def test_given_garbage_datagrams_then_each_is_counted_by_reason() -> None:
    rx, port = await started()
    tx = Sender(port)
    c = expect(rx, tx)
    tx.raw(b"hello")
    tx.raw(b"\x00" * 40)  # version 0
    tx.raw(struct.pack("!BBHII", 0x80, 0, 1, 0, 5) + b"\xff" * 160)  # PCMU, not slin16
    tx.send(1, payload=b"\0" * 320)  # 8 kHz slin under the same payload type
    tx.send(2)
    await wait_for(lambda: c.idle, what="idle")
    assert c.labels() == [2]
    assert dict(rx.dropped) == {"short": 1, "version": 1, "payload_type": 1, "payload_size": 1}
    rx.stop()


async def test_given_a_stream_that_stops_and_resumes_then_idle_is_signalled_once() -> None:
    rx, port = await started(idle_s=0.2)
    tx = Sender(port)
    c = expect(rx, tx)
    await asyncio.sleep(0.3)  # late start: nothing yet, and no idle before the first packet
    assert c.idle == 0
    for seq in range(100, 104):
        tx.send(seq)
    await wait_for(lambda: c.idle == 1, what="idle")
    await asyncio.sleep(0.3)
    assert c.idle == 1, "one idle per silence"
    for seq in range(104, 106):
        tx.send(seq)
    await wait_for(lambda: c.idle == 2, what="idle again after resuming")
    assert c.labels() == list(range(100, 106))
    rx.stop()


async def test_given_a_forgotten_stream_then_its_packets_count_as_unknown() -> None:
    rx, port = await started()
    tx = Sender(port)
    c = expect(rx, tx, key="k")
    tx.send(1)
    await wait_for(lambda: c.audio, what="first frame")
    assert rx.forget("k") is not None
    tx.send(2)
    await wait_for(lambda: rx.dropped["unknown_source"] == 1, what="dropped after forget")
    rx.stop()
