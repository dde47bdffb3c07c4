"""The stand-in's bridges: each channel joins on its own control, after whatever it is still
doing."""

# mypy: disable-error-code="misc"
# (A mixin of SimAsterisk annotates self as SimAsterisk, so its attribute use is checked;
# mypy calls such a self type "not a supertype" under the misc code.)
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import SimAsterisk

from .state import SimBridge, SimChannel, SimError, ts


class BridgeOps:
    """Part of :class:`~.model.SimAsterisk` (a mixin: the state lives there)."""

    def create_bridge(
        self: SimAsterisk, bridge_id: str | None, bridge_type: str, name: str
    ) -> SimBridge:
        bid = bridge_id or f"{self.rng.getrandbits(64):016x}"
        if bid in self.bridges:
            raise SimError(409, "Bridge with the same bridgeId already exists")
        b = SimBridge(id=bid, name=name, bridge_type=bridge_type or "mixing", creationtime=ts())
        self.bridges[bid] = b
        return b

    async def add_to_bridge(self: SimAsterisk, bridge_id: str, channel_ids: list[str]) -> None:
        """Each channel joins on its own control, after whatever it is still doing (a
        playback or a recording holds the add back until it ends)."""
        b = self.get_bridge(bridge_id)
        chans = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise SimError(400, "Channel not found")
            if not ch.in_stasis:
                raise SimError(422, "Channel not in Stasis application")
            if ch.bridge and ch.bridge != bridge_id:
                raise SimError(409, "Channel currently recording or in another bridge")
            chans.append(ch)
        for ch in chans:
            await self.control(ch).post(functools.partial(self._join, b, ch))
        self._bridge_changed(b)

    def _join(self: SimAsterisk, b: SimBridge, ch: SimChannel) -> None:
        if b.id not in self.bridges:
            raise SimError(404, "Bridge not found")
        if ch.bridge == b.id:
            return
        if ch.bridge:
            raise SimError(409, "Channel currently recording or in another bridge")
        ch.bridge = b.id
        b.channels.append(ch.id)
        self.emit("ChannelEnteredBridge", {"bridge": b.to_json(), "channel": ch.to_json()}, ch)

    def _bridge_changed(self: SimAsterisk, b: SimBridge) -> None:
        members = [self.channels[c] for c in b.channels if c in self.channels]
        if len(members) >= 2:
            for ch in members:
                peer = next(m for m in members if m is not ch)
                self._varset(ch, "BRIDGEPEER", peer.name)
                self._varset(ch, "BRIDGEPVTCALLID", "")
            for ch in members:
                peer = next(m for m in members if m is not ch)
                line = {"name": peer.caller["name"], "number": peer.caller["number"]}
                if line["number"] and line != ch.connected:
                    ch.connected = line
                    self._ch_event("ChannelConnectedLine", ch)
            kinds = {m.kind for m in members}
            if kinds & {"caller", "citizen"} and "agent" in kinds:
                for m in members:
                    m.bridged_with_agent.set()
        self._start_media(b)

    def _leave_bridge(self: SimAsterisk, ch: SimChannel) -> None:
        b = self.bridges.get(ch.bridge)
        ch.bridge = ""
        if b is None or ch.id not in b.channels:
            return
        b.channels.remove(ch.id)
        if ch.held:  # bridge_channel.c: "Complete any active hold before exiting the bridge"
            self.hold(ch, False)
        self._varset(ch, "BRIDGEPEER", "")
        self.emit("ChannelLeftBridge", {"bridge": b.to_json(), "channel": ch.to_json()}, ch)

    def remove_from_bridge(self: SimAsterisk, bridge_id: str, channel_ids: list[str]) -> None:
        b = self.get_bridge(bridge_id)
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise SimError(400, "Channel not found")
            if ch.id not in b.channels:
                raise SimError(422, "Channel not in this bridge")
            self._leave_bridge(ch)

    def destroy_bridge(self: SimAsterisk, bridge_id: str) -> None:
        b = self.get_bridge(bridge_id)
        if b.recording:
            self.stop_recording(b.recording)
        for cid in list(b.channels):
            if cid in self.channels:
                self._leave_bridge(self.channels[cid])
        del self.bridges[bridge_id]
        self.emit("BridgeDestroyed", {"bridge": b.to_json()})
