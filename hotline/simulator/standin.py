"""Runs the stand-in's ARI (HTTP + websocket) and AMI (TCP) servers on real sockets."""

from __future__ import annotations

from aiohttp import web

from .ami_server import AmiServer
from .ari_server import build_ari_app
from .model import SimAsterisk


class StandIn:
    def __init__(
        self,
        sim: SimAsterisk | None = None,
        host: str = "127.0.0.1",
        ari_port: int = 0,
        ami_port: int = 0,
        user: str = "hotline",
        password: str = "hotline",
        ami_user: str = "hotline",
        ami_secret: str = "hotline",
    ) -> None:
        self.sim = sim or SimAsterisk()
        self.host = host
        self.ari_port = ari_port
        self.ami_port = ami_port
        self.app = build_ari_app(self.sim, user, password)
        self.ami = AmiServer(self.sim, ami_user, ami_secret)
        self._runner: web.AppRunner | None = None

    @property
    def ari_url(self) -> str:
        return f"http://{self.host}:{self.ari_port}"

    async def start(self) -> StandIn:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.ari_port).start()
        self.ari_port = int(self._runner.addresses[0][1])
        self.ami_port = await self.ami.start(self.host, self.ami_port)
        return self

    async def stop(self) -> None:
        await self.sim.close()
        await self.ami.close()
        if self._runner is not None:
            await self._runner.cleanup()
