"""What the IVR needs at run time: the flows in force and the runtime flags.

Flows are reloaded on request; a broken file leaves the flows in force untouched and the
error is kept for the API and the log. Flags (emergency announcements) live in Redis so every
instance sees a supervisor's switch; each instance keeps a copy refreshed every second and
updated at once when the switch is made through it, so the next caller hears it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from hotline.errors import HotlineError
from hotline.ivr.flow import Flow, FlowError, load_flows
from hotline.queue.store import RedisStore

log = logging.getLogger(__name__)

BUILT_IN = Path(str(resources.files("hotline.ivr") / "flows"))


class UnknownFlag(HotlineError):
    """A flag no flow in force reads: switching it would silently do nothing."""

    error_id = "ivr-unknown-flag"
    status = 404

    def __init__(self, name: str, known: frozenset[str]) -> None:
        listed = ", ".join(sorted(known)) or "none"
        super().__init__(
            f"no IVR flow reads the flag {name!r}; known flags: {listed}",
            flag=name,
            known=sorted(known),
        )


class IvrRuntime:
    def __init__(
        self,
        folder: Path | None,
        store: RedisStore,
        *,
        timezone: str = "Asia/Shanghai",
        greeting: str = "hotline/welcome",
        refresh_s: float = 1.0,
    ) -> None:
        self.folder = folder
        self.store = store
        self.tz = ZoneInfo(timezone)
        self.greeting = greeting
        self.refresh_s = refresh_s
        self.flags: frozenset[str] = frozenset()
        self.last_error: list[str] = []
        try:
            self.flows = load_flows(folder, greeting=greeting)
        except FlowError as e:
            # The server must still take calls: the built-in greeting-then-queue flow.
            log.error("IVR flows not loaded, using the built-in flow: %s", "; ".join(e.errors))
            self.last_error = e.errors
            self.flows = load_flows(None, greeting=greeting)
        self._task: asyncio.Task[None] | None = None

    def flow_for(self, line: str) -> Flow:
        return self.flows.for_line(line)

    def reload(self) -> list[str]:
        """Load the flow files again; on any error keep the flows in force and return it."""
        try:
            self.flows = load_flows(self.folder, greeting=self.greeting)
        except FlowError as e:
            self.last_error = e.errors
            log.error("IVR reload refused, previous flows stay in force: %s", "; ".join(e.errors))
            return e.errors
        self.last_error = []
        log.info("IVR flows reloaded: %s", sorted(self.flows.sources.values()))
        return []

    def now(self) -> datetime:
        return datetime.now(UTC).astimezone(self.tz)

    def known_flags(self) -> frozenset[str]:
        return self.flows.known_flags()

    async def set_flag(self, name: str, on: bool) -> frozenset[str]:
        """Switch a flag some flow reads; one still on that no flow reads any more (the flows
        were reloaded since) may be switched off."""
        known = self.known_flags()
        if name not in known and (on or name not in self.flags):
            raise UnknownFlag(name, known)
        await self.store.set_flag(name, on)
        self.flags = self.flags | {name} if on else self.flags - {name}
        log.warning("IVR flag %s switched %s", name, "on" if on else "off")
        return self.flags

    async def refresh(self) -> None:
        self.flags = await self.store.flags()

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as e:  # Redis down: keep the last known flags
                log.debug("IVR flag refresh failed: %s", e)
            await asyncio.sleep(self.refresh_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="ivr-flags")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
