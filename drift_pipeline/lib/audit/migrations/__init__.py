"""Versioned schema migrations of the audit store (Alembic), runnable from the package.

The Alembic configuration is built in code with ``script_location`` pointing at this
folder, so an installed package migrates a database without an ``alembic.ini``. The
version table is ``audit_alembic_version`` so that the audit store can share a
PostgreSQL database with Dagster's own storage (which uses ``alembic_version``).

New revision during development::

    python -c "from drift_pipeline.lib.audit.migrations import revision; revision('sqlite:///var/audit/dev.db', 'add x')"
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine

VERSION_TABLE = "audit_alembic_version"
SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic ``Config`` for these migrations, bound to ``connection`` if given."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with the package."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "audit migrations folder has no revisions"
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade the database behind ``connection`` inside its current transaction."""
    command.upgrade(alembic_config(connection), revision)


def revision(url: str, message: str) -> None:
    """Autogenerate a new revision from the models against a database at head (development only)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        upgrade(connection)
        command.revision(alembic_config(connection), message=message, autogenerate=True)
    engine.dispose()
