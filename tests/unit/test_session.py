"""The call state machine, as a pure function: tables of (state, event) → (state, commands)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.telephony import session as s

C = s.CallState


def call_in(state: C, **kw: object) -> s.Call:
    base = s.Call(
        "1.0",
        "12345",
        state=state,
        playback_id="pb-1.0-greet",
        operator_id="op1",
        agent_channel="agent-1.0-1",
        bridge_id="call-1.0",
        answered_at=100.0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def kinds(cmds: list[s.Command]) -> list[str]:
    return [type(c).__name__ for c in cmds]


@pytest.mark.parametrize(
    ("state", "event", "next_state", "commands"),
    [
        (C.NEW, s.CallerArrived(0), C.GREETING, ["Answer", "Play", "StartTimer"]),
        (
            C.GREETING,
            s.PlaybackDone("pb-1.0-greet"),
            C.QUEUED,
            ["CancelTimer", "Enqueue", "StartMoh"],
        ),
        (C.GREETING, s.PlaybackDone("other"), C.GREETING, []),
        (C.GREETING, s.TimerFired("greeting"), C.QUEUED, ["CancelTimer", "Enqueue", "StartMoh"]),
        (C.GREETING, s.CallerHungUp(1), C.ENDED, ["CancelTimer"]),
        (C.QUEUED, s.Offered("op2", "PJSIP/1002", 5), C.RINGING, ["Originate", "StartTimer"]),
        (C.QUEUED, s.CallerHungUp(9), C.ENDED, ["CancelTimer", "LeaveQueue", "DestroyBridge"]),
        (
            C.RINGING,
            s.AgentAnswered("agent-1.0-1", 7),
            C.CONNECTED,
            ["CancelTimer", "JoinBridge", "MarkAnswered", "RecordBridge"],
        ),
        (C.RINGING, s.AgentAnswered("agent-stale", 7), C.RINGING, ["Hangup"]),
        (
            C.RINGING,
            s.AgentFailed("agent-1.0-1", "noanswer"),
            C.QUEUED,
            ["CancelTimer", "Hangup", "OfferFailed"],
        ),
        (C.RINGING, s.AgentFailed("agent-old", "noanswer"), C.RINGING, []),
        (
            C.RINGING,
            s.TimerFired("ring", "agent-1.0-1"),
            C.QUEUED,
            ["CancelTimer", "Hangup", "OfferFailed"],
        ),
        (
            C.RINGING,
            s.CallerHungUp(9),
            C.ENDED,
            ["CancelTimer", "Hangup", "LeaveQueue", "DestroyBridge"],
        ),
        (C.RINGING, s.Offered("op9", "PJSIP/1009", 5), C.RINGING, ["OfferFailed"]),
        (C.CONNECTED, s.CallerHungUp(130), C.ENDED, ["Hangup", "DestroyBridge", "CallFinished"]),
        (
            C.CONNECTED,
            s.AgentHungUp("agent-1.0-1", 130),
            C.ENDED,
            ["Hangup", "DestroyBridge", "CallFinished"],
        ),
        (C.CONNECTED, s.AgentHungUp("agent-other", 130), C.CONNECTED, []),
        (C.ENDED, s.CallerHungUp(1), C.ENDED, []),
        (C.ENDED, s.AgentAnswered("agent-late", 1), C.ENDED, ["Hangup"]),
    ],
)
def test_given_state_when_event_then_next_state_and_commands(
    state: C, event: s.Event, next_state: C, commands: list[str]
) -> None:
    call, cmds = s.step(call_in(state), event)
    assert call.state is next_state
    assert kinds(cmds) == commands


def test_given_ringing_when_seat_unreachable_then_not_counted_as_missed() -> None:
    _, cmds = s.step(call_in(C.RINGING), s.AgentFailed("agent-1.0-1", "unreachable"))
    failed = [c for c in cmds if isinstance(c, s.OfferFailed)]
    assert failed == [s.OfferFailed("1.0", "op1", missed=False)]


def test_given_ringing_when_no_answer_then_seat_marked_missed() -> None:
    _, cmds = s.step(call_in(C.RINGING), s.TimerFired("ring", "agent-1.0-1"))
    assert s.OfferFailed("1.0", "op1", missed=True) in cmds


def test_given_connected_when_caller_hangs_up_then_talk_time_measured() -> None:
    _, cmds = s.step(call_in(C.CONNECTED), s.CallerHungUp(142.5))
    finished = [c for c in cmds if isinstance(c, s.CallFinished)]
    assert finished[0].talk_seconds == pytest.approx(42.5)
    assert s.Hangup("agent-1.0-1") in cmds


def test_first_offer_prepares_the_bridge_while_the_seat_rings() -> None:
    call, cmds = s.step(s.Call("1.0", "12345", state=C.QUEUED), s.Offered("op", "PJSIP/1", 1))
    assert kinds(cmds) == ["CreateBridge", "Originate", "StartTimer"]
    call, _ = s.step(call, s.AgentFailed(call.agent_channel))
    _, cmds = s.step(call, s.Offered("op2", "PJSIP/2", 2))
    assert "CreateBridge" not in kinds(cmds)  # the bridge is kept for the next seat


def test_each_offer_uses_a_fresh_agent_channel_id() -> None:
    call = call_in(C.QUEUED, offers=0)
    call, c1 = s.step(call, s.Offered("op1", "PJSIP/1001", 1))
    call, _ = s.step(call, s.AgentFailed(call.agent_channel))
    call, c2 = s.step(call, s.Offered("op2", "PJSIP/1002", 2))
    o1 = next(c for c in c1 if isinstance(c, s.Originate))
    o2 = next(c for c in c2 if isinstance(c, s.Originate))
    assert o1.agent_channel != o2.agent_channel


@pytest.mark.parametrize(
    ("state", "channels", "bridged", "expected"),
    [
        (C.GREETING, {"1.0"}, False, C.QUEUED),  # PlaybackFinished lost while down
        (C.QUEUED, {"1.0"}, False, C.QUEUED),  # still waiting: keep place
        (C.QUEUED, set(), False, C.ENDED),  # hung up while we were away
        (C.RINGING, {"1.0"}, False, C.QUEUED),  # seat channel gone: re-offer
        (C.RINGING, {"1.0", "agent-1.0-1"}, True, C.CONNECTED),
        (C.CONNECTED, {"1.0"}, True, C.ENDED),  # operator left while we were away
        (C.CONNECTED, {"1.0", "agent-1.0-1"}, True, C.CONNECTED),
    ],
)
def test_given_state_when_resynced_then_reconciled(
    state: C, channels: set[str], bridged: bool, expected: C
) -> None:
    call, _ = s.step(call_in(state), s.Resynced(frozenset(channels), bridged, 200.0))
    assert call.state is expected


events = st.one_of(
    st.builds(s.CallerArrived, st.floats(0, 1e6)),
    st.builds(s.PlaybackDone, st.sampled_from(["pb-1.0-greet", "x"])),
    st.builds(s.Offered, st.sampled_from(["op1", "op2"]), st.just("PJSIP/1"), st.floats(0, 1e6)),
    st.builds(
        s.AgentAnswered, st.sampled_from(["agent-1.0-1", "agent-1.0-2", "z"]), st.floats(0, 1e6)
    ),
    st.builds(s.AgentFailed, st.sampled_from(["agent-1.0-1", "agent-1.0-2"])),
    st.builds(
        s.TimerFired, st.sampled_from(["greeting", "ring"]), st.sampled_from(["", "agent-1.0-1"])
    ),
    st.builds(s.CallerHungUp, st.floats(0, 1e6)),
    st.builds(s.AgentHungUp, st.sampled_from(["agent-1.0-1", "agent-1.0-2"]), st.floats(0, 1e6)),
    st.builds(s.Dtmf, st.sampled_from(list("0123456789*#"))),
)


@settings(max_examples=300)
@given(st.lists(events, max_size=30))
def test_property_no_event_sequence_strands_a_caller(seq: list[s.Event]) -> None:
    """Whatever arrives, the caller hears something (greeting, music, an operator) until
    the call ends, and an ended call issues no more calls to Asterisk for the caller."""
    call = s.Call("1.0", "12345")
    hearing = False
    for event in seq:
        before = call.state
        call, cmds = s.step(call, event)
        names = kinds(cmds)
        if "Play" in names or "StartMoh" in names or "JoinBridge" in names:
            hearing = True
        if call.state is C.QUEUED and before is not C.QUEUED and before is not C.RINGING:
            assert "StartMoh" in names and "Enqueue" in names
        if before is C.ENDED:
            assert all(isinstance(c, (s.Hangup, s.OfferFailed)) for c in cmds)
        if call.state in (C.QUEUED, C.RINGING, C.CONNECTED):
            assert hearing


@settings(max_examples=200)
@given(st.lists(events, max_size=30))
def test_property_a_reserved_seat_is_always_released_or_answered(seq: list[s.Event]) -> None:
    """Every offer the call accepts ends in exactly one of: answered, failed, finished."""
    call = s.Call("1.0", "12345")
    open_offer = ""
    for event in seq:
        call, cmds = s.step(call, event)
        for c in cmds:
            if isinstance(c, s.Originate):
                assert not open_offer
                open_offer = c.operator_id
            elif isinstance(c, (s.MarkAnswered, s.OfferFailed)) and c.operator_id == open_offer:
                open_offer = ""
            elif isinstance(c, s.LeaveQueue):
                open_offer = ""  # the router frees the seat of a call that leaves
    if call.state in (C.ENDED, C.QUEUED, C.GREETING, C.NEW):
        assert open_offer == ""
