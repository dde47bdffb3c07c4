"""What each command of the call machine does: one small handler per command type.

A handler does the I/O (ARI, the router, the hooks) and returns what the bookkeeping needs
(``book.py``); it never counts or records. A new command is a type in ``model.py``, a
transition that emits it, a handler here and, if it is counted, a case in ``book.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ..queue.models import GENERAL_SKILL, Task
from . import session as s
from .exceptions import AriError, AriNotFound
from .records import Ringing

if TYPE_CHECKING:
    from .runner import CallRunner

log = logging.getLogger(__name__)
Handler = Callable[["CallRunner", Any], Awaitable[Any]]


async def answer(r: CallRunner, cmd: s.Answer) -> None:
    await r.host.ari.answer(cmd.channel)
    # Prompts are looked up in the channel's language: set it from the line, whatever the
    # caller's endpoint says (a channel left in ``en`` hears nothing).
    language = r.host.settings.line(r.call.line).language
    if language:
        try:
            await r.host.ari.set_variable(cmd.channel, "CHANNEL(language)", language)
        except AriError as exc:
            log.warning("call %s: cannot set language %s: %s", r.call_id, language, exc)


async def play(r: CallRunner, cmd: s.Play) -> None:
    await r.host.ari.play(cmd.channel, cmd.media, playback_id=cmd.playback_id)


async def start_moh(r: CallRunner, cmd: s.StartMoh) -> None:
    await r.host.ari.start_moh(cmd.channel, r.host.settings.moh_class)


async def stop_moh(r: CallRunner, cmd: s.StopMoh) -> None:
    await r.host.ari.stop_moh(cmd.channel)


async def start_timer(r: CallRunner, cmd: s.StartTimer) -> None:
    r.start_timer(cmd.name, cmd.seconds, cmd.token)


async def cancel_timer(r: CallRunner, cmd: s.CancelTimer) -> None:
    handle = r.timers.pop(cmd.name, None)
    if handle:
        handle.cancel()


async def enqueue(r: CallRunner, cmd: s.Enqueue) -> tuple[Task, Task]:
    line = r.host.settings.line(r.call.line)
    skill = cmd.skill or line.skill
    task = Task(
        call_id=cmd.call_id,
        queue=skill,
        skills=(skill,) if skill == GENERAL_SKILL else (skill, GENERAL_SKILL),
        language=cmd.language or line.language,
        priority=line.priority if cmd.priority is None else cmd.priority,
        enqueued_at=r.host.clock(),
        line=r.call.line,
        owner=r.host.instance_id,
    )
    return task, await r.host.router.enqueue(task)


async def leave_queue(r: CallRunner, cmd: s.LeaveQueue) -> tuple[str, str, float] | None:
    return await r.host.router.leave(cmd.call_id, cmd.reason)


async def originate(r: CallRunner, cmd: s.Originate) -> None:
    r.host.channel_owner[cmd.agent_channel] = cmd.call_id
    number = r.caller_number
    try:
        await r.host.ari.originate(
            cmd.endpoint,
            app_args=f"agent,{cmd.call_id}",
            channel_id=cmd.agent_channel,
            caller_id=f'"{number}" <{number}>',
            timeout=int(r.host.settings.ring_timeout_s),
            originator=cmd.call_id,
        )
    except AriError as exc:
        log.warning("call %s: cannot ring %s: %s", cmd.call_id, cmd.endpoint, exc)
        r.put(s.AgentFailed(cmd.agent_channel, "unreachable"))
        return
    hook = r.host.hooks.on_ringing
    if hook is not None:  # the desk's panel, off the call path
        ivr_state = r.call.ivr
        r.host.background(
            hook(
                Ringing(
                    cmd.call_id,
                    cmd.operator_id,
                    r.call.line,
                    number,
                    r.book.summary.queue,
                    ivr_state.path if ivr_state is not None else (),
                    r.book.enqueued_at,
                    r.host.clock(),
                )
            )
        )


async def create_bridge(r: CallRunner, cmd: s.CreateBridge) -> None:
    await r.host.ari.create_bridge(cmd.bridge_id, "mixing", name=cmd.bridge_id)


async def join_bridge(r: CallRunner, cmd: s.JoinBridge) -> None:
    """Bridge the caller and the operator. A slow or failed add is checked against the
    bridge and tried once more: an answered call never falls back over it."""
    ari = r.host.ari
    stopping_moh = asyncio.ensure_future(ari.stop_moh(r.call_id))
    try:
        await ari.add_channels(cmd.bridge_id, *cmd.channels)
    except AriNotFound:
        raise
    except AriError as exc:
        log.warning("call %s: bridge add failed (%s); checking the bridge", r.call_id, exc)
        bridge = await ari.get_bridge(cmd.bridge_id)
        missing = [c for c in cmd.channels if c not in bridge.channels]
        if missing:
            await ari.add_channels(cmd.bridge_id, *missing)
    finally:
        with contextlib.suppress(AriError):
            await stopping_moh


async def record_bridge(r: CallRunner, cmd: s.RecordBridge) -> None:
    try:
        await r.host.ari.record_bridge(cmd.bridge_id, cmd.name)
    except AriError as exc:  # a failed recording must not cost the caller the conversation
        log.warning("call %s: recording failed: %s", r.call_id, exc)


async def mark_answered(r: CallRunner, cmd: s.MarkAnswered) -> float | None:
    wait = await r.host.router.answered(cmd.call_id, cmd.operator_id)
    hook = r.host.hooks.on_connected
    if hook is not None:
        hook(cmd.call_id, r.call.chan, r.call.agent_channel, cmd.operator_id)
    return wait


async def hangup(r: CallRunner, cmd: s.Hangup) -> None:
    await r.host.ari.hangup(cmd.channel)


async def stop_playback(r: CallRunner, cmd: s.StopPlayback) -> None:
    await r.host.ari.stop_playback(cmd.playback_id)


async def query_position(r: CallRunner, cmd: s.QueryPosition) -> None:
    ahead, eta, offer = await r.host.router.estimates.waiting_info(cmd.call_id)
    r.put(s.PositionInfo(cmd.purpose, ahead, eta, offer))


async def record_caller(r: CallRunner, cmd: s.RecordCaller) -> None:
    r.host.recording_owner[cmd.name] = r.call_id
    try:
        await r.host.ari.record_channel(cmd.channel, cmd.name, max_duration_s=int(cmd.max_s))
    except AriError as exc:
        log.warning("call %s: cannot record the description: %s", r.call_id, exc)
        r.put(s.RecordingDone(cmd.name, ok=False))


async def stop_recording(r: CallRunner, cmd: s.StopRecording) -> None:
    await r.host.ari.stop_recording(cmd.name)


async def description_recorded(r: CallRunner, cmd: s.DescriptionRecorded) -> None:
    await r.host.router.store.publish(
        "call.description", r.host.clock(), call_id=cmd.call_id, recording=cmd.name, draft="pending"
    )
    if r.host.hooks.on_description is not None:
        r.host.hooks.on_description(cmd.call_id, cmd.name)


async def save_rating(r: CallRunner, cmd: s.SaveRating) -> None:
    hook = r.host.hooks.on_rating
    if hook is not None:  # runs after the book has noted the stars on the record
        r.host.background(hook(r.book.summary))


async def dial_citizen(r: CallRunner, cmd: s.DialCitizen) -> None:
    cfg = r.host.settings
    r.host.channel_owner[cmd.channel] = r.call_id
    try:
        await r.host.ari.originate(
            cfg.callback_endpoint.format(number=r.caller_number),
            app_args=f"callback,{cmd.call_id}",
            channel_id=cmd.channel,
            caller_id=cfg.callback_caller_id,
            timeout=int(r.call.config.dial_timeout_s),
            variables={"CHANNEL(language)": cfg.line(r.call.line).language or "zh"},
        )
    except AriError as exc:
        log.warning("call %s: callback to %s failed: %s", cmd.call_id, r.caller_number, exc)
        r.put(s.CitizenFailed(cmd.channel, "unreachable"))


async def lookup_ticket(r: CallRunner, cmd: s.LookupTicket) -> None:
    r.host.background(_lookup(r, cmd.number))


async def _lookup(r: CallRunner, number: str) -> None:
    status = None
    lookup = r.host.hooks.ticket_status
    try:
        if lookup is not None and len(number) == 13 and number.isdigit():
            status = await asyncio.wait_for(lookup(number), 5.0)
    except Exception as exc:  # a dead database: the caller hears "not found" and goes on
        log.warning("call %s: ticket lookup %s failed: %s", r.call_id, number, exc)
    r.put(s.TicketLookedUp(status is not None, status or ""))


async def transfer(r: CallRunner, cmd: s.Transfer) -> None:
    log.info("call %s transferred to %s", r.call_id, cmd.number)
    cfg = r.host.settings
    await r.host.ari.continue_in_dialplan(cmd.channel, cfg.transfer_context, cmd.number, 1)


async def hold_caller(r: CallRunner, cmd: s.HoldCaller) -> None:
    """ARI's hold indicates hold to the channel named (``ast_indicate``): the caller's own
    channel, whose chan_pjsip plays it music on hold while it stays in the bridge. Their
    voice is muted on the way in, so the operator hears nothing of them."""
    await r.host.ari.mute(cmd.channel, "in")
    await r.host.ari.hold(cmd.channel)  # a failure: the fallback unmutes the caller


async def resume_caller(r: CallRunner, cmd: s.ResumeCaller) -> None:
    await r.host.ari.unhold(cmd.channel)
    await r.host.ari.unmute(cmd.channel, "in")


async def dial_third(r: CallRunner, cmd: s.DialThird) -> None:
    """Ring the third party through the trunk, as a callback rings the citizen; its
    channel enters Stasis with ``third,<call>`` when answered."""
    cfg = r.host.settings
    r.host.channel_owner[cmd.channel] = r.call_id
    try:
        await r.host.ari.originate(
            cfg.callback_endpoint.format(number=cmd.number),
            app_args=f"third,{cmd.call_id}",
            channel_id=cmd.channel,
            caller_id=cfg.callback_caller_id,
            timeout=int(r.call.config.dial_timeout_s),
            originator=cmd.call_id,
        )
    except AriError as exc:
        log.warning("call %s: three-way call to %s failed: %s", cmd.call_id, cmd.number, exc)
        r.put(s.ThirdFailed(cmd.channel, "unreachable"))


async def add_to_bridge(r: CallRunner, cmd: s.AddToBridge) -> None:
    await r.host.ari.add_channels(cmd.bridge_id, cmd.channel)


async def control_reply(r: CallRunner, cmd: s.ControlReply) -> None:
    waiter = r.host.control_replies.pop(cmd.request_id, None)
    if waiter is not None and not waiter.done():
        waiter.set_result(cmd)


async def desk_event(r: CallRunner, cmd: s.DeskEvent) -> None:
    fields: dict[str, str] = {"call_id": cmd.call_id, "operator": cmd.operator_id}
    if cmd.state:
        fields["state"] = cmd.state
    if cmd.target:
        fields["target"] = cmd.target
    try:
        await r.host.router.store.publish(f"call.{cmd.kind}", r.host.clock(), **fields)
    except Exception as exc:  # the desk misses one event; the call goes on
        log.warning("call %s: call.%s not published: %r", cmd.call_id, cmd.kind, exc)


async def destroy_bridge(r: CallRunner, cmd: s.DestroyBridge) -> None:
    await r.host.ari.destroy_bridge(cmd.bridge_id)


async def offer_failed(r: CallRunner, cmd: s.OfferFailed) -> None:
    await r.host.router.offer_failed(cmd.call_id, cmd.operator_id, cmd.missed)


async def call_finished(r: CallRunner, cmd: s.CallFinished) -> None:
    await r.host.router.operators.call_ended(cmd.operator_id, cmd.talk_seconds)


HANDLERS: dict[type, Handler] = {
    s.Answer: answer,
    s.Play: play,
    s.StartMoh: start_moh,
    s.StopMoh: stop_moh,
    s.StartTimer: start_timer,
    s.CancelTimer: cancel_timer,
    s.Enqueue: enqueue,
    s.LeaveQueue: leave_queue,
    s.Originate: originate,
    s.CreateBridge: create_bridge,
    s.JoinBridge: join_bridge,
    s.RecordBridge: record_bridge,
    s.MarkAnswered: mark_answered,
    s.Hangup: hangup,
    s.StopPlayback: stop_playback,
    s.QueryPosition: query_position,
    s.RecordCaller: record_caller,
    s.StopRecording: stop_recording,
    s.DescriptionRecorded: description_recorded,
    s.SaveRating: save_rating,
    s.DialCitizen: dial_citizen,
    s.LookupTicket: lookup_ticket,
    s.Transfer: transfer,
    s.DestroyBridge: destroy_bridge,
    s.HoldCaller: hold_caller,
    s.ResumeCaller: resume_caller,
    s.DialThird: dial_third,
    s.AddToBridge: add_to_bridge,
    s.ControlReply: control_reply,
    s.DeskEvent: desk_event,
    s.OfferFailed: offer_failed,
    s.CallFinished: call_finished,
}
