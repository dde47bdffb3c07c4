"""Live routing state in Redis. The only module that knows Redis keys.

Every change two server instances could race on (reserving an operator for a call,
removing a call from the queue, changing an operator's state) is one Lua script
(:mod:`.scripts`) or one WATCH/MULTI transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from . import scripts
from .models import Operator, OperatorState, Task

# Score of a waiting task: lower is served first. Priority dominates, then enqueue time.
PRIORITY_WEIGHT = 1e10


def task_score(task: Task) -> float:
    return task.enqueued_at - task.priority * PRIORITY_WEIGHT


LIVE_CALL_TTL_S = 86_400  # a live call's progress outlives no call by more than a day
CONTROL_TTL_S = 30  # a desk control (or its answer) nobody took is gone after this


class RedisStore:
    """Operators, waiting calls, reservations and the domain event stream."""

    def __init__(self, client: aioredis.Redis, prefix: str = "hotline:") -> None:
        # Typed loosely: replies are bytes (decode_responses is off), which redis-py's
        # union return types cannot express.
        self.r: Any = client
        self.p = prefix
        self._reserve = client.register_script(scripts.RESERVE)
        self._release = client.register_script(scripts.RELEASE)
        self._answer = client.register_script(scripts.ANSWER)
        self._remove = client.register_script(scripts.REMOVE_TASK)
        self._set_state = client.register_script(scripts.SET_STATE)
        # Seats' static data (skills, languages, endpoint) rarely changes; a routing pass
        # reads only the ready set and its scores, plus counters when the order needs them.
        self._static: dict[str, tuple[str, dict[str, int], frozenset[str]]] = {}
        self._static_version = -1

    # keys
    def k_op(self, op_id: str) -> str:
        return f"{self.p}op:{op_id}"

    def k_task(self, call_id: str) -> str:
        return f"{self.p}task:{call_id}"

    @property
    def k_ops(self) -> str:
        return f"{self.p}ops"

    @property
    def k_ready(self) -> str:
        return f"{self.p}ops:ready"

    @property
    def k_waiting(self) -> str:
        return f"{self.p}waiting"

    @property
    def k_task_queue(self) -> str:
        return f"{self.p}taskqueue"

    @property
    def k_reservations(self) -> str:
        return f"{self.p}reservations"

    @property
    def k_ops_version(self) -> str:
        return f"{self.p}ops:version"

    @property
    def k_events(self) -> str:
        return f"{self.p}events"

    @property
    def k_flags(self) -> str:
        return f"{self.p}ivr:flags"

    def k_inbox(self, instance: str) -> str:
        return f"{self.p}inbox:{instance}"

    def k_call(self, call_id: str) -> str:
        return f"{self.p}call:{call_id}"

    def k_controls(self, instance: str) -> str:
        return f"{self.p}controls:{instance}"

    def k_control_reply(self, request_id: str) -> str:
        return f"{self.p}control-reply:{request_id}"

    # what a call's record needs if its instance dies before writing it
    async def save_call(self, call_id: str, **fields: str | float) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(self.k_call(call_id), mapping={k: str(v) for k, v in fields.items()})
            pipe.expire(self.k_call(call_id), LIVE_CALL_TTL_S)
            await pipe.execute()

    async def live_call(self, call_id: str) -> dict[str, str]:
        data = await self.r.hgetall(self.k_call(call_id))
        return {k.decode(): v.decode() for k, v in data.items()}

    async def drop_call(self, call_id: str) -> None:
        await self.r.delete(self.k_call(call_id))

    # operators
    async def upsert_operator(self, op: Operator) -> None:
        """Register a seat's static data; its live state is kept if it already exists."""
        key = self.k_op(op.id)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "id": op.id,
                    "endpoint": op.endpoint,
                    "skills": json.dumps(op.skills),
                    "languages": ",".join(sorted(op.languages)),
                },
            )
            pipe.hsetnx(key, "state", op.state.value)
            pipe.hsetnx(key, "state_since", op.state_since)
            pipe.sadd(self.k_ops, op.id)
            pipe.incr(self.k_ops_version)
            await pipe.execute()

    async def set_operator_state(
        self,
        op_id: str,
        state: OperatorState,
        now: float,
        reason: str = "",
        allowed_from: Iterable[OperatorState] = tuple(OperatorState),
    ) -> tuple[str, str]:
        res = await self._set_state(
            keys=[self.k_op(op_id), self.k_ready],
            args=[op_id, state.value, now, reason, *[s.value for s in allowed_from]],
        )
        out = [x.decode() if isinstance(x, bytes) else str(x) for x in res]
        return out[0], (out[1] if len(out) > 1 else "")

    async def set_operator_fields(self, op_id: str, **fields: Any) -> None:
        await self.r.hset(self.k_op(op_id), mapping={k: str(v) for k, v in fields.items()})

    async def add_talk_seconds(self, op_id: str, seconds: float) -> None:
        await self.r.hincrbyfloat(self.k_op(op_id), "talk_seconds", seconds)

    async def wrapup_until(self, op_id: str) -> float:
        raw = await self.r.hget(self.k_op(op_id), "wrapup_until")
        return float(raw or 0)

    async def get_operator(self, op_id: str) -> Operator | None:
        data = await self.r.hgetall(self.k_op(op_id))
        return _operator(data) if data else None

    async def operators(self, ids: Iterable[str] | None = None) -> list[Operator]:
        if ids is None:
            ids = sorted(x.decode() for x in await self.r.smembers(self.k_ops))
        ids = list(ids)
        async with self.r.pipeline(transaction=False) as pipe:
            for op_id in ids:
                pipe.hgetall(self.k_op(op_id))
            rows = await pipe.execute()
        return [_operator(d) for d in rows if d]

    async def ready_operators(self, with_counters: bool = False) -> list[Operator]:
        """Ready seats, longest idle first; ``state_since`` is when each became ready."""
        async with self.r.pipeline(transaction=False) as pipe:
            pipe.get(self.k_ops_version)
            pipe.zrange(self.k_ready, 0, -1, withscores=True)
            version, ready = await pipe.execute()
        version = int(version or 0)
        if version != self._static_version:
            self._static.clear()
            self._static_version = version
        ids = [x.decode() for x, _ in ready]
        missing = [i for i in ids if i not in self._static]
        if missing:
            async with self.r.pipeline(transaction=False) as pipe:
                for op_id in missing:
                    pipe.hmget(self.k_op(op_id), "endpoint", "skills", "languages")
                for op_id, (endpoint, skills, langs) in zip(
                    missing, await pipe.execute(), strict=True
                ):
                    if endpoint is None:
                        continue
                    self._static[op_id] = (
                        endpoint.decode(),
                        {k: int(v) for k, v in json.loads(skills or b"{}").items()},
                        frozenset(x for x in (langs or b"zh").decode().split(",") if x),
                    )
        counters: list[Any] = []
        if with_counters:
            async with self.r.pipeline(transaction=False) as pipe:
                for op_id in ids:
                    pipe.hmget(self.k_op(op_id), "calls_today", "talk_seconds", "last_offer_at")
                counters = await pipe.execute()
        out = []
        for i, ((_, since), op_id) in enumerate(zip(ready, ids, strict=True)):
            static = self._static.get(op_id)
            if static is None:
                continue
            calls, talk, offer = counters[i] if counters else (0, 0, 0)
            out.append(
                Operator(
                    op_id,
                    static[0],
                    static[1],
                    static[2],
                    OperatorState.READY,
                    float(since),
                    calls_today=int(calls or 0),
                    talk_seconds=float(talk or 0),
                    last_offer_at=float(offer or 0),
                )
            )
        return out

    # tasks
    async def enqueue(self, task: Task) -> Task:
        """Queue a call. If it is already queued (a resync), keep its place and return it."""
        key = self.k_task(task.call_id)
        fields = _task_fields(task)
        created = await self.r.hsetnx(key, "call_id", task.call_id)
        if created:
            async with self.r.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)
                pipe.hset(self.k_task_queue, task.call_id, task.queue)
                pipe.zadd(self.k_waiting, {task.call_id: task_score(task)})
                await pipe.execute()
            return task
        if task.owner:
            # A restarted or other instance adopted the call: offers must reach it now.
            await self.r.hset(key, "owner", task.owner)
        existing = await self.get_task(task.call_id)
        return existing or task

    async def get_task(self, call_id: str) -> Task | None:
        data = await self.r.hgetall(self.k_task(call_id))
        return _task(data) if data and b"skills" in data else None

    async def change_waiting_task(
        self, call_id: str, change: Callable[[Task | None, str | None], Task | None]
    ) -> tuple[Task, Task] | None:
        """Change a queued call's skills and priority in one WATCH/MULTI transaction:
        ``change`` sees the task and its state ("waiting", "offered"; None when gone) and
        returns the task as it is to be, or None. An offer, answer or hang-up in between
        makes it look again, so a call being offered is never moved. Returns (old, new)."""
        key = self.k_task(call_id)
        async with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    await pipe.watch(key)
                    data = await pipe.hgetall(key)
                    old = _task(data) if data and b"skills" in data else None
                    new = change(old, _s(data, "state") or None)
                    if old is None or new is None:
                        return None
                    fields = _task_fields(new)
                    pipe.multi()
                    pipe.hset(key, mapping={k: fields[k] for k in _CHANGEABLE})
                    pipe.zadd(self.k_waiting, {call_id: task_score(new)}, xx=True)
                    await pipe.execute()
                    return old, new
                except WatchError:
                    continue

    async def task_state(self, call_id: str) -> str | None:
        v = await self.r.hget(self.k_task(call_id), "state")
        return v.decode() if v else None

    async def waiting_tasks(self, limit: int = 10_000) -> list[Task]:
        ids = [x.decode() for x in await self.r.zrange(self.k_waiting, 0, limit - 1)]
        async with self.r.pipeline(transaction=False) as pipe:
            for call_id in ids:
                pipe.hgetall(self.k_task(call_id))
            rows = await pipe.execute()
        return [_task(d) for d in rows if d and b"skills" in d]

    async def waiting_queues(self) -> list[tuple[str, str]]:
        """(call id, queue) of every waiting call in service order: two cheap reads."""
        ids = [x.decode() for x in await self.r.zrange(self.k_waiting, 0, -1)]
        if not ids:
            return []
        queues = await self.r.hmget(self.k_task_queue, ids)
        return [(i, q.decode()) for i, q in zip(ids, queues, strict=True) if q is not None]

    async def forget_task_queue(self, call_id: str) -> None:
        await self.r.hdel(self.k_task_queue, call_id)

    async def waiting_count(self) -> int:
        return int(await self.r.zcard(self.k_waiting))

    async def position(self, call_id: str) -> int | None:
        rank = await self.r.zrank(self.k_waiting, call_id)
        return None if rank is None else int(rank) + 1

    async def remove_task(self, call_id: str, now: float) -> tuple[str, str, float] | None:
        res = await self._remove(
            keys=[self.k_task(call_id), self.k_waiting, self.k_reservations, self.k_ready],
            args=[call_id, now],
        )
        if not res:
            return None
        state, op, enq = (x.decode() if isinstance(x, bytes) else x for x in res)
        return state, op, float(enq)

    # reservations
    async def reserve(self, op_id: str, call_id: str, now: float, deadline: float) -> int:
        """1: reserved; 0: operator no longer ready; -1: call no longer waiting."""
        return int(
            await self._reserve(
                keys=[
                    self.k_op(op_id),
                    self.k_task(call_id),
                    self.k_waiting,
                    self.k_ready,
                    self.k_reservations,
                ],
                args=[op_id, call_id, now, deadline],
            )
        )

    async def release(
        self,
        op_id: str,
        call_id: str,
        op_state: OperatorState,
        now: float,
        reason: str = "",
        exclude: Iterable[str] = (),
    ) -> int:
        """Undo a reservation. Bit 1: operator released; bit 2: call back in the queue."""
        return int(
            await self._release(
                keys=[
                    self.k_op(op_id),
                    self.k_task(call_id),
                    self.k_waiting,
                    self.k_ready,
                    self.k_reservations,
                ],
                args=[op_id, call_id, op_state.value, now, reason, ",".join(sorted(exclude))],
            )
        )

    async def answered(self, op_id: str, call_id: str, now: float) -> bool:
        return bool(
            await self._answer(
                keys=[self.k_op(op_id), self.k_task(call_id), self.k_reservations],
                args=[op_id, call_id, now],
            )
        )

    async def expired_reservations(self, now: float) -> list[str]:
        return [x.decode() for x in await self.r.zrangebyscore(self.k_reservations, "-inf", now)]

    async def drop_reservation(self, call_id: str) -> None:
        await self.r.zrem(self.k_reservations, call_id)

    async def reservation_operator(self, call_id: str) -> str:
        v = await self.r.hget(self.k_task(call_id), "operator")
        return v.decode() if v else ""

    # runtime switches (IVR emergency announcements), shared by every instance
    async def set_flag(self, name: str, on: bool) -> None:
        if on:
            await self.r.sadd(self.k_flags, name)
        else:
            await self.r.srem(self.k_flags, name)

    async def flags(self) -> frozenset[str]:
        return frozenset(v.decode() for v in await self.r.smembers(self.k_flags))

    # events and cross-instance offers
    async def publish(self, event_type: str, now: float, **data: Any) -> None:
        await self.r.xadd(
            self.k_events,
            {"type": event_type, "ts": f"{now:.3f}", "data": json.dumps(data, ensure_ascii=False)},
            maxlen=100_000,
            approximate=True,
        )

    async def events_head(self) -> str:
        """The id of the newest event ("0-0" when there is none yet)."""
        try:
            info: Any = await self.r.xinfo_stream(self.k_events)
        except aioredis.ResponseError as exc:
            if "no such key" in str(exc).lower():
                return "0-0"
            raise
        return str(info["last-generated-id"].decode()) if info else "0-0"

    async def events_lost(self, after: str) -> bool:
        """Whether events after ``after`` have been trimmed from the stream already (a
        reader resuming from there would miss some, and must start from a fresh snapshot)."""
        try:
            info: Any = await self.r.xinfo_stream(self.k_events)
        except aioredis.ResponseError:
            return False
        deleted = info.get("max-deleted-entry-id") or b"0-0"
        first = info.get("first-entry")
        oldest = _stream_id(deleted.decode() if isinstance(deleted, bytes) else str(deleted))
        if oldest == (0, 0) and first:  # before Redis 7: the oldest kept entry tells
            fid = first[0].decode() if isinstance(first[0], bytes) else str(first[0])
            ms, seq = _stream_id(fid)
            oldest = (ms, seq - 1) if seq else (ms - 1, 2**63)
        return _stream_id(after) < oldest

    async def read_events(
        self, after: str, count: int = 200, block_ms: int | None = 15_000
    ) -> list[tuple[str, str, str]]:
        """Events after ``after`` as (id, type, JSON data), waiting up to ``block_ms``
        (None: not at all)."""
        batch = await self.r.xread({self.k_events: after}, count=count, block=block_ms)
        if not batch:
            return []
        return [
            (eid.decode(), f[b"type"].decode(), f.get(b"data", b"{}").decode())
            for eid, f in batch[0][1]
        ]

    async def push_offer(self, owner: str, call_id: str, op_id: str) -> None:
        await self.r.rpush(self.k_inbox(owner), json.dumps({"call_id": call_id, "op": op_id}))

    async def pop_offer(self, instance: str, timeout_s: float) -> tuple[str, str] | None:
        item = await self.r.blpop([self.k_inbox(instance)], timeout=timeout_s)
        if item is None:
            return None
        msg = json.loads(item[1])
        return str(msg["call_id"]), str(msg["op"])

    # desk controls forwarded to the instance that owns the call, and their answers
    async def push_control(self, owner: str, request: Mapping[str, Any]) -> None:
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.rpush(self.k_controls(owner), json.dumps(dict(request), ensure_ascii=False))
            pipe.expire(self.k_controls(owner), CONTROL_TTL_S)
            await pipe.execute()

    async def pop_control(self, instance: str, timeout_s: float) -> dict[str, Any] | None:
        item = await self.r.blpop([self.k_controls(instance)], timeout=timeout_s)
        return None if item is None else dict(json.loads(item[1]))

    async def reply_control(self, request_id: str, reply: Mapping[str, Any]) -> None:
        key = self.k_control_reply(request_id)
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(dict(reply), ensure_ascii=False))
            pipe.expire(key, CONTROL_TTL_S)
            await pipe.execute()

    async def wait_control_reply(self, request_id: str, timeout_s: float) -> dict[str, Any] | None:
        key = self.k_control_reply(request_id)
        item = await self.r.blpop([key], timeout=timeout_s)
        if item is None:
            return None
        await self.r.delete(key)
        return dict(json.loads(item[1]))


