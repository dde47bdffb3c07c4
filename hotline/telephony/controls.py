"""The operator's call controls on a connected call, as pure transitions: hold and resume,
blind transfer, a three-way call with a third number, hang up.

Each control answers with a ``ControlReply`` (a result, or why it was refused) and, when it
changed something, a ``DeskEvent`` for the operator's desk. Hold keeps the caller in the
call's bridge: Asterisk plays them music on hold and keeps their voice out, so resuming is
one round trip and the recording, the speech taps and a restart's adoption see one call.
Time on hold stays talk time; it is also kept apart (``hold_s``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .model import (
    AddToBridge,
    Call,
    CallerHungUp,
    CallFinished,
    CallState,
    Command,
    Control,
    ControlReply,
    DeskEvent,
    DestroyBridge,
    DialThird,
    Hangup,
    HoldCaller,
    ResumeCaller,
    Resynced,
    Step,
    ThirdAnswered,
    ThirdFailed,
    ThirdLeft,
    Transfer,
)

NUMBER = re.compile(r"[0-9]{3,20}")  # what the trunk dials (the dialplan's _X. pattern)

NOT_CONNECTED = {
    CallState.RINGING: "the call is still ringing: answer it first",
    CallState.DIALING: "the citizen's phone is still ringing",
    CallState.RATING: "the call has ended: the caller is rating it",
    CallState.CALLBACK: "the caller is waiting to be called back",
}


def _reply(ev: Control, result: str = "", refused: str = "") -> ControlReply:
    return ControlReply(ev.request_id, ev.action, result, refused)


def _refuse(call: Call, ev: Control, why: str) -> Step:
    return call, [_reply(ev, refused=why)]


def refuse(call: Call, ev: Control) -> Step:
    """A control for a call that is not connected."""
    if ev.operator_id != call.operator_id:
        return _refuse(call, ev, "this is not your call")
    return _refuse(call, ev, NOT_CONNECTED.get(call.state, "the call is not connected"))


def control(call: Call, ev: Control) -> Step:
    if ev.operator_id != call.operator_id:
        return _refuse(call, ev, "this is not your call")
    action = _ACTIONS.get(ev.action)
    if action is None:
        return _refuse(call, ev, f"unknown control {ev.action!r}")
    return action(call, ev)


def _event(call: Call, kind: str, state: str = "", target: str = "") -> DeskEvent:
    return DeskEvent(kind, call.call_id, call.operator_id, state, target)


def bad_target(call: Call, target: str) -> str:
    """Why ``target`` cannot be dialled ("" when it can)."""
    if not NUMBER.fullmatch(target):
        return f"{target or 'an empty number'!r} is not a phone number (3 to 20 digits)"
    if target in call.config.own_lines:
        return f"{target} is this hotline's own number"
    return ""


def _hold(call: Call, ev: Control) -> Step:
    if call.held_at:
        return _refuse(call, ev, "the caller is already on hold")
    call = replace(call, held_at=ev.now or 1e-9)
    return call, [HoldCaller(call.chan), _reply(ev, "held"), _event(call, "held")]


def _resume(call: Call, ev: Control) -> Step:
    if not call.held_at:
        return _refuse(call, ev, "the caller is not on hold")
    call = replace(call, held_at=0.0, hold_s=call.hold_s + max(0.0, ev.now - call.held_at))
    return call, [ResumeCaller(call.chan), _reply(ev, "resumed"), _event(call, "resumed")]


def _transfer(call: Call, ev: Control) -> Step:
    """Blind transfer: the caller goes to the dialplan's transfer context for the number,
    the operator's leg is hung up and the seat goes to wrap-up."""
    if call.third_channel:
        return _refuse(call, ev, "end the three-way call before transferring")
    why = bad_target(call, ev.target)
    if why:
        return _refuse(call, ev, why)
    # Leaving the bridge ends the hold indication, but the caller's voice would stay muted.
    cmds: list[Command] = [ResumeCaller(call.chan)] if call.held_at else []
    ended = _settle_hold(call, ev.now)
    talk = max(0.0, ev.now - call.answered_at)
    return replace(ended, state=CallState.ENDED), [
        *cmds,
        Transfer(call.chan, ev.target),
        _reply(ev, "transferred"),
        _event(call, "transferred", target=ev.target),
        Hangup(call.agent_channel),
        DestroyBridge(call.bridge_id),
        CallFinished(call.call_id, call.operator_id, talk, "transferred"),
    ]


