"""A supervisor listening to, whispering to or barging into an operator's live call.

Asterisk's semantics (res/ari/resource_channels.c, res/res_stasis_snoop.c): a snoop channel
on the operator's channel with ``spy=both`` carries both sides of the call to whoever is
bridged with it; ``whisper=out`` writes what that party says into the audio going *out to*
the operator's channel, so the operator hears it and the citizen does not. So:

- listen: snoop spy=both, whisper=none, bridged with the supervisor's phone;
- whisper: snoop spy=both, whisper=out, bridged with the supervisor's phone;
- barge: no snoop, the supervisor's phone joins the call's own bridge (all three talk).

The supervisor's seat is rung by an originate into this app (its StasisStart carries
``coach,<call id>``, which the call side leaves alone) and joined once it is up. The operator's
desk is told with ``call.coached`` {call_id, operator, on, mode}. Sessions live on the
instance that holds the call; coaching ends when the call does or the supervisor hangs up.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hotline.errors import HotlineError

from .exceptions import AriError, CallControlRefused
from .model import CallState
from .records import COACH_PREFIX

if TYPE_CHECKING:
    from .ari import AriClient
    from .runner import CallRunner

log = logging.getLogger(__name__)

SNOOP = {"listen": ("both", "none"), "whisper": ("both", "out")}  # mode → (spy, whisper)
MODES = (*SNOOP, "barge")
POLL_S = 0.1
Publish = Callable[..., Awaitable[None]]


class CoachingRefused(HotlineError):
    error_id = "coaching-refused"
    status = 409


@dataclass
class CoachSession:
    call_id: str
    operator_id: str
    mode: str
    endpoint: str
    supervisor: str
    channel_id: str  # the supervisor's phone
    snoop_id: str = ""
    bridge_id: str = ""  # the coaching bridge (listen, whisper) or the call's (barge)
    joined: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def describe(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "operator": self.operator_id,
            "mode": self.mode,
            "seat": self.endpoint,
            "channel": self.channel_id,
            "snoop": self.snoop_id,
            "joined": self.joined,
        }


class Coaching:
    """Coaching sessions on this instance's calls, at most one per call."""

    def __init__(
        self,
        ari: AriClient,
        calls: dict[str, CallRunner],
        publish: Publish,
        clock: Callable[[], float],
        ring_timeout_s: float = 20.0,
    ) -> None:
        self.ari = ari
        self.calls = calls
        self.publish = publish
        self.clock = clock
        self.ring_timeout_s = ring_timeout_s
        self.sessions: dict[str, CoachSession] = {}

    def _live(self, call_id: str) -> CallRunner | None:
        runner = self.calls.get(call_id)
        call = runner.call if runner else None
        if call is None or call.state is not CallState.CONNECTED or not call.agent_channel:
            return None
        return runner

    async def start(self, call_id: str, mode: str, endpoint: str, supervisor: str) -> CoachSession:
        if mode not in MODES:
            raise CoachingRefused(f"mode must be one of {', '.join(MODES)}", mode=mode)
        if call_id in self.sessions:
            raise CoachingRefused("this call is already coached", call_id=call_id)
        runner = self._live(call_id)
        if runner is None:
            raise CallControlRefused("no connected call with this id here", call_id=call_id)
        call = runner.call
        n = uuid.uuid4().hex[:12]
        sess = CoachSession(
            call_id, call.operator_id, mode, endpoint, supervisor, f"{COACH_PREFIX}{n}"
        )
        self.sessions[call_id] = sess
        try:
            if mode in SNOOP:
                spy, whisper = SNOOP[mode]
                sess.snoop_id, sess.bridge_id = f"{COACH_PREFIX}snoop-{n}", f"{COACH_PREFIX}b-{n}"
                await self.ari.request(
                    "POST",
                    f"/channels/{call.agent_channel}/snoop/{sess.snoop_id}",
                    {"spy": spy, "whisper": whisper, "app": self.ari.app, "appArgs": "coach"},
                )
                await self.ari.create_bridge(sess.bridge_id, "mixing", name=f"coach {call_id}")
                await self._join(sess.bridge_id, sess.snoop_id)
            else:
                sess.bridge_id = call.bridge_id
            await self.ari.originate(
                endpoint,
                app_args=f"coach,{call_id}",
                channel_id=sess.channel_id,
                timeout=int(self.ring_timeout_s),
            )
        except Exception:
            await self._teardown(sess)
            self.sessions.pop(call_id, None)
            raise
        sess.task = asyncio.create_task(self._run(sess), name=f"coach-{call_id}")
        log.info("call %s: %s by %s from %s", call_id, mode, supervisor, endpoint)
        return sess

    async def stop(self, call_id: str) -> bool:
        sess = self.sessions.get(call_id)
        if sess is None:
            return False
        if sess.task is not None:
            sess.task.cancel()
            await asyncio.gather(sess.task, return_exceptions=True)
        await self._end(sess)
        return True

    async def close(self) -> None:
        for call_id in list(self.sessions):
            await self.stop(call_id)

    async def _run(self, sess: CoachSession) -> None:
        """Join the supervisor once their phone is up, then watch for the end."""
        try:
            deadline = self.clock() + self.ring_timeout_s
            while not await self._up(sess.channel_id):
                if self.clock() > deadline or self._live(sess.call_id) is None:
                    log.info(
                        "call %s: supervisor's seat %s not answered", sess.call_id, sess.endpoint
                    )
                    return
                await asyncio.sleep(POLL_S)
            await self._join(sess.bridge_id, sess.channel_id)
            sess.joined = True
            await self._tell(sess, True)
            while True:  # the call's end and the supervisor's hang-up come as polls
                await asyncio.sleep(POLL_S * 3)
                if self._live(sess.call_id) is None or not await self._exists(sess.channel_id):
                    break
        except asyncio.CancelledError:
            raise
        except CoachingRefused as exc:
            log.info("call %s: coaching ends: %s", sess.call_id, exc.message)
        except Exception:
            log.exception("call %s: coaching failed", sess.call_id)
        sess.task = None
        await self._end(sess)

    async def _end(self, sess: CoachSession) -> None:
        if self.sessions.get(sess.call_id) is not sess:
            return
        del self.sessions[sess.call_id]
        await self._teardown(sess)
        if sess.joined:
            await self._tell(sess, False)
        log.info("call %s: %s by %s ended", sess.call_id, sess.mode, sess.supervisor)

    async def _teardown(self, sess: CoachSession) -> None:
        for channel in (sess.channel_id, sess.snoop_id):
            if channel:
                try:
                    await self.ari.hangup(channel)
                except AriError:
                    pass  # already gone
        if sess.bridge_id.startswith(COACH_PREFIX):
            try:
                await self.ari.destroy_bridge(sess.bridge_id)
            except AriError:
                pass

    async def _tell(self, sess: CoachSession, on: bool) -> None:
        try:
            await self.publish(
                "call.coached",
                self.clock(),
                call_id=sess.call_id,
                operator=sess.operator_id,
                on=on,
                mode=sess.mode,
                supervisor=sess.supervisor,
            )
        except Exception as exc:  # Redis away: the coaching itself goes on
            log.warning("call %s: call.coached not published: %r", sess.call_id, exc)

    async def _join(self, bridge_id: str, channel_id: str) -> None:
        """Add a channel that may still be on its way into Stasis (a snoop enters it from its
        own thread after the REST reply): Asterisk answers 422 until it is there."""
        for _ in range(50):
            try:
                await self.ari.add_channels(bridge_id, channel_id)
                return
            except AriError as exc:
                if exc.http_status != 422:
                    raise
            await asyncio.sleep(POLL_S)
        raise CoachingRefused("the channel never entered the application", channel=channel_id)

    async def _up(self, channel_id: str) -> bool:
        try:
            return (await self.ari.get_channel(channel_id)).state == "Up"
        except AriError as exc:
            if exc.http_status == 404:
                raise CoachingRefused("the supervisor's seat hung up") from exc
            raise

    async def _exists(self, channel_id: str) -> bool:
        try:
            await self.ari.get_channel(channel_id)
            return True
        except AriError as exc:
            if exc.http_status == 404:
                return False
            raise
