"""Typed keys for the state the domains share on the aiohttp application.

The types are named for the checker only: importing this module imports no domain, so any
route module can use the keys without depending on every adapter.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from .agent_desk.panels import PanelStore
    from .asr.tap import LiveTranscriber
    from .config import Settings
    from .ivr.runtime import IvrRuntime
    from .metrics import Metrics
    from .queue.router import Router
    from .queue.store import RedisStore
    from .surveys.calls import SurveyScheduler
    from .telephony.ami import AmiClient
    from .telephony.ari import AriClient
    from .telephony.hooks import CallHooks
    from .telephony.stasis import StasisController
    from .tickets.portal_http import PortalServices
    from .tickets.services import TicketServices

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
REDIS: web.AppKey[aioredis.Redis] = web.AppKey("redis")
STORE: web.AppKey[RedisStore] = web.AppKey("store")
ROUTER: web.AppKey[Router] = web.AppKey("router")
ARI: web.AppKey[AriClient] = web.AppKey("ari")
AMI: web.AppKey[AmiClient] = web.AppKey("ami")
CONTROLLER: web.AppKey[StasisController] = web.AppKey("controller")
LOOP_LAG: web.AppKey[collections.deque[float]] = web.AppKey("loop_lag")
INSTANCE: web.AppKey[str] = web.AppKey("instance")  # this server instance's id
IVR: web.AppKey[IvrRuntime] = web.AppKey("ivr")
HOOKS: web.AppKey[CallHooks] = web.AppKey("call_hooks")  # filled by the domains, then the
SURVEYS: web.AppKey[SurveyScheduler] = web.AppKey("surveys")  # controller is built with it
TICKETS: web.AppKey[TicketServices] = web.AppKey("tickets")
TRANSCRIBER: web.AppKey[LiveTranscriber] = web.AppKey("transcriber")  # when speech is on
PORTAL: web.AppKey[PortalServices] = web.AppKey("portal")  # the department portal's parts
PANELS: web.AppKey[PanelStore] = web.AppKey("desk_panels")  # each rung call's desk panel
