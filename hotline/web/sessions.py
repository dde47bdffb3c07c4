"""Browser sessions and sign-in throttling, in Redis (shared by every server instance).

A session id is 32 random bytes, given to the browser once in a cookie; Redis keeps only its
SHA-256, so a copy of Redis holds no usable session. A session ends when it is idle for
``idle_s`` (the key's TTL, renewed on use) or ``absolute_s`` after sign-in, whichever comes
first. Every session carries its own CSRF token. The only module that names these keys.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis

from ..roles import Actor, Role


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class WebSession:
    """Who signed in, when, and the CSRF token their pages send back."""

    actor: Actor
    csrf: str
    created: float
    locale: str


class SessionStore:
    def __init__(
        self,
        client: aioredis.Redis,
        prefix: str,
        *,
        idle_s: float,
        absolute_s: float,
    ) -> None:
        self.r = client
        self.p = f"{prefix}web:"
        self.idle_s = idle_s
        self.absolute_s = absolute_s

    def _key(self, sid: str) -> str:
        return f"{self.p}session:{_digest(sid)}"

    def _user_key(self, user_id: int | None) -> str:
        return f"{self.p}user-sessions:{user_id}"

    async def create(self, actor: Actor, locale: str, now: float | None = None) -> str:
        """A new session (a new id every sign-in: an id known before it is worth nothing)."""
        sid = secrets.token_urlsafe(32)
        now = time.time() if now is None else now
        record: dict[Any, Any] = {
            "actor": json.dumps(asdict(actor), ensure_ascii=False),
            "csrf": secrets.token_urlsafe(32),
            "created": f"{now:.3f}",
            "locale": locale,
        }
        key = self._key(sid)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=record)
            pipe.expire(key, int(min(self.idle_s, self.absolute_s)) or 1)
            pipe.sadd(self._user_key(actor.user_id), key)
            pipe.expire(self._user_key(actor.user_id), int(self.absolute_s) + 60)
            await pipe.execute()
        return sid

    async def get(self, sid: str, now: float | None = None) -> WebSession | None:
        """The live session behind ``sid`` (its idle timer renewed), or None."""
        if not sid or len(sid) > 128:
            return None
        key = self._key(sid)
        raw = await self.r.hgetall(key)
        if not raw or b"created" not in raw or b"actor" not in raw:
            return None  # gone, or a half-written record left by a race with its expiry
        now = time.time() if now is None else now
        created = float(raw[b"created"])
        left = created + self.absolute_s - now
        if left <= 0:
            await self.r.delete(key)
            return None
        await self.r.expire(key, max(1, int(min(self.idle_s, left))))
        a = json.loads(raw[b"actor"])
        actor = Actor(a["user_id"], Role(a["role"]), a["department_id"], a["name"], a["username"])
        return WebSession(actor, _text(raw[b"csrf"]), created, _text(raw[b"locale"]))

    async def alive(self, sid: str, now: float | None = None) -> bool:
        """Whether the session stands, without counting this as use (an open event stream
        must not keep an unattended desk signed in)."""
        if not sid or len(sid) > 128:
            return False
        created = await self.r.hget(self._key(sid), "created")
        if created is None:
            return False
        now = time.time() if now is None else now
        return float(created) + self.absolute_s > now

    async def set_locale(self, sid: str, locale: str) -> None:
        key = self._key(sid)
        if await self.r.exists(key):
            await self.r.hset(key, "locale", locale)

    async def drop(self, sid: str) -> None:
        await self.r.delete(self._key(sid))

    async def drop_user(self, user_id: int | None) -> int:
        """Sign a user out everywhere (disabled, or their password changed)."""
        keys = await self.r.smembers(self._user_key(user_id))
        if keys:
            await self.r.delete(*keys)
        await self.r.delete(self._user_key(user_id))
        return len(keys)


_DECR_IF_THERE = """
if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Throttle:
    """Failed sign-ins allowed per account and per client address in a window."""

    window_s: float
    per_account: int
    per_address: int


class LoginLimiter:
    """Counts failed sign-ins; once an account or an address is over its limit, further
    attempts are refused until the window has passed (even with the right password)."""

    def __init__(self, client: aioredis.Redis, prefix: str, throttle: Throttle) -> None:
        self.r = client
        self.p = f"{prefix}web:login:"
        self.t = throttle

    def _keys(self, username: str, address: str) -> tuple[str, str]:
        return f"{self.p}user:{_digest(username.lower())}", f"{self.p}addr:{address}"

    async def attempt(self, username: str, address: str) -> float:
        """Count this attempt first, in one step, then say how long to wait (0: go on).
        Counting before the password is checked means a thousand parallel guesses are a
        thousand counted, not five; a success takes its own count back (``succeeded``)."""
        user_key, addr_key = self._keys(username, address)
        window = max(1, int(self.t.window_s))
        async with self.r.pipeline(transaction=True) as pipe:
            # SET NX EX then INCR: the window starts at the first attempt and INCR keeps its
            # TTL (EXPIRE NX would need Redis 7; the embedded Redis is older)
            pipe.set(user_key, 0, ex=window, nx=True)
            pipe.incr(user_key)
            pipe.set(addr_key, 0, ex=window, nx=True)
            pipe.incr(addr_key)
            pipe.pttl(user_key)
            pipe.pttl(addr_key)
            _, user_n, _, addr_n, user_ttl, addr_ttl = await pipe.execute()
        waits = []
        if int(user_n) > self.t.per_account:
            waits.append(max(user_ttl, 1000) / 1000)
        if int(addr_n) > self.t.per_address:
            waits.append(max(addr_ttl, 1000) / 1000)
        return max(waits, default=0.0)

    async def succeeded(self, username: str, address: str) -> None:
        """The password was right: the account starts afresh, the address forgets this one."""
        user_key, addr_key = self._keys(username, address)
        await self.r.delete(user_key)
        await self.r.eval(_DECR_IF_THERE, 1, addr_key)  # never a count without its window
