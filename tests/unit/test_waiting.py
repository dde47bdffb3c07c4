"""The waiting caller, callback and post-call rating: pure transitions of the call machine."""

from __future__ import annotations

from dataclasses import replace

from hotline.telephony import session as s

C = s.CallState
CFG = s.CallConfig(
    announce_first_s=20,
    announce_every_s=60,
    describe_after_s=10,
    describe_min_wait_s=30,
    callback=True,
    rating=True,
)


def kinds(cmds: list[s.Command]) -> list[str]:
    return [type(c).__name__ for c in cmds]


def queued(**kw: object) -> s.Call:
    return replace(s.Call("c1", "12345", state=C.QUEUED, config=CFG, bridge_id="call-c1"), **kw)  # type: ignore[arg-type]


def play_media(cmds: list[s.Command]) -> list[str]:
    return [m for c in cmds if isinstance(c, s.Play) for m in c.media.split(",")]


def test_entering_the_queue_arms_announcement_and_invitation() -> None:
    call = s.Call("c1", "12345", config=CFG)
    call, _ = s.step(call, s.CallerArrived(0))
    call, cmds = s.step(call, s.PlaybackDone(call.playback_id))
    assert call.state is C.QUEUED
    timers = {c.name: c.seconds for c in cmds if isinstance(c, s.StartTimer)}
    assert timers == {"announce": 20, "describe": 10}


def test_position_and_wait_are_announced_then_music_returns() -> None:
    call, cmds = s.step(queued(), s.TimerFired("announce"))
    assert cmds == [s.QueryPosition("c1", "announce")]
    call, cmds = s.step(call, s.PositionInfo("announce", 3, 125.0, False))
    assert kinds(cmds) == ["StopMoh", "Play", "StartTimer"]
    assert play_media(cmds) == [
        "sound:hotline/queue-position",
        "number:3",
        "sound:hotline/queue-callers",
        "sound:hotline/queue-wait",
        "number:2",
        "sound:hotline/queue-minutes",
    ]
    busy, again = s.step(call, s.PositionInfo("announce", 2, 60.0, False))
    assert kinds(again) == ["StartTimer"] and busy == call  # no talking over itself
    call, cmds = s.step(call, s.PlaybackDone(call.activity_pb))
    assert cmds == [s.StartMoh("c1")] and call.activity == ""


def test_first_in_line_hears_thanks_not_a_position() -> None:
    _, cmds = s.step(queued(), s.PositionInfo("announce", 0, None, False))
    assert play_media(cmds) == ["sound:hotline/queue-thanks"]


def test_callback_offer_accepted_keeps_the_task_and_rings_the_citizen_later() -> None:
    call, cmds = s.step(queued(), s.PositionInfo("announce", 5, 400.0, True))
    assert play_media(cmds)[-1] == "sound:hotline/callback-offer"
    call, cmds = s.step(call, s.PlaybackDone(call.activity_pb))
    assert kinds(cmds) == ["StartMoh", "StartTimer"]
    call, cmds = s.step(call, s.Dtmf("1"))
    assert call.callback and play_media(cmds) == ["sound:hotline/callback-confirmed"]
    call, cmds = s.step(call, s.PlaybackDone(call.activity_pb))
    assert call.state is C.CALLBACK and s.Hangup("c1") in cmds
    assert not any(isinstance(c, s.LeaveQueue) for c in cmds)
    same, cmds = s.step(call, s.CallerHungUp(50))  # the hang-up we asked for
    assert same == call and cmds == []
    call, cmds = s.step(call, s.Offered("op1", "PJSIP/1001", 60))
    assert call.state is C.RINGING and kinds(cmds) == ["Originate", "StartTimer"]
    failed, cmds = s.step(call, s.AgentFailed(call.agent_channel))
    assert failed.state is C.CALLBACK  # a missed offer keeps it a callback
    call, cmds = s.step(call, s.AgentAnswered(call.agent_channel, 61))
    assert call.state is C.DIALING and kinds(cmds) == [
        "CancelTimer",
        "MarkAnswered",
        "DialCitizen",
        "StartTimer",
    ]
    citizen = call.caller_channel
    call, cmds = s.step(call, s.CitizenAnswered(citizen))
    assert call.state is C.CONNECTED
    assert s.JoinBridge("call-c1", (citizen, call.agent_channel)) in cmds
    rating, cmds = s.step(call, s.AgentHungUp(call.agent_channel, 90))
    assert rating.state is C.RATING  # the rating is asked of the citizen's leg
    assert [c.channel for c in cmds if isinstance(c, s.Play)] == [citizen]


