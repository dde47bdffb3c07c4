"""Typed keys for the shared state on the aiohttp application."""

from __future__ import annotations

import collections

import redis.asyncio as aioredis
from aiohttp import web

from ..config import Settings
from ..metrics import Metrics
from ..queue.router import Router
from ..queue.store import RedisStore
from ..telephony.ami import AmiClient
from ..telephony.ari import AriClient
from ..telephony.stasis import StasisController

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
REDIS = web.AppKey("redis", aioredis.Redis)
STORE = web.AppKey("store", RedisStore)
ROUTER = web.AppKey("router", Router)
ARI = web.AppKey("ari", AriClient)
AMI = web.AppKey("ami", AmiClient)
CONTROLLER = web.AppKey("controller", StasisController)
LOOP_LAG: web.AppKey[collections.deque[float]] = web.AppKey("loop_lag")
