"""Alembic environment: always given a live connection by gate.store.schema."""
from __future__ import annotations

from alembic import context

from gate.store.models import include_name, schema_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("gate migrations run through gate.store.schema.upgrade(engine), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=schema_metadata(),
    include_name=include_name,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTER TABLE is limited
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # several gate processes may start at once: one migrates, the others wait
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7305000001)")
    context.run_migrations()
