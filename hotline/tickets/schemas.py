"""Request bodies of the ticket API (pydantic): validated at the edge, turned into actions."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from hotline.tickets import workflow as wf
from hotline.tickets.models import Channel, Kind, Satisfaction, SupervisionForm, Urgency

Text = Annotated[str, Field(min_length=1, max_length=20000)]
ShortText = Annotated[str, Field(max_length=2000)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NewTicketBody(Body):
    content: Text
    kind: Kind = Kind.CONSULTATION
    channel: Channel = Channel.PHONE
    urgency: Urgency = Urgency.NORMAL
    caller_phone: Annotated[str, Field(max_length=40)] | None = None
    caller_name: Annotated[str, Field(max_length=100)] | None = None
    category: Annotated[str, Field(max_length=100)] | None = None
    location: Annotated[str, Field(max_length=300)] | None = None
    summary: Annotated[str, Field(max_length=5000)] | None = None
    call_id: Annotated[str, Field(max_length=64)] | None = None


class AnswerBody(Body):
    action: Literal["answer"]
    text: Text

    def to_action(self) -> wf.Action:
        return wf.Answer(self.text)


class DispatchBody(Body):
    action: Literal["dispatch"]
    lead: int
    co_handlers: list[int] = Field(default_factory=list, max_length=20)
    note: ShortText = ""

    def to_action(self) -> wf.Action:
        return wf.Dispatch(self.lead, tuple(self.co_handlers), self.note)


class SignBody(Body):
    action: Literal["sign"]

    def to_action(self) -> wf.Action:
        return wf.SignFor()


class ReasonBody(Body):
    action: Literal["return", "escalate", "redo", "reopen"]
    reason: Text

    def to_action(self) -> wf.Action:
        kinds: dict[str, type[wf.Return | wf.Escalate | wf.Redo | wf.Reopen]] = {
            "return": wf.Return,
            "escalate": wf.Escalate,
            "redo": wf.Redo,
            "reopen": wf.Reopen,
        }
        return kinds[self.action](self.reason)


class PassDownBody(Body):
    action: Literal["pass_down"]
    to: int
    note: ShortText = ""

    def to_action(self) -> wf.Action:
        return wf.PassDown(self.to, self.note)


class NoteBody(Body):
    action: Literal["contact", "close"]
    note: ShortText = ""

    def to_action(self) -> wf.Action:
        return wf.Contact(self.note) if self.action == "contact" else wf.Close(self.note)


class ExtensionBody(Body):
    action: Literal["request_extension"]
    days: int = Field(ge=1, le=60)
    reason: Text

    def to_action(self) -> wf.Action:
        return wf.RequestExtension(self.days, self.reason)


class DecideExtensionBody(Body):
    action: Literal["decide_extension"]
    approve: bool
    note: ShortText = ""

    def to_action(self) -> wf.Action:
        return wf.DecideExtension(self.approve, self.note)


class TextBody(Body):
    action: Literal["reply", "co_reply", "comment"]
    text: Text

    def to_action(self) -> wf.Action:
        kinds: dict[str, type[wf.Reply | wf.CoReply | wf.Comment]] = {
            "reply": wf.Reply,
            "co_reply": wf.CoReply,
            "comment": wf.Comment,
        }
        return kinds[self.action](self.text)


class ReviewBody(Body):
    action: Literal["review"]
    accept: bool
    reason: ShortText = ""

    def to_action(self) -> wf.Action:
        return wf.Review(self.accept, self.reason)


class RateBody(Body):
    action: Literal["rate"]
    satisfaction: Satisfaction
    stars: int | None = Field(default=None, ge=1, le=5)
    source: Literal["operator", "ivr", "survey", "web"] = "operator"
    note: ShortText = ""

    def to_action(self) -> wf.Action:
        return wf.Rate(self.satisfaction, self.stars, self.source, self.note)


class SuperviseBody(Body):
    action: Literal["supervise"]
    form: SupervisionForm
    note: Text

    def to_action(self) -> wf.Action:
        return wf.Supervise(self.form, self.note)


class AppealBody(Body):
    action: Literal["appeal"]
    reason: Text
    evidence: ShortText = ""

    def to_action(self) -> wf.Action:
        return wf.Appeal(self.reason, self.evidence)


class DecideAppealBody(Body):
    action: Literal["decide_appeal"]
    upheld: bool
    note: ShortText = ""

    def to_action(self) -> wf.Action:
        return wf.DecideAppeal(self.upheld, self.note)


ActionBody = Annotated[
    AnswerBody
    | DispatchBody
    | SignBody
    | ReasonBody
    | PassDownBody
    | NoteBody
    | ExtensionBody
    | DecideExtensionBody
    | TextBody
    | ReviewBody
    | RateBody
    | SuperviseBody
    | AppealBody
    | DecideAppealBody,
    Field(discriminator="action"),
]
ACTION_ADAPTER: TypeAdapter[ActionBody] = TypeAdapter(ActionBody)


class CallTicketBody(Body):
    """A ticket opened from the desk for a call, then answered on it or dispatched."""

    content: Text
    kind: Kind = Kind.CONSULTATION
    urgency: Urgency = Urgency.NORMAL
    caller_name: Annotated[str, Field(max_length=100)] | None = None
    category: Annotated[str, Field(max_length=100)] | None = None
    location: Annotated[str, Field(max_length=300)] | None = None
    summary: Annotated[str, Field(max_length=5000)] | None = None
    then: AnswerBody | DispatchBody = Field(discriminator="action")


class MergeBody(Body):
    into: Annotated[str, Field(pattern=r"^\d{13}$")]


class FollowUpBody(Body):
    outcome: Literal["answered", "no_answer", "busy", "failed", "refused"]
    note: ShortText = ""
    channel: Literal["phone", "sms", "wechat", "ivr"] = "phone"


class DepartmentBody(Body):
    code: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w.-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    parent: str | None = None


class FlagBody(Body):
    on: bool


class ArticleBody(Body):
    title: Annotated[str, Field(min_length=1, max_length=300)]
    body: Text
    category: Annotated[str, Field(max_length=100)] | None = None
    source: Annotated[str, Field(max_length=500)] | None = None


class SuggestBody(Body):
    text: Annotated[str, Field(min_length=1, max_length=50000)]
    limit: int = Field(default=5, ge=1, le=20)


class InboundEvent(BaseModel):
    """A status update from the external platform (fields beyond these are ignored)."""

    event_id: Annotated[str, Field(min_length=1, max_length=100)]
    ticket: Annotated[str, Field(pattern=r"^\d{13}$")]
    action: Literal[
        "sign", "return", "contact", "request_extension", "reply", "co_reply", "comment"
    ]
    department: Annotated[str, Field(max_length=64)] | None = None
    text: Annotated[str, Field(max_length=20000)] = ""
    days: int = Field(default=0, ge=0, le=60)

    def to_action(self) -> wf.Action:
        a = self.action
        if a == "sign":
            return wf.SignFor()
        if a == "return":
            return wf.Return(self.text)
        if a == "contact":
            return wf.Contact(self.text)
        if a == "request_extension":
            return wf.RequestExtension(self.days, self.text)
        if a == "reply":
            return wf.Reply(self.text)
        if a == "co_reply":
            return wf.CoReply(self.text)
        return wf.Comment(self.text)
