"""What can be done to a ticket: one small frozen dataclass per workflow action.

``workflow.apply`` decides whether an action is allowed; the REST API builds these from
request bodies (``schemas.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hotline.tickets.models import Satisfaction, SupervisionForm


class Action:
    name: ClassVar[str]


@dataclass(frozen=True)
class Answer(Action):
    name = "answer"
    text: str


@dataclass(frozen=True)
class Dispatch(Action):
    name = "dispatch"
    lead: int
    co_handlers: tuple[int, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class SignFor(Action):
    name = "sign"


@dataclass(frozen=True)
class Return(Action):
    name = "return"
    reason: str


@dataclass(frozen=True)
class Escalate(Action):
    name = "escalate"
    reason: str


@dataclass(frozen=True)
class PassDown(Action):
    name = "pass_down"
    to: int
    note: str = ""


@dataclass(frozen=True)
class Contact(Action):
    name = "contact"
    note: str = ""


@dataclass(frozen=True)
class RequestExtension(Action):
    name = "request_extension"
    days: int
    reason: str


@dataclass(frozen=True)
class DecideExtension(Action):
    name = "decide_extension"
    approve: bool
    note: str = ""


@dataclass(frozen=True)
class CoReply(Action):
    name = "co_reply"
    text: str


@dataclass(frozen=True)
class Reply(Action):
    name = "reply"
    text: str


@dataclass(frozen=True)
class Review(Action):
    name = "review"
    accept: bool
    reason: str = ""


@dataclass(frozen=True)
class Rate(Action):
    name = "rate"
    satisfaction: Satisfaction
    stars: int | None = None
    source: str = "operator"  # operator, ivr, survey, web
    note: str = ""


@dataclass(frozen=True)
class Redo(Action):
    name = "redo"
    reason: str


@dataclass(frozen=True)
class Supervise(Action):
    name = "supervise"
    form: SupervisionForm
    note: str


@dataclass(frozen=True)
class Close(Action):
    name = "close"
    note: str = ""


@dataclass(frozen=True)
class Reopen(Action):
    name = "reopen"
    reason: str


@dataclass(frozen=True)
class Appeal(Action):
    name = "appeal"
    reason: str
    evidence: str = ""


@dataclass(frozen=True)
class DecideAppeal(Action):
    name = "decide_appeal"
    upheld: bool
    note: str = ""


@dataclass(frozen=True)
class Merge(Action):
    name = "merge"
    into: str


@dataclass(frozen=True)
class Comment(Action):
    name = "comment"
    text: str
