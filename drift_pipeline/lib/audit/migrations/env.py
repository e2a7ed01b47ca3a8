"""Alembic environment of the audit store.

Run through :func:`drift_pipeline.lib.audit.migrations.upgrade` (``AuditStore.migrate``),
which hands over an open connection, already inside the transaction that holds the
migration lock; no ``alembic.ini`` is involved.
"""

from alembic import context

from drift_pipeline.lib.audit.migrations import VERSION_TABLE
from drift_pipeline.lib.audit.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "audit store migrations need a connection: run AuditStore(url).migrate() instead of the alembic command line"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
