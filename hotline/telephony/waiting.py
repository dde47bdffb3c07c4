"""The waiting caller, the callback and the post-call rating, as pure transitions.

While queued, a caller may hear their position and estimated wait at intervals (music in
between), be offered a callback when the router says the wait is long (press 1: they hang up
and keep their place; the citizen is rung once an operator has answered), and be invited once
to describe the problem after a beep. None of this touches the queue: the task keeps its place,
and whatever plays stops the moment an operator answers. When the operator hangs up first,
the caller can be asked for a one-key rating.
"""

from __future__ import annotations

from dataclasses import replace

from .model import (
    Call,
    CallFinished,
    CallState,
    CancelTimer,
    CitizenAnswered,
    CitizenFailed,
    Command,
    DescriptionRecorded,
    DestroyBridge,
    DialCitizen,
    Dtmf,
    Hangup,
    JoinBridge,
    MarkAnswered,
    Play,
    PlaybackDone,
    PositionInfo,
    QueryPosition,
    RecordBridge,
    RecordCaller,
    RecordingDone,
    SaveRating,
    StartMoh,
    StartTimer,
    Step,
    StopMoh,
    StopPlayback,
    StopRecording,
    TimerFired,
)

S = CallState


def queue_timers(call: Call) -> list[Command]:
    """Timers armed when a call enters the queue."""
    cfg = call.config
    cmds: list[Command] = []
    if cfg.announce_first_s > 0:
        cmds.append(StartTimer("announce", cfg.announce_first_s))
    if cfg.describe_after_s > 0 and not call.described:
        cmds.append(StartTimer("describe", cfg.describe_after_s))
    return cmds


def stop_activity(call: Call) -> tuple[Call, list[Command], list[Command]]:
    """Whatever plays or records for the waiting caller stops (an operator answered).

    Returns the commands that must run before the caller joins the bridge (Asterisk runs a
    channel's commands in turn: a bridge add waits behind a running playback or recording)
    and those that can wait until after it."""
    cfg = call.config
    before: list[Command] = []
    after: list[Command] = []
    if cfg.announce_first_s > 0:
        before.append(CancelTimer("announce"))
    if cfg.describe_after_s > 0:
        before.append(CancelTimer("describe"))
    if cfg.callback:
        before.append(CancelTimer("callback-window"))
    if call.activity == "recording":
        before.append(StopRecording(call.activity_pb))
        after.append(DescriptionRecorded(call.call_id, call.activity_pb))
    elif call.activity and call.activity_pb:
        before.append(StopPlayback(call.activity_pb))
    return replace(call, activity="", activity_pb=""), before, after


def _pb(call: Call, what: str) -> str:
    return f"pb-{call.call_id}-{what}-{call.announcements}"


def queued_timer(call: Call, ev: TimerFired) -> Step:
    if ev.name == "announce":
        return call, [QueryPosition(call.call_id, "announce")]
    if ev.name == "describe" and not call.described:
        return call, [QueryPosition(call.call_id, "describe")]
    if ev.name == "callback-window" and call.activity == "callback_offer":
        return replace(call, activity="", activity_pb=""), []
    return call, []


def position(call: Call, ev: PositionInfo) -> Step:
    cfg = call.config
    again: list[Command] = []
    if ev.purpose == "announce" and cfg.announce_every_s > 0:
        again = [StartTimer("announce", cfg.announce_every_s)]
    if call.activity:  # something is playing already: try at the next interval
        if ev.purpose == "describe":
            return call, [StartTimer("describe", 10.0)]
        return call, again
    if ev.purpose == "describe":
        # No estimate means nobody is staffed for the queue: the wait is long.
        if call.described or (ev.eta_s is not None and ev.eta_s < cfg.describe_min_wait_s):
            return call, []
        pb = _pb(call, "invite")
        return replace(call, activity="invite", activity_pb=pb, described=True), [
            StopMoh(call.call_id),
            Play(call.call_id, "sound:hotline/describe-invite", pb),
        ]
    media = ["sound:hotline/queue-thanks"]
    if ev.position > 0:
        media = [
            "sound:hotline/queue-position",
            f"number:{ev.position}",
            "sound:hotline/queue-callers",
        ]
        if ev.eta_s is not None:
            minutes = max(1, round(ev.eta_s / 60))
            media += [
                "sound:hotline/queue-wait",
                f"number:{minutes}",
                "sound:hotline/queue-minutes",
            ]
    activity = "announce"
    if ev.offer_callback and cfg.callback and not call.callback_offered:
        media.append("sound:hotline/callback-offer")
        activity = "callback_offer"
    pb = _pb(call, "announce")
    call = replace(
        call,
        activity=activity,
        activity_pb=pb,
        announcements=call.announcements + 1,
        callback_offered=call.callback_offered or activity == "callback_offer",
    )
    return call, [StopMoh(call.call_id), Play(call.call_id, ",".join(media), pb), *again]


