"""Alembic environment: runs on a connection handed in by ``hotline.tickets.db.migrate``."""

from __future__ import annotations

from alembic import context

from hotline.tickets.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `hotline migrate`, which supplies the connection")
context.configure(
    connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()