def test_callback_citizen_not_answering_releases_the_operator() -> None:
    call = queued(state=C.CALLBACK, callback=True)
    call, _ = s.step(call, s.Offered("op1", "PJSIP/1001", 60))
    call, _ = s.step(call, s.AgentAnswered(call.agent_channel, 61))
    ended, cmds = s.step(call, s.TimerFired("dial", call.caller_channel))
    assert ended.state is C.ENDED
    assert s.CallFinished("c1", "op1", 0.0, "callback_failed") in cmds
    assert s.Hangup(call.agent_channel) in cmds


def test_invitation_records_the_description_and_an_answer_stops_it() -> None:
    call, cmds = s.step(queued(), s.PositionInfo("describe", 4, 20.0, False))
    assert cmds == [] and not call.described  # short wait: not worth asking
    call, cmds = s.step(call, s.PositionInfo("describe", 4, 90.0, False))
    assert play_media(cmds) == ["sound:hotline/describe-invite"] and call.described
    call, cmds = s.step(call, s.PlaybackDone(call.activity_pb))
    assert cmds == [s.RecordCaller("c1", "describe-c1", 30.0)]
    call, _ = s.step(call, s.Offered("op1", "PJSIP/1001", 70))
    call, cmds = s.step(call, s.AgentAnswered(call.agent_channel, 71))
    # The recording stops before the bridge add (Asterisk would hold the add behind it);
    # the description is published after the caller is bridged.
    order = kinds(cmds)
    assert order.index("StopRecording") < order.index("JoinBridge") < order.index("MarkAnswered")
    assert order.index("JoinBridge") < order.index("DescriptionRecorded")
    assert s.StopRecording("describe-c1") in cmds
    assert s.DescriptionRecorded("c1", "describe-c1") in cmds


def test_an_answer_during_an_announcement_stops_it_before_the_bridge_add() -> None:
    call, _ = s.step(queued(), s.PositionInfo("announce", 3, 60.0, False))
    pb = call.activity_pb
    call, _ = s.step(call, s.Offered("op1", "PJSIP/1001", 70))
    call, cmds = s.step(call, s.AgentAnswered(call.agent_channel, 71))
    order = kinds(cmds)
    assert s.StopPlayback(pb) in cmds
    assert order.index("StopPlayback") < order.index("JoinBridge")


def test_recording_ended_by_hash_while_waiting() -> None:
    call = queued(activity="recording", activity_pb="describe-c1", described=True)
    call, cmds = s.step(call, s.Dtmf("#"))
    assert cmds == [s.StopRecording("describe-c1")]
    call, cmds = s.step(call, s.RecordingDone("describe-c1"))
    assert cmds == [s.DescriptionRecorded("c1", "describe-c1"), s.StartMoh("c1")]
    _, cmds = s.step(call, s.TimerFired("describe"))
    assert cmds == []  # invited once only


def test_rating_after_the_operator_hangs_up() -> None:
    call = queued(state=C.CONNECTED, operator_id="op1", agent_channel="a1", answered_at=10.0)
    call, cmds = s.step(call, s.AgentHungUp("a1", 70.0))
    assert call.state is C.RATING
    assert kinds(cmds) == ["DestroyBridge", "CallFinished", "Play"]
    assert s.CallFinished("c1", "op1", 60.0, "answered") in cmds
    call, cmds = s.step(call, s.Dtmf("9"))
    assert cmds == []
    call, cmds = s.step(call, s.Dtmf("2"))
    assert s.SaveRating("c1", 4) in cmds
    call, cmds = s.step(call, s.Dtmf("1"))
    assert cmds == []  # one rating only
    call, cmds = s.step(call, s.PlaybackDone(call.activity_pb))
    assert call.state is C.ENDED and cmds == [s.Hangup("c1")]


def test_rating_prompt_ignored_then_hangs_up_after_the_timeout() -> None:
    call = queued(state=C.CONNECTED, operator_id="op1", agent_channel="a1", answered_at=10.0)
    call, _ = s.step(call, s.AgentHungUp("a1", 70.0))
    call, cmds = s.step(call, s.PlaybackDone(call.activity_pb))
    assert cmds == [s.StartTimer("rating", CFG.rating_timeout_s)]
    call, cmds = s.step(call, s.TimerFired("rating"))
    assert call.state is C.ENDED and cmds == [s.Hangup("c1")]
    gone, cmds = s.step(
        s.step(queued(state=C.CONNECTED, agent_channel="a1"), s.AgentHungUp("a1", 1))[0],
        s.CallerHungUp(2),
    )
    assert gone.state is C.ENDED
