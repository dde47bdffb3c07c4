"""ticket_attachments: files sent with a department's reply

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

One row per file the department portal stored under the attachments folder: the name the
server gave it on disk, the upload's own name (shown, never used as a path), its sniffed
type, size and digest, and who sent it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hotline.tickets.schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ticket_attachments",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column(
            "ticket_id",
            Id,
            sa.ForeignKey(
                "tickets.id",
                ondelete="CASCADE",
                name="fk_ticket_attachments_ticket_id_tickets",
            ),
            nullable=False,
        ),
        sa.Column("stored_name", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(120), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("department_id", Id, nullable=True),
        sa.Column("by", Id, nullable=True),
        sa.Column("at", hotline.tickets.schema.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_attachments"),
        sa.UniqueConstraint("stored_name", name="uq_ticket_attachments_stored_name"),
    )
    op.create_index("ix_ticket_attachments_ticket_id", "ticket_attachments", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_attachments_ticket_id", table_name="ticket_attachments")
    op.drop_table("ticket_attachments")