def _conference(call: Call, ev: Control) -> Step:
    if call.third_channel:
        return _refuse(call, ev, "a three-way call is already in progress")
    why = bad_target(call, ev.target)
    if why:
        return _refuse(call, ev, why)
    n = call.thirds + 1
    third = f"third-{call.call_id}-{n}"
    call = replace(call, third_channel=third, third_number=ev.target, third_joined=False, thirds=n)
    return call, [
        DialThird(call.call_id, third, ev.target),
        _reply(ev, "dialing"),
        _event(call, "conference", "dialing", ev.target),
    ]


def _hangup(call: Call, ev: Control) -> Step:
    # As if the operator put the phone down: what follows (the rating) is the hang-up's.
    return call, [Hangup(call.agent_channel), _reply(ev, "hung_up")]


_ACTIONS: dict[str, Callable[[Call, Control], Step]] = {
    "hold": _hold,
    "resume": _resume,
    "transfer": _transfer,
    "conference": _conference,
    "hangup": _hangup,
}


# -- the third leg -----------------------------------------------------------------------


def _drop_third(call: Call) -> Call:
    return replace(call, third_channel="", third_number="", third_joined=False)


def third_answered(call: Call, ev: ThirdAnswered) -> Step:
    if ev.channel != call.third_channel or call.third_joined:
        return call, [Hangup(ev.channel)]
    call = replace(call, third_joined=True)
    return call, [
        AddToBridge(call.bridge_id, ev.channel),
        _event(call, "conference", "joined", call.third_number),
    ]


def third_failed(call: Call, ev: ThirdFailed) -> Step:
    if ev.channel != call.third_channel:
        return call, []
    state = "left" if call.third_joined else "failed"
    return _drop_third(call), [_event(call, "conference", state, call.third_number)]


def third_left(call: Call, ev: ThirdLeft) -> Step:
    return third_failed(call, ThirdFailed(ev.channel, "hangup"))


def stray_third(call: Call, ev: ThirdAnswered) -> Step:
    return call, [Hangup(ev.channel)]


# -- the call leaving CONNECTED ------------------------------------------------------------


def _settle_hold(call: Call, now: float) -> Call:
    if not call.held_at:
        return call
    return replace(call, held_at=0.0, hold_s=call.hold_s + max(0.0, now - call.held_at))


def ending(handler: Callable[[Call, Any], Step]) -> Callable[[Call, Any], Step]:
    """Wrap a CONNECTED transition: when the call leaves CONNECTED, the hold ends (counted)
    and a third leg is hung up with it; a third leg that vanished in a resync is dropped."""

    def wrapped(call: Call, ev: Any) -> Step:
        after, cmds = handler(call, ev)
        if after.state is CallState.CONNECTED:
            if isinstance(ev, Resynced) and after.third_channel not in ("", *ev.channels):
                after, more = third_left(after, ThirdLeft(after.third_channel))
                return after, [*cmds, *more]
            return after, cmds
        pre: list[Command] = []
        if after.held_at and not isinstance(ev, CallerHungUp):
            pre.append(ResumeCaller(after.chan))
        if after.third_channel:
            pre.append(Hangup(after.third_channel))
        after = _drop_third(_settle_hold(after, getattr(ev, "now", after.held_at)))
        return after, [*pre, *cmds]

    return wrapped
