"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23

Also creates the knowledge base's full-text index: an FTS5 table kept in step by triggers on
SQLite, a GIN index over a stored to_tsvector('simple', tokens) column on PostgreSQL. Both index the
jieba-segmented ``tokens`` column, since neither database segments Chinese by itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hotline.tickets.schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("line", sa.String(length=20), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("caller", sa.String(length=40), nullable=True),
        sa.Column("operator_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("answered_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("ended_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("wait_s", sa.Float(), nullable=True),
        sa.Column("talk_s", sa.Float(), nullable=True),
        sa.Column("recording", sa.String(length=200), nullable=True),
        sa.Column("transcript", sa.Text(), nullable=True),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("satisfaction", sa.String(length=20), nullable=True),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("call_id", name=op.f("uq_calls_call_id")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_caller"), ["caller"], unique=False)

    op.create_table(
        "departments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["departments.id"], name=op.f("fk_departments_parent_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_departments_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "inbound_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("ticket_number", sa.String(length=13), nullable=True),
        sa.Column("received_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_inbound_events_event_id")),
    )
    op.create_table(
        "kb_articles",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("tokens", sa.Text(), nullable=False),
        sa.Column("updated_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("source", name=op.f("uq_kb_articles_source")),
    )
    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ticket_number", sa.String(length=13), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=80), nullable=False),
        sa.Column("created_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("locked_until", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("sent_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_pending", ["sent_at", "ticket_number", "id"], unique=False)

    op.create_table(
        "ticket_counters",
        sa.Column("day", sa.String(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_ticket_counters")),
    )
    op.create_table(
        "users",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_users_department_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_users_token_hash")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "tickets",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("number", sa.String(length=13), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("caller_phone", sa.String(length=40), nullable=True),
        sa.Column("caller_name", sa.String(length=100), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("location_key", sa.String(length=200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("urgency", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "handler_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("co_handler_ids", sa.JSON(), nullable=False),
        sa.Column("delegated_by", sa.JSON(), nullable=False),
        sa.Column(
            "first_department_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("redo_count", sa.Integer(), nullable=False),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("ruled", sa.Boolean(), nullable=False),
        sa.Column("dispatched_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("contact_due", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("contacted_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("reply_due", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("extension_since", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("extension_days", sa.Integer(), nullable=False),
        sa.Column("replied_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("satisfaction", sa.String(length=20), nullable=True),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("appeal_pending", sa.Boolean(), nullable=False),
        sa.Column("appealed", sa.Boolean(), nullable=False),
        sa.Column("rating_void", sa.Boolean(), nullable=False),
        sa.Column("supervision", sa.String(length=20), nullable=True),
        sa.Column("merged_into", sa.String(length=13), nullable=True),
        sa.Column("closed_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("updated_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_tickets_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["first_department_id"],
            ["departments.id"],
            name=op.f("fk_tickets_first_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["handler_id"], ["departments.id"], name=op.f("fk_tickets_handler_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_tickets_number")),
    )
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tickets_caller_created", ["caller_phone", "created_at"], unique=False
        )
        batch_op.create_index("ix_tickets_created", ["created_at"], unique=False)
        batch_op.create_index("ix_tickets_handler_status", ["handler_id", "status"], unique=False)
        batch_op.create_index(
            "ix_tickets_place", ["category", "location_key", "created_at"], unique=False
        )
        batch_op.create_index("ix_tickets_status_due", ["status", "reply_due"], unique=False)
        batch_op.create_index(
            "ix_tickets_open_due",
            ["reply_due", "number"],
            unique=False,
            postgresql_where=sa.text(hotline.tickets.schema.OPEN_DUE),
            sqlite_where=sa.text(hotline.tickets.schema.OPEN_DUE),
        )

    op.create_table(
        "appeals",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("decided_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("upheld", sa.Boolean(), nullable=True),
        sa.Column(
            "decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_appeals_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
    )
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appeals_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "assignments",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_assignments_department_id_departments"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_assignments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignments_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "extension_requests",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("decided_at", hotline.tickets.schema.UtcDateTime(), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column(
            "decided_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_extension_requests_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_extension_requests")),
    )
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_extension_requests_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "follow_ups",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_follow_ups_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_follow_ups")),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_follow_ups_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("due_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("created_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_notices_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("ticket_id", "kind", "due_at", name="uq_notices_once"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notices_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ratings",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("satisfaction", sa.String(length=20), nullable=False),
        sa.Column("stars", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ratings_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ratings")),
    )
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ratings_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "replies",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "department_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("on_call", sa.Boolean(), nullable=False),
        sa.Column("co", sa.Boolean(), nullable=False),
        sa.Column("by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_replies_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replies")),
    )
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_replies_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "reviews",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_reviews_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviews_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "supervisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("form", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_supervisions_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervisions")),
    )
    with op.batch_alter_table("supervisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_supervisions_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column(
            "actor_department_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_history_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_history")),
    )
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ticket_history_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "ticket_links",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("other_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["other_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_links_other_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_links_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_links")),
        sa.UniqueConstraint("ticket_id", "other_id", "kind", name="uq_ticket_links_pair"),
    )
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_links_ticket_id"), ["ticket_id"], unique=False)
    op.create_table(
        "runtime_flags",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.Column(
            "updated_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_runtime_flags")),
    )
    _create_fts()


def downgrade() -> None:
    _drop_fts()
    op.drop_table("runtime_flags")
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_links_ticket_id"))

    op.drop_table("ticket_links")
    with op.batch_alter_table("ticket_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_history_ticket_id"))

    op.drop_table("ticket_history")
    with op.batch_alter_table("supervisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervisions_ticket_id"))

    op.drop_table("supervisions")
    with op.batch_alter_table("reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviews_ticket_id"))

    op.drop_table("reviews")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_replies_ticket_id"))

    op.drop_table("replies")
    with op.batch_alter_table("ratings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ratings_ticket_id"))

    op.drop_table("ratings")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_ticket_id"))

    op.drop_table("notices")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_follow_ups_ticket_id"))

    op.drop_table("follow_ups")
    with op.batch_alter_table("extension_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_extension_requests_ticket_id"))

    op.drop_table("extension_requests")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_ticket_id"))

    op.drop_table("assignments")
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appeals_ticket_id"))

    op.drop_table("appeals")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_status_due")
        batch_op.drop_index("ix_tickets_open_due")
        batch_op.drop_index("ix_tickets_place")
        batch_op.drop_index("ix_tickets_handler_status")
        batch_op.drop_index("ix_tickets_created")
        batch_op.drop_index("ix_tickets_caller_created")

    op.drop_table("tickets")
    op.drop_table("users")
    op.drop_table("ticket_counters")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")

    op.drop_table("outbox")
    op.drop_table("kb_articles")
    op.drop_table("inbound_events")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_departments_parent_id"))

    op.drop_table("departments")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calls_caller"))

    op.drop_table("calls")


SQLITE_FTS = [
    "CREATE VIRTUAL TABLE kb_fts USING fts5(tokens, content='kb_articles', content_rowid='id')",
    "CREATE TRIGGER kb_fts_ai AFTER INSERT ON kb_articles BEGIN "
    "INSERT INTO kb_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
    "CREATE TRIGGER kb_fts_ad AFTER DELETE ON kb_articles BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); END",
    "CREATE TRIGGER kb_fts_au AFTER UPDATE ON kb_articles BEGIN "
    "INSERT INTO kb_fts(kb_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); "
    "INSERT INTO kb_fts(rowid, tokens) VALUES (new.id, new.tokens); END",
]


def _create_fts() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_FTS:
            op.execute(statement)
    elif dialect == "postgresql":
        # A stored tsvector: ranking reads it instead of re-parsing every matching body.
        op.execute(
            "ALTER TABLE kb_articles ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', tokens)) STORED"
        )
        op.execute("CREATE INDEX ix_kb_articles_fts ON kb_articles USING gin (tsv)")


def _drop_fts() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("kb_fts_ai", "kb_fts_ad", "kb_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS kb_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_kb_articles_fts")
        op.execute("ALTER TABLE kb_articles DROP COLUMN IF EXISTS tsv")
