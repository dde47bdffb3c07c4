"""SQL tables (SQLAlchemy Core), the same on SQLite and PostgreSQL; Alembic migrates them.

Times are stored as naive UTC (:class:`UtcDateTime`) so both databases sort and compare them
the same way; the domain sees aware datetimes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

OPEN_DUE = "status IN ('dispatched', 'in_progress', 'extension_pending')"

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


def _id() -> Column[Any]:
    return Column("id", Id, primary_key=True, autoincrement=True)


def _ticket_fk(nullable: bool = False) -> Column[Any]:
    return Column(
        "ticket_id",
        Id,
        ForeignKey("tickets.id", ondelete="CASCADE"),
        nullable=nullable,
        index=True,
    )


def _at() -> Column[Any]:
    return Column("at", UtcDateTime, nullable=False)


departments = Table(
    "departments",
    metadata,
    _id(),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("parent_id", Id, ForeignKey("departments.id"), nullable=True, index=True),
    Column("level", Integer, nullable=False, default=1),
    Column("active", Boolean, nullable=False, default=True),
    Column("phone", String(40), nullable=True),
    Column("email", String(200), nullable=True),
)

users = Table(
    "users",
    metadata,
    _id(),
    Column("username", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False, default=""),
    Column("role", String(20), nullable=False),
    Column("department_id", Id, ForeignKey("departments.id"), nullable=True),
    Column("token_hash", String(64), nullable=True, unique=True),
    Column("password_hash", String(200), nullable=True),  # argon2id; None: no desk sign-in
    Column("password_set_at", UtcDateTime, nullable=True),  # older sessions are signed out
    Column("locale", String(10), nullable=True),  # the desk's language; None: the default
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

calls = Table(
    "calls",
    metadata,
    _id(),
    Column("call_id", String(64), nullable=False, unique=True),
    Column("channel_id", String(64), nullable=True),
    Column("line", String(20), nullable=True),
    Column("queue", String(64), nullable=True),
    Column("caller", String(40), nullable=True, index=True),
    Column("operator_id", String(64), nullable=True),
    Column("started_at", UtcDateTime, nullable=False, index=True),  # the boards' windows
    Column("answered_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),
    Column("outcome", String(20), nullable=False, default="unknown"),
    Column("wait_s", Float, nullable=True),
    Column("talk_s", Float, nullable=True),
    Column("recording", String(200), nullable=True),
    Column("transcript", Text, nullable=True),  # JSON segments (hotline.asr.transcript)
    Column("transcript_status", String(20), nullable=True, index=True),
    Column("draft", Text, nullable=True),  # the pre-filled ticket, JSON
    Column("description", String(200), nullable=True),  # recording of the caller's words
    Column("satisfaction", String(20), nullable=True),
    Column("stars", Integer, nullable=True),
)

tickets = Table(
    "tickets",
    metadata,
    _id(),
    Column("number", String(13), nullable=False, unique=True),
    Column("channel", String(20), nullable=False),
    Column("caller_phone", String(40), nullable=True),
    Column("caller_name", String(100), nullable=True),
    Column("kind", String(20), nullable=False),
    Column("category", String(100), nullable=True),
    Column("location", String(300), nullable=True),
    Column("location_key", String(200), nullable=True),
    Column("content", Text, nullable=False),
    Column("summary", Text, nullable=True),
    Column("urgency", String(10), nullable=False),
    Column("status", String(20), nullable=False),
    Column("handler_id", Id, ForeignKey("departments.id"), nullable=True),
    Column("co_handler_ids", JSON, nullable=False, default=list),
    Column("delegated_by", JSON, nullable=False, default=list),
    Column("first_department_id", Id, ForeignKey("departments.id"), nullable=True),
    Column("returns", Integer, nullable=False, default=0),
    Column("redo_count", Integer, nullable=False, default=0),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("ruled", Boolean, nullable=False, default=False),
    Column("dispatched_at", UtcDateTime, nullable=True),
    Column("contact_due", UtcDateTime, nullable=True),
    Column("contacted_at", UtcDateTime, nullable=True),
    Column("reply_due", UtcDateTime, nullable=True),
    Column("extension_since", UtcDateTime, nullable=True),
    Column("extension_days", Integer, nullable=False, default=0),
    Column("replied_at", UtcDateTime, nullable=True),
    Column("satisfaction", String(20), nullable=True),
    Column("stars", Integer, nullable=True),
    Column("appeal_pending", Boolean, nullable=False, default=False),
    Column("appealed", Boolean, nullable=False, default=False),
    Column("rating_void", Boolean, nullable=False, default=False),
    Column("supervision", String(20), nullable=True),
    Column("merged_into", String(13), nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("emergency", Boolean, nullable=False, default=False),
    Column("call_id", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("created_by", Id, ForeignKey("users.id"), nullable=True),
    Column("version", Integer, nullable=False, default=1),
    Index("ix_tickets_caller_created", "caller_phone", "created_at"),
    Index("ix_tickets_status_due", "status", "reply_due"),
    # The overdue list reads open tickets in deadline order: a partial index serves it
    # without sorting the thousands of open tickets a big hotline carries.
    Index(
        "ix_tickets_open_due",
        "reply_due",
        "number",
        postgresql_where=text(OPEN_DUE),
        sqlite_where=text(OPEN_DUE),
    ),
    Index("ix_tickets_place", "category", "location_key", "created_at"),
    Index("ix_tickets_handler_status", "handler_id", "status"),
    Index("ix_tickets_created", "created_at"),
)

history = Table(
    "ticket_history",
    metadata,
    _id(),
    _ticket_fk(),
    _at(),
    Column("actor_id", Id, nullable=True),
    Column("actor_role", String(20), nullable=False),
    Column("actor_department_id", Id, nullable=True),
    Column("action", String(30), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("changes", JSON, nullable=False, default=dict),
    Column("version", Integer, nullable=False),
)

assignments = Table(
    "assignments",
    metadata,
    _id(),
    _ticket_fk(),
    Column("department_id", Id, ForeignKey("departments.id"), nullable=False),
    Column("role", String(10), nullable=False),  # lead or co
    _at(),
)

extension_requests = Table(
    "extension_requests",
    metadata,
    _id(),
    _ticket_fk(),
    Column("department_id", Id, nullable=True),
    Column("days", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    _at(),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("approved", Boolean, nullable=True),
    Column("decided_by", Id, nullable=True),
    Column("note", Text, nullable=True),
)

replies = Table(
    "replies",
    metadata,
    _id(),
    _ticket_fk(),
    Column("department_id", Id, nullable=True),
    Column("text", Text, nullable=False),
    Column("on_call", Boolean, nullable=False, default=False),
    Column("co", Boolean, nullable=False, default=False),
    Column("by", Id, nullable=True),
    _at(),
)

reviews = Table(
    "reviews",
    metadata,
    _id(),
    _ticket_fk(),
    Column("accepted", Boolean, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("by", Id, nullable=True),
    _at(),
)

follow_ups = Table(
    "follow_ups",
    metadata,
    _id(),
    _ticket_fk(),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(20), nullable=False),  # answered, no_answer, busy, failed, refused
    Column("channel", String(20), nullable=False, default="phone"),
    Column("by", Id, nullable=True),
    Column("note", Text, nullable=True),
    _at(),
)

ratings = Table(
    "ratings",
    metadata,
    _id(),
    _ticket_fk(),
    Column("satisfaction", String(20), nullable=False),
    Column("stars", Integer, nullable=True),
    Column("source", String(20), nullable=False),
    Column("by", Id, nullable=True),
    _at(),
)

appeals = Table(
    "appeals",
    metadata,
    _id(),
    _ticket_fk(),
    Column("department_id", Id, nullable=True),
    Column("reason", Text, nullable=False),
    Column("evidence", Text, nullable=False, default=""),
    _at(),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("upheld", Boolean, nullable=True),
    Column("decided_by", Id, nullable=True),
    Column("note", Text, nullable=True),
)

supervisions = Table(
    "supervisions",
    metadata,
    _id(),
    _ticket_fk(),
    Column("form", String(20), nullable=False),
    Column("note", Text, nullable=False),
    Column("by", Id, nullable=True),
    _at(),
)

links = Table(
    "ticket_links",
    metadata,
    _id(),
    _ticket_fk(),
    Column("other_id", Id, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(20), nullable=False),  # same_caller, same_place, merged
    _at(),
    UniqueConstraint("ticket_id", "other_id", "kind", name="uq_ticket_links_pair"),
)

notices = Table(
    "notices",
    metadata,
    _id(),
    _ticket_fk(),
    Column("kind", String(20), nullable=False),  # reminder, overdue, contact_overdue
    Column("due_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("department_id", Id, nullable=True),
    UniqueConstraint("ticket_id", "kind", "due_at", name="uq_notices_once"),
)

counters = Table(
    "ticket_counters",
    metadata,
    Column("day", String(8), primary_key=True),
    Column("last", Integer, nullable=False),
)

kb_articles = Table(
    "kb_articles",
    metadata,
    _id(),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("category", String(100), nullable=True),
    Column("source", String(500), nullable=True, unique=True),
    Column("source_hash", String(64), nullable=False),
    Column("tokens", Text, nullable=False),  # jieba-segmented title and body for full text
    Column("updated_at", UtcDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    _id(),
    Column("ticket_number", String(13), nullable=False),
    Column("event", String(40), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("idempotency_key", String(80), nullable=False, unique=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("locked_until", UtcDateTime, nullable=True),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Index("ix_outbox_pending", "sent_at", "ticket_number", "id"),
)

inbound_events = Table(
    "inbound_events",
    metadata,
    _id(),
    Column("event_id", String(100), nullable=False, unique=True),
    Column("ticket_number", String(13), nullable=True),
    Column("received_at", UtcDateTime, nullable=False),
    Column("outcome", String(200), nullable=False),
)

runtime_flags = Table(
    "runtime_flags",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", Id, nullable=True),
)

# Files a department sends with its reply: kept on disk under a name the server made
# (``stored_name``); ``filename`` is the upload's own name, only ever shown.
attachments = Table(
    "ticket_attachments",
    metadata,
    _id(),
    _ticket_fk(),
    Column("stored_name", String(64), nullable=False, unique=True),
    Column("filename", String(200), nullable=False),
    Column("content_type", String(120), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("department_id", Id, nullable=True),
    Column("by", Id, nullable=True),
    _at(),
)
