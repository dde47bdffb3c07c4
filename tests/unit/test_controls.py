"""The operator's call controls as pure transitions: tables of (call, control) → (call,
commands), and what the call's end does to a hold or a third leg."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.telephony import session as s

C = s.CallState


def connected(**kw: object) -> s.Call:
    base = s.Call(
        "1.0",
        "12345",
        state=C.CONNECTED,
        operator_id="op1",
        agent_channel="agent-1.0-1",
        bridge_id="call-1.0",
        answered_at=100.0,
        config=s.CallConfig(own_lines=frozenset({"12345", "12315"})),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def ctl(action: str, target: str = "", op: str = "op1", now: float = 110.0) -> s.Control:
    return s.Control("r1", action, op, target, now)


def kinds(cmds: list[s.Command]) -> list[str]:
    return [type(c).__name__ for c in cmds]


def reply(cmds: list[s.Command]) -> s.ControlReply:
    found = [c for c in cmds if isinstance(c, s.ControlReply)]
    assert len(found) == 1, cmds
    return found[0]


HELD = {"held_at": 105.0}
THIRD = {"third_channel": "third-1.0-1", "third_number": "12369001", "thirds": 1}


@pytest.mark.parametrize(
    ("given", "control", "result", "commands"),
    [
        ({}, ctl("hold"), "held", ["HoldCaller", "ControlReply", "DeskEvent"]),
        (HELD, ctl("resume"), "resumed", ["ResumeCaller", "ControlReply", "DeskEvent"]),
        (
            {},
            ctl("transfer", "88001234"),
            "transferred",
            ["Transfer", "ControlReply", "DeskEvent", "Hangup", "DestroyBridge", "CallFinished"],
        ),
        (
            HELD,
            ctl("transfer", "88001234"),
            "transferred",
            [
                "ResumeCaller",
                "Transfer",
                "ControlReply",
                "DeskEvent",
                "Hangup",
                "DestroyBridge",
                "CallFinished",
            ],
        ),
        ({}, ctl("conference", "12369001"), "dialing", ["DialThird", "ControlReply", "DeskEvent"]),
        (
            HELD,
            ctl("conference", "12369001"),
            "dialing",
            ["DialThird", "ControlReply", "DeskEvent"],
        ),
        ({}, ctl("hangup"), "hung_up", ["Hangup", "ControlReply"]),
    ],
)
def test_given_a_connected_call_when_a_control_fits_then_it_is_done(
    given: dict[str, object], control: s.Control, result: str, commands: list[str]
) -> None:
    _, cmds = s.step(connected(**given), control)
    assert kinds(cmds) == commands
    assert reply(cmds) == s.ControlReply("r1", control.action, result, "")


@pytest.mark.parametrize(
    ("state", "given", "control", "why"),
    [
        (C.CONNECTED, {}, ctl("hold", op="op2"), "not your call"),
        (C.CONNECTED, HELD, ctl("hold"), "already on hold"),
        (C.CONNECTED, {}, ctl("resume"), "not on hold"),
        (C.CONNECTED, THIRD, ctl("transfer", "88001234"), "three-way"),
        (C.CONNECTED, THIRD, ctl("conference", "88001234"), "already in progress"),
        (C.CONNECTED, {}, ctl("transfer", ""), "not a phone number"),
        (C.CONNECTED, {}, ctl("transfer", "12"), "not a phone number"),
        (C.CONNECTED, {}, ctl("transfer", "*#110"), "not a phone number"),
        (C.CONNECTED, {}, ctl("conference", "+8613800138000"), "not a phone number"),
        (C.CONNECTED, {}, ctl("transfer", "12315"), "own number"),
        (C.CONNECTED, {}, ctl("mute"), "unknown control"),
        (C.RINGING, {}, ctl("hold"), "answer it first"),
        (C.RATING, {}, ctl("transfer", "88001234"), "rating"),
        (C.QUEUED, {}, ctl("hold"), "not connected"),
        (C.RINGING, {}, ctl("hold", op="op2"), "not your call"),
    ],
)
def test_given_a_control_that_does_not_fit_then_it_is_refused_and_nothing_changes(
    state: C, given: dict[str, object], control: s.Control, why: str
) -> None:
    before = replace(connected(**given), state=state)
    after, cmds = s.step(before, control)
    assert after == before
    assert kinds(cmds) == ["ControlReply"]
    assert why in reply(cmds).refused


def test_given_a_hold_then_resume_then_hold_time_is_counted_and_talk_is_the_whole_call() -> None:
    call, _ = s.step(connected(), ctl("hold", now=110.0))
    call, _ = s.step(call, ctl("resume", now=125.0))
    assert call.held_at == 0 and call.hold_s == 15.0
    call, _ = s.step(call, ctl("hold", now=130.0))
    call, cmds = s.step(call, s.CallerHungUp(140.0))
    assert call.state is C.ENDED and call.hold_s == 25.0
    finished = [c for c in cmds if isinstance(c, s.CallFinished)]
    assert finished[0].talk_seconds == 40.0  # hold is not talk lost
    assert "ResumeCaller" not in kinds(cmds)  # the caller is gone


def test_given_a_transfer_then_the_call_ends_transferred_with_the_whole_talk_time() -> None:
    call, cmds = s.step(connected(), ctl("transfer", "88001234", now=160.0))
    assert call.state is C.ENDED
    assert s.Transfer(call.call_id, "88001234") in cmds
    assert s.Hangup("agent-1.0-1") in cmds
    assert s.CallFinished("1.0", "op1", 60.0, "transferred") in cmds
    assert s.DeskEvent("transferred", "1.0", "op1", "", "88001234") in cmds


def test_given_a_three_way_call_then_the_third_joins_leaves_and_the_call_stays() -> None:
    call, cmds = s.step(connected(), ctl("conference", "12369001"))
    third = call.third_channel
    assert s.DialThird("1.0", third, "12369001") in cmds
    call, cmds = s.step(call, s.ThirdAnswered(third))
    assert call.third_joined and s.AddToBridge("call-1.0", third) in cmds
    assert s.DeskEvent("conference", "1.0", "op1", "joined", "12369001") in cmds
    call, cmds = s.step(call, s.ThirdLeft(third))
    assert call.state is C.CONNECTED and not call.third_channel
    assert cmds == [s.DeskEvent("conference", "1.0", "op1", "left", "12369001")]
    call, cmds = s.step(call, ctl("conference", "12369002"))
    assert call.third_channel == "third-1.0-2"  # a new leg, a new id


def test_given_a_three_way_dial_that_fails_then_only_the_desk_hears_of_it() -> None:
    call, _ = s.step(connected(), ctl("conference", "12369001"))
    after, cmds = s.step(call, s.ThirdFailed(call.third_channel, "busy"))
    assert cmds == [s.DeskEvent("conference", "1.0", "op1", "failed", "12369001")]
    assert after == replace(call, third_channel="", third_number="", third_joined=False)


@pytest.mark.parametrize(
    "end",
    [s.CallerHungUp(150.0), s.AgentHungUp("agent-1.0-1", 150.0)],
)
def test_given_a_three_way_call_when_the_call_ends_then_the_third_leg_is_hung_up(
    end: s.Event,
) -> None:
    call, _ = s.step(connected(), ctl("conference", "12369001"))
    call, _ = s.step(call, s.ThirdAnswered(call.third_channel))
    after, cmds = s.step(call, end)
    assert after.state is C.ENDED and not after.third_channel
    assert s.Hangup("third-1.0-1") in cmds


def test_given_a_held_caller_when_the_operator_hangs_up_then_the_caller_is_resumed_for_rating() -> (
    None
):
    call = connected(held_at=105.0, config=s.CallConfig(rating=True))
    after, cmds = s.step(call, s.AgentHungUp("agent-1.0-1", 115.0))
    assert after.state is C.RATING and after.hold_s == 10.0
    assert kinds(cmds)[0] == "ResumeCaller"


def test_given_a_third_leg_lost_in_a_resync_then_it_is_dropped() -> None:
    call = connected(**THIRD, third_joined=True)
    present = frozenset({"1.0", "agent-1.0-1"})
    after, cmds = s.step(call, s.Resynced(present, True, 120.0))
    assert after.state is C.CONNECTED and not after.third_channel
    assert kinds(cmds) == ["DeskEvent"]


def test_given_a_stray_third_leg_answering_after_the_call_then_it_is_hung_up() -> None:
    call = replace(connected(), state=C.RATING)
    _, cmds = s.step(call, s.ThirdAnswered("third-1.0-1"))
    assert cmds == [s.Hangup("third-1.0-1")]


@given(st.lists(st.sampled_from(["hold", "resume", "conference", "hangup", "bogus"]), max_size=12))
def test_any_sequence_of_controls_answers_each_once_and_keeps_hold_consistent(
    actions: list[str],
) -> None:
    call = connected()
    for i, action in enumerate(actions):
        call, cmds = s.step(call, ctl(action, "12369001", now=110.0 + i))
        assert len([c for c in cmds if isinstance(c, s.ControlReply)]) == 1
        assert call.state is C.CONNECTED
        assert call.hold_s >= 0
        assert (call.held_at > 0) == _held_after(actions[: i + 1])


def _held_after(actions: list[str]) -> bool:
    held = False
    for a in actions:
        if a in ("hold", "resume"):
            held = a == "hold"
    return held
