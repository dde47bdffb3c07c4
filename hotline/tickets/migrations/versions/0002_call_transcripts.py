"""call transcripts: status and ticket draft

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

``calls.transcript`` (already there) holds the segments as JSON; ``transcript_status`` says
whether they are complete (done), cut short (partial) or still to be made from the recording
(pending); ``draft`` is the pre-filled ticket as JSON. The index finds pending calls for
``hotline transcribe --pending``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("transcript_status", sa.String(20), nullable=True))
        batch.add_column(sa.Column("draft", sa.Text(), nullable=True))
    op.create_index("ix_calls_transcript_status", "calls", ["transcript_status"])


def downgrade() -> None:
    op.drop_index("ix_calls_transcript_status", table_name="calls")
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("draft")
        batch.drop_column("transcript_status")
