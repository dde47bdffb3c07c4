"""users: desk passwords and language

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

``users.password_hash`` holds an argon2id hash for signing in at the web desk (None: API
token only) and ``users.password_set_at`` when it was set (sessions from before no longer
count); ``users.locale`` the language the user chose for the pages (None: the default).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from hotline.tickets.schema import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(200), nullable=True))
        batch.add_column(sa.Column("password_set_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("locale", sa.String(10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locale")
        batch.drop_column("password_set_at")
        batch.drop_column("password_hash")