def _s(d: Mapping[bytes, bytes], key: str, default: str = "") -> str:
    v = d.get(key.encode())
    return v.decode() if v is not None else default


def _operator(d: Mapping[bytes, bytes]) -> Operator:
    return Operator(
        id=_s(d, "id"),
        endpoint=_s(d, "endpoint"),
        skills={k: int(v) for k, v in json.loads(_s(d, "skills", "{}")).items()},
        languages=frozenset(x for x in _s(d, "languages", "zh").split(",") if x),
        state=OperatorState(_s(d, "state", "logged_out")),
        state_since=float(_s(d, "state_since", "0") or 0),
        reason=_s(d, "reason"),
        call_id=_s(d, "call_id"),
        calls_today=int(_s(d, "calls_today", "0") or 0),
        talk_seconds=float(_s(d, "talk_seconds", "0") or 0),
        last_offer_at=float(_s(d, "last_offer_at", "0") or 0),
    )


_CHANGEABLE = ("skills", "priority", "score", "urgent")  # of a waiting task


def _task_fields(t: Task) -> dict[str, str]:
    return {
        "call_id": t.call_id,
        "queue": t.queue,
        "skills": ",".join(t.skills),
        "language": t.language,
        "priority": str(t.priority),
        "enqueued_at": repr(t.enqueued_at),
        "line": t.line,
        "owner": t.owner,
        "state": "waiting",
        "operator": "",
        "score": repr(task_score(t)),
        "excluded": ",".join(sorted(t.excluded)),
        "urgent": "1" if t.urgent else "",
    }


def _task(d: Mapping[bytes, bytes]) -> Task:
    return Task(
        call_id=_s(d, "call_id"),
        queue=_s(d, "queue"),
        skills=tuple(_s(d, "skills").split(",")),
        language=_s(d, "language", "zh"),
        priority=int(_s(d, "priority", "0")),
        enqueued_at=float(_s(d, "enqueued_at", "0")),
        line=_s(d, "line"),
        owner=_s(d, "owner"),
        excluded=frozenset(x for x in _s(d, "excluded").split(",") if x),
        urgent=_s(d, "urgent") == "1",
    )


def _stream_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms or 0), int(seq or 0)