def queued_playback(call: Call, ev: PlaybackDone) -> Step:
    if ev.playback_id != call.activity_pb:
        return call, []
    if call.activity == "invite":
        name = f"describe-{call.call_id}"
        return replace(call, activity="recording", activity_pb=name), [
            RecordCaller(call.call_id, name, call.config.describe_max_s)
        ]
    if call.activity == "callback_offer":
        # Keep listening for the 1 a little after the offer, with music back on.
        return call, [StartMoh(call.call_id), StartTimer("callback-window", 6.0)]
    if call.activity == "callback_confirm":
        return replace(call, state=S.CALLBACK, activity="", activity_pb=""), [
            CancelTimer("announce"),
            CancelTimer("describe"),
            Hangup(call.call_id),
        ]
    return replace(call, activity="", activity_pb=""), [StartMoh(call.call_id)]


def recorded(call: Call, ev: RecordingDone) -> Step:
    if call.activity != "recording" or ev.name != call.activity_pb:
        return call, []
    cmds: list[Command] = [StartMoh(call.call_id)]
    if ev.ok:
        cmds.insert(0, DescriptionRecorded(call.call_id, ev.name))
    return replace(call, activity="", activity_pb=""), cmds


def queued_dtmf(call: Call, ev: Dtmf) -> Step:
    call = replace(call, digits=(call.digits + ev.digit)[-32:])
    if call.activity == "callback_offer" and ev.digit == "1":
        pb = _pb(call, "callback")
        cmds: list[Command] = [CancelTimer("callback-window"), StopMoh(call.call_id)]
        if call.activity_pb:
            cmds.append(StopPlayback(call.activity_pb))
        call = replace(call, activity="callback_confirm", activity_pb=pb, callback=True)
        return call, [*cmds, Play(call.call_id, "sound:hotline/callback-confirmed", pb)]
    if call.activity == "recording" and ev.digit == "#":
        return call, [StopRecording(call.activity_pb)]
    return call, []


# -- callback -----------------------------------------------------------------------------------


def callback_agent_answered(call: Call, agent_channel: str, now: float) -> Step:
    """The operator took the callback: now ring the citizen."""
    citizen = f"cb-{call.call_id}-{call.offers}"
    return replace(call, state=S.DIALING, answered_at=now, caller_channel=citizen), [
        CancelTimer("ring"),
        MarkAnswered(call.call_id, call.operator_id),
        DialCitizen(call.call_id, citizen),
        StartTimer("dial", call.config.dial_timeout_s, token=citizen),
    ]


def citizen_answered(call: Call, ev: CitizenAnswered) -> Step:
    if ev.channel != call.caller_channel:
        return call, [Hangup(ev.channel)]
    cmds: list[Command] = [
        CancelTimer("dial"),
        JoinBridge(call.bridge_id, (ev.channel, call.agent_channel)),
    ]
    if call.config.record:
        cmds.append(RecordBridge(call.bridge_id, f"call-{call.call_id}"))
    return replace(call, state=S.CONNECTED), cmds


def _dial_failed(call: Call) -> Step:
    return replace(call, state=S.ENDED), [
        CancelTimer("dial"),
        Hangup(call.agent_channel),
        Hangup(call.caller_channel),
        DestroyBridge(call.bridge_id),
        CallFinished(call.call_id, call.operator_id, 0.0, "callback_failed"),
    ]


def citizen_failed(call: Call, ev: CitizenFailed) -> Step:
    return _dial_failed(call) if ev.channel == call.caller_channel else (call, [])


def dial_timeout(call: Call, ev: TimerFired) -> Step:
    if ev.name != "dial" or ev.token != call.caller_channel:
        return call, []
    return _dial_failed(call)


# -- post-call rating ---------------------------------------------------------------------------


def start_rating(call: Call, now: float) -> Step:
    talk = max(0.0, now - call.answered_at)
    pb = f"pb-{call.call_id}-rate"
    return replace(call, state=S.RATING, activity="rating", activity_pb=pb), [
        DestroyBridge(call.bridge_id),
        CallFinished(call.call_id, call.operator_id, talk, "answered"),
        Play(call.chan, "sound:hotline/rate-call", pb),
    ]


def rating_playback(call: Call, ev: PlaybackDone) -> Step:
    if ev.playback_id != call.activity_pb:
        return call, []
    if call.activity == "rating":
        return call, [StartTimer("rating", call.config.rating_timeout_s)]
    return replace(call, state=S.ENDED), [Hangup(call.chan)]  # after the thanks


def rating_dtmf(call: Call, ev: Dtmf) -> Step:
    if call.activity != "rating" or ev.digit not in "12345":
        return call, []
    pb = f"pb-{call.call_id}-rated"
    cmds: list[Command] = [
        CancelTimer("rating"),
        StopPlayback(call.activity_pb),
        SaveRating(call.call_id, 6 - int(ev.digit)),
        Play(call.chan, "sound:hotline/rate-thanks", pb),
    ]
    return replace(call, activity="rated", activity_pb=pb), cmds


def rating_timeout(call: Call, ev: TimerFired) -> Step:
    if ev.name != "rating":
        return call, []
    return replace(call, state=S.ENDED), [Hangup(call.chan)]
