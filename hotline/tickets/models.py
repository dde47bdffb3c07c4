"""The ticket as the workflow sees it: statuses, kinds, roles and an immutable state value.

The SQL rows in ``schema.py`` hold the same facts; ``store.py`` converts between them. The
workflow (``workflow.py``) works on :class:`TicketState` only, so it is pure and tested by tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from hotline.roles import DECIDING_ROLES, HOTLINE_ROLES, Actor, Role  # noqa: F401 (re-exported)


class Status(StrEnum):
    ACCEPTED = "accepted"  # 受理: taken in, not yet answered or dispatched
    ANSWERED = "answered"  # 直接答复: answered on the call
    DISPATCHED = "dispatched"  # 转办/派单: waiting for the department to sign for it
    RETURNED = "returned"  # 退回: back at the hotline with a reason
    ESCALATED = "escalated"  # disputed responsibility, waiting for the city's ruling
    IN_PROGRESS = "in_progress"  # 办理: signed for
    EXTENSION_PENDING = "extension_pending"  # 延期申请
    REPLIED = "replied"  # 办结反馈: waiting for the hotline's review
    FOLLOW_UP = "follow_up"  # 回访: reply accepted, the citizen is to be called
    UNSATISFIED = "unsatisfied"  # rated unsatisfied: redo, supervise or close
    CLOSED = "closed"
    MERGED = "merged"  # a duplicate folded into another ticket


OPEN_STATUSES = frozenset(Status) - {Status.CLOSED, Status.MERGED}
# Statuses in which a department is working against the reply deadline.
HANDLING_STATUSES = frozenset({Status.DISPATCHED, Status.IN_PROGRESS, Status.EXTENSION_PENDING})


class Kind(StrEnum):
    CONSULTATION = "consultation"  # 咨询
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    SUGGESTION = "suggestion"  # 建议
    PRAISE = "praise"  # 表扬
    OTHER = "other"


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"  # 紧急件


class Channel(StrEnum):
    PHONE = "phone"
    WEB = "web"
    WECHAT = "wechat"
    LEADERS_BOARD = "leaders_board"  # 领导留言板
    PROVINCIAL = "provincial"  # transferred from the provincial hotline


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    UNSATISFIED = "unsatisfied"


class SupervisionForm(StrEnum):
    PLATFORM = "platform"  # 平台督办
    KEY = "key"  # 重点督办
    SPECIAL = "special"  # 专项督办
    ON_SITE = "on_site"  # 现场督办
    MEDIA = "media"  # 媒体督办


@dataclass(frozen=True)
class TicketState:
    """The workflow-relevant facts of one ticket."""

    status: Status
    kind: Kind
    urgency: Urgency = Urgency.NORMAL
    created_at: datetime | None = None
    handler_id: int | None = None  # lead handling department
    co_handler_ids: tuple[int, ...] = ()
    delegated_by: tuple[int, ...] = ()  # departments that passed it down, nearest last
    first_department_id: int | None = None
    returns: int = 0
    redo_count: int = 0
    reopen_count: int = 0
    ruled: bool = False  # dispatched on the city's ruling: may not be returned
    dispatched_at: datetime | None = None
    contact_due: datetime | None = None
    contacted_at: datetime | None = None
    reply_due: datetime | None = None
    extension_since: datetime | None = None
    extension_days: int = 0
    replied_at: datetime | None = None
    satisfaction: Satisfaction | None = None
    stars: int | None = None
    appeal_pending: bool = False
    appealed: bool = False
    rating_void: bool = False
    supervision: SupervisionForm | None = None
    merged_into: str | None = None
    closed_at: datetime | None = None
    emergency: bool = False
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class NewTicket:
    """What opening a ticket takes: the citizen's words and what is known about them."""

    content: str
    kind: Kind = Kind.CONSULTATION
    channel: Channel = Channel.PHONE
    urgency: Urgency = Urgency.NORMAL
    caller_phone: str | None = None
    caller_name: str | None = None
    category: str | None = None
    location: str | None = None
    summary: str | None = None
    call_id: str | None = None


TICKET_NUMBER = re.compile(r"^\d{13}$")


def ticket_number(day: datetime, seq: int) -> str:
    """``2026112300001``: the local date and a five-digit sequence within the day."""
    if not 0 < seq <= 99999:
        raise ValueError("ticket sequence out of range for one day")
    return f"{day:%Y%m%d}{seq:05d}"
