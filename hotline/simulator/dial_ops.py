"""The stand-in's outbound legs (operators' phones, citizens rung through the trunk) and the
dialplan's ``Queue(fallback)`` for callers the application does not take."""

# mypy: disable-error-code="misc"
# (A mixin of SimAsterisk annotates self as SimAsterisk, so its attribute use is checked;
# mypy calls such a self type "not a supertype" under the misc code.)
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import SimAsterisk

from .state import SimChannel, SimEndpoint, SimError, ts

# The shipped extensions.conf: [hotline-transfer] exten => _X.,1,Dial(PJSIP/${EXTEN}@trunk,60)
# and, when nobody answers, Goto(hotline-fallback,s,1).
TRANSFER_CONTEXT = "hotline-transfer"
TRANSFER_DIAL_S = 60.0


class DialOps:
    """Part of :class:`~.model.SimAsterisk` (a mixin: the state lives there)."""

    def originate(
        self: SimAsterisk,
        endpoint: str,
        app: str,
        app_args: str,
        channel_id: str | None,
        caller_id: str,
        timeout: int,
        variables: dict[str, str] | None = None,
    ) -> SimChannel:
        self.stats.originates += 1
        ep = self.endpoints.get(endpoint)
        trunk = ep is None and "@" in endpoint
        if trunk:
            # A citizen's phone through the trunk (callbacks, follow-up surveys).
            number = endpoint.split("/", 1)[-1].split("@", 1)[0]
            script = self.citizens.get(number, self.citizen_script)
            ep = SimEndpoint("PJSIP", endpoint.split("/", 1)[-1], script=script)
        if ep is None or ep.state != "online":
            raise SimError(500, "Allocation failed", key="error")
        if channel_id and channel_id in self.channels:
            raise SimError(409, "Channel with given unique ID already exists.")
        num = caller_id.split("<")[-1].rstrip(">").strip() if caller_id else ""
        name = caller_id.split("<")[0].strip().strip('"') if caller_id else ""
        ch = SimChannel(
            id=channel_id or self._uniqueid(),
            name=self._chan_name(endpoint),
            state="Down",
            caller={"name": name, "number": num},
            connected={"name": name, "number": num},
            dialplan={
                "context": "from-agent",
                "exten": "s",
                "priority": 1,
                "app_name": "AppDial2",
                "app_data": "(Outgoing Line)",
            },
            creationtime=ts(),
            kind="citizen" if trunk else "agent",
            protocol_id=f"{self.rng.getrandbits(64):x}",
            subscribed=True,
            originated=True,
            endpoint=endpoint,
            app_args=app_args,
            speech=ep.script.speech,
        )
        for name, value in (variables or {}).items():
            ch.vars[name] = str(value)
            if name == "CHANNEL(language)":
                ch.language = str(value)
        self.channels[ch.id] = ch
        ep.channel_ids.append(ch.id)
        self.ami("Newchannel", self._ami_channel(ch))
        self.spawn(self._ring(ch, ep, app_args, timeout))
        return ch

    async def _ring(
        self: SimAsterisk, ch: SimChannel, ep: SimEndpoint, app_args: str, timeout: int
    ) -> None:
        await asyncio.sleep(0)
        dial = {"forward": "", "dialstring": ep.resource}
        self.emit("Dial", {"dialstatus": "", **dial, "peer": ch.to_json()}, ch)
        self.emit("Dial", {"dialstatus": "RINGING", **dial, "peer": ch.to_json()}, ch)
        self._set_state(ch, "Ringing")
        script = ep.script
        answers = self.rng.random() < script.answer_prob
        delay = script.answer_delay_s
        if script.answer_delay_jitter_s > 0:
            delay += self.rng.uniform(0.0, script.answer_delay_jitter_s)
        wait = delay if answers else float(timeout or 30)
        if answers and timeout and wait > timeout:
            answers, wait = False, float(timeout)
        try:
            await asyncio.wait_for(ch.gone.wait(), timeout=wait)
            return  # cancelled by the app before the seat answered
        except TimeoutError:
            pass
        if ch.id not in self.channels:
            return
        if not answers:
            self.emit("Dial", {"dialstatus": "NOANSWER", **dial, "peer": ch.to_json()}, ch)
            self._destroy(ch, 19, "User alerting, no answer")
            return
        self._set_state(ch, "Up")
        self.emit("Dial", {"dialstatus": "ANSWER", **dial, "peer": ch.to_json()}, ch)
        ch.dialplan = {
            "context": "from-agent",
            "exten": "s",
            "priority": 1,
            "app_name": "Stasis",
            "app_data": f"{self.app},{app_args}",
        }
        self._varset(ch, "STASISSTATUS", "")
        ch.in_stasis = True
        self.emit(
            "StasisStart",
            {"args": app_args.split(",") if app_args else [], "channel": ch.to_json()},
            ch,
        )
        if script.talk_s > 0:
            self.later(script.talk_s, self.remote_hangup, ch.id)

    def _dial_transfer(self: SimAsterisk, ch: SimChannel, number: str) -> None:
        """A caller continued to the transfer context: the dialplan dials the number
        through the trunk (answering as ``citizens[number]`` says)."""
        ch.dialplan = {
            "context": TRANSFER_CONTEXT,
            "exten": number,
            "priority": 2,
            "app_name": "Dial",
            "app_data": f"PJSIP/{number}@trunk,{int(TRANSFER_DIAL_S)}",
        }
        ch.transferred_to = number
        self.spawn(self._transfer_dial(ch, number))

    async def _transfer_dial(self: SimAsterisk, ch: SimChannel, number: str) -> None:
        script = self.citizens.get(number, self.citizen_script)
        answers = self.rng.random() < script.answer_prob
        try:
            await asyncio.wait_for(
                ch.gone.wait(), script.answer_delay_s if answers else TRANSFER_DIAL_S
            )
            return  # the caller hung up while it rang
        except TimeoutError:
            pass
        if ch.id not in self.channels:
            return
        if not answers:
            self.stats.fallback_calls += 1
            self._enter_fallback_queue(ch)
            return
        ch.transfer_answered = True
        if script.talk_s > 0:
            self.later(script.talk_s, self.remote_hangup, ch.id)

    def _enter_fallback_queue(self: SimAsterisk, ch: SimChannel) -> None:
        self.fallback_waiting.append(ch.id)
        self.ami(
            "QueueCallerJoin",
            [
                *self._ami_channel(ch),
                ("Queue", "fallback"),
                ("Position", str(len(self.fallback_waiting))),
                ("Count", str(len(self.fallback_waiting))),
            ],
        )
        self.spawn(self._fallback_connect(ch))

    async def _fallback_connect(self: SimAsterisk, ch: SimChannel) -> None:
        while ch.id in self.channels:
            free = [
                ep for ep in self.endpoints.values() if ep.state == "online" and not ep.channel_ids
            ]
            if free:
                ep = self.rng.choice(free)
                ep.channel_ids.append(f"fallback-{ch.id}")
                await asyncio.sleep(ep.script.answer_delay_s)
                if ch.id in self.fallback_waiting:
                    self.fallback_waiting.remove(ch.id)
                if ch.id in self.channels:
                    self.stats.fallback_answered += 1
                    ch.bridged_with_agent.set()
                    self.ami("QueueCallerLeave", [*self._ami_channel(ch), ("Queue", "fallback")])
                    self.ami(
                        "AgentConnect",
                        [*self._ami_channel(ch), ("Queue", "fallback"), ("Interface", ep.name)],
                    )
                    await ch.gone.wait()
                ep.channel_ids.remove(f"fallback-{ch.id}")
                return
            await asyncio.sleep(0.2)
