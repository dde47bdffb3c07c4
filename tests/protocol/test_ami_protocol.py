"""AMI: every recorded byte through the real parser, and the real client against the
stand-in's AMI server over TCP."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from hotline.metrics import Metrics
from hotline.simulator.model import SeatScript
from hotline.simulator.standin import StandIn
from hotline.telephony.ami import AmiClient, IncrementalAMIProtocol
from hotline.telephony.exceptions import AmiError
from tests.conftest import CAPTURES, needs_captures, wait_for

CAPTURE_FILES = (
    sorted(p.name for p in CAPTURES.glob("ami_*.txt") if not p.name.endswith("_sent.txt"))
    if CAPTURES.is_dir()
    else []
)


class Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def close(self) -> None:
        pass


class Factory:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self.forgetable_actions = ("ping", "login")
        self.awaiting_actions: list[Any] = []

    def dispatch(self, message: Any) -> None:
        self.events.append(message)

    def connection_lost(self, exc: Any) -> None:
        pass


class RecordingProtocol(IncrementalAMIProtocol):
    """The real protocol, also keeping every message it hands on."""

    def handle_message(self, message: Any) -> None:
        self.messages.append(message)
        super().handle_message(message)


def feed(data: bytes, chunks: list[int]) -> tuple[RecordingProtocol, Factory]:
    proto = RecordingProtocol()
    proto.messages = []
    proto.connection_made(Transport())
    factory = Factory()
    proto.factory = factory
    i = 0
    for size in chunks:
        proto.data_received(data[i : i + size])
        i += size
    proto.data_received(data[i:])
    return proto, factory


@needs_captures
@pytest.mark.parametrize("name", CAPTURE_FILES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_recorded_ami_byte_parses_in_any_chunking(name: str, seed: int) -> None:
    data = (CAPTURES / name).read_bytes()
    text = data.decode()
    blocks = [b for b in text.split("\r\n", 1)[1].split("\r\n\r\n") if b.strip()]
    rng = random.Random(seed)
    chunks = [rng.randint(1, 97) for _ in range(len(data) // 40 + 1)]
    proto, factory = feed(data, chunks)
    assert proto.version == "11.0.0"
    assert proto.bad_frames == 0
    assert len(proto.messages) == len(blocks)
    for block, message in zip(blocks, proto.messages, strict=True):
        first_key, _, first_value = block.split("\r\n", 1)[0].partition(": ")
        assert message[first_key] == first_value
    assert len(factory.events) == sum(b.startswith("Event: ") for b in blocks)


def test_a_chinese_caller_name_split_across_reads_survives() -> None:
    frame = (
        "Asterisk Call Manager/11.0.0\r\nEvent: Newchannel\r\nCallerIDName: 张三丰\r\n"
        "Uniqueid: 1.1\r\n\r\n"
    ).encode()
    cut = frame.index("张".encode()) + 1  # in the middle of a 3-byte character
    _, factory = feed(frame, [cut])
    assert factory.events[0]["CallerIDName"] == "张三丰"


def test_truncated_and_garbage_frames_do_not_stop_the_parser() -> None:
    data = (
        b"Asterisk Call Manager/11.0.0\r\n"
        b"garbage without colon\r\n\r\n"
        b"Event: Hangup\r\nUniqueid: 1.2\r\n\r\n"
        b"Event: Newch"
    )  # truncated: stays buffered, not dispatched
    proto, factory = feed(data, [5, 50])
    assert [e["Event"] for e in factory.events] == ["Hangup"]
    assert proto.bad_frames == 1
    proto.data_received(b"annel\r\nUniqueid: 1.3\r\n\r\n")
    assert [e["Event"] for e in factory.events] == ["Hangup", "Newchannel"]


async def ami_client(standin: StandIn, secret: str = "hotline") -> AmiClient:
    client = AmiClient("127.0.0.1", standin.ami_port, "hotline", secret, Metrics(), reconnect_s=1)
    await client.start()
    return client


async def test_login_actions_and_originate_outcomes(standin: StandIn) -> None:
    standin.sim.add_endpoint("1001", SeatScript(answer_delay_s=0.05))
    standin.sim.add_endpoint("1002", SeatScript(answer_delay_s=0.05, answer_prob=0.0))
    client = await ami_client(standin)
    await asyncio.wait_for(client.logged_in.wait(), 5)
    assert "Asterisk 22" in await client.command("core show version")
    endpoints = await client.endpoints()
    assert {e["ObjectName"] for e in endpoints} == {"1001", "1002"}
    ok = await client.originate("PJSIP/1001", "hotline-callback", "s", '"12345" <12345>', 2)
    assert (ok["Response"], ok["Reason"]) == ("Success", "4")
    noanswer = await client.originate("PJSIP/1002", "hotline-callback", "s", "12345", 0.2)
    assert (noanswer["Response"], noanswer["Reason"]) == ("Failure", "3")
    unknown = await client.originate("PJSIP/9999", "hotline-callback", "s", "12345", 1)
    assert (unknown["Response"], unknown["Reason"]) == ("Failure", "0")
    with pytest.raises(AmiError, match="Invalid/unknown command"):
        await client.action({"Action": "NoSuchAction"})
    await wait_for(
        lambda: client.device_states.get("PJSIP/1001") == "NOT_INUSE",
        what="device states from resync",
    )
    await client.close()


async def test_failed_login_is_reported(standin: StandIn) -> None:
    client = await ami_client(standin, secret="wrong")
    await wait_for(lambda: client.last_error == "Authentication failed", what="login error")
    assert not client.logged_in.is_set()
    with pytest.raises(AmiError):
        await client.command("core show version")
    await client.close()


async def test_cut_connection_reconnects_and_resyncs(standin: StandIn) -> None:
    standin.sim.add_endpoint("1001")
    client = await ami_client(standin)
    await asyncio.wait_for(client.logged_in.wait(), 5)
    await wait_for(lambda: client.resyncs >= 1, what="resync after the first login")
    logins = standin.ami.logins
    standin.ami.drop_all()
    await wait_for(lambda: not client.logged_in.is_set(), what="disconnect seen")
    standin.sim.set_endpoint_state("PJSIP/1001", "offline")  # missed while down
    await wait_for(
        lambda: standin.ami.logins > logins and client.logged_in.is_set(),
        timeout=10,
        what="relogin",
    )
    await wait_for(
        lambda: client.device_states.get("PJSIP/1001") == "UNAVAILABLE",
        what="resynced device state",
    )
    assert "Asterisk 22" in await client.command("core show version")
    await client.close()
