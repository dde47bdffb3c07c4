"""The live call panel's data: what an operator sees while their seat rings for a call.

Built once per offer by the instance that rings the seat (caller, line, IVR path, time
waited, the caller's previous tickets, what they said while waiting), kept in Redis for a
page that reloads mid-call, and published as a ``desk.offer`` event on the seat's stream.
The only module that names the panel keys.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from ..roles import HOTLINE_ROLES, Role

PANEL_TTL_S = 4 * 3600


def mask_phone(number: str) -> str:
    """138****5678: enough to recognise, not enough to call (at least half is hidden)."""
    digits = number.strip()
    tail = min(4, len(digits) // 2)
    head = 3 if len(digits) >= 11 else 0
    return digits[:head] + "*" * (len(digits) - head - tail) + digits[len(digits) - tail :]


def may_see_phone(role: Role) -> bool:
    return role in HOTLINE_ROLES


def _ts(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def make_panel(
    ring: Any,
    history: list[dict[str, Any]],
    progress: dict[str, str],
    *,
    repeat_days: int,
    resume_from: str,
) -> dict[str, Any]:
    """The panel for a ringing seat (``ring``: a :class:`~hotline.telephony.records.Ringing`)."""
    now = datetime.fromtimestamp(ring.at, UTC)
    window = timedelta(days=repeat_days)
    recent = [h for h in history if (t := _ts(h.get("created_at"))) and now - t <= window]
    draft = None
    if progress.get("description_draft"):
        try:
            draft = json.loads(progress["description_draft"])
        except ValueError:
            draft = None
    return {
        "call_id": ring.call_id,
        "operator": ring.operator_id,
        "caller": ring.caller,
        "line": ring.line,
        "queue": ring.queue,
        "ivr_path": list(ring.ivr_path),
        "waited_s": round(ring.at - ring.enqueued_at, 1) if ring.enqueued_at else None,
        "rang_at": ring.at,
        "history": [_brief(h) for h in history[:10]],
        "repeat_count": len(recent),
        "description": progress.get("description_text", ""),
        "description_draft": draft,
        "resume_from": resume_from,
    }


def _brief(ticket: dict[str, Any]) -> dict[str, Any]:
    created = _ts(ticket.get("created_at"))
    return {
        "number": ticket.get("number"),
        "created_at": created.isoformat() if created else None,
        "kind": ticket.get("kind"),
        "category": ticket.get("category"),
        "status": ticket.get("status"),
        "content": str(ticket.get("content") or "")[:200],
    }


def for_role(panel: dict[str, Any], role: Role) -> dict[str, Any]:
    """The panel as a role may see it: the number masked for those who may not see it."""
    if may_see_phone(role):
        return panel
    return {**panel, "caller": mask_phone(str(panel.get("caller", "")))}


class PanelStore:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.r = client
        self.p = f"{prefix}web:panel:"

    async def save(self, panel: dict[str, Any]) -> None:
        """Keep the panel, and remember it as its seat's current call."""
        async with self.r.pipeline(transaction=True) as pipe:
            pipe.set(
                self.p + panel["call_id"], json.dumps(panel, ensure_ascii=False), ex=PANEL_TTL_S
            )
            pipe.set(f"{self.p}seat:{panel['operator']}", panel["call_id"], ex=PANEL_TTL_S)
            await pipe.execute()

    async def current(self, seat: str) -> str:
        raw = await self.r.get(f"{self.p}seat:{seat}")
        if not raw:
            return ""
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    async def get(self, call_id: str) -> dict[str, Any] | None:
        raw = await self.r.get(self.p + call_id)
        return json.loads(raw) if raw else None
