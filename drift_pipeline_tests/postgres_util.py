"""A throw-away PostgreSQL database per test, for tests marked ``@pytest.mark.postgres``.

The server is expected on 127.0.0.1:5432 with trust auth (override with the
``DRIFT_PIPELINE_TEST_POSTGRES`` URL, read when a test first asks for it). If it is
down, the local cluster is started with ``pg_ctlcluster``; tests are skipped only when
no PostgreSQL is installed at all, and fail with the reason otherwise.

Use the fixture by importing it into a test module or ``conftest.py``::

    from drift_pipeline_tests.postgres_util import postgres_db_url  # noqa: F401
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

DEFAULT_ADMIN_URLS = (
    "postgresql+psycopg2://postgres@127.0.0.1:5432/test",
    "postgresql+psycopg2://root@127.0.0.1:5432/test",
)
_PG_CONF_DIR = Path("/etc/postgresql")


def _reachable(url: str) -> str | None:
    """``None`` if a connection to ``url`` works, else the driver's first error line."""
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3}, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        return None
    except sa.exc.DBAPIError as exc:
        return str(exc.orig).strip().splitlines()[0]
    finally:
        engine.dispose()


def _start_local_cluster() -> str:
    """Start every locally installed cluster named ``main``; returns what was tried."""
    versions = sorted(p.name for p in _PG_CONF_DIR.iterdir()) if _PG_CONF_DIR.is_dir() else []
    tried = []
    for version in versions:
        command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        tried.append(f"{' '.join(command)} -> exit {result.returncode} {result.stderr.strip()[:200]}")
    return "; ".join(tried)


@functools.cache
def postgres_url() -> str:
    """URL of a reachable PostgreSQL admin database; skips or fails the calling test otherwise.

    Returns
    -------
    str
        A ``postgresql+psycopg2://`` URL whose user may ``CREATE DATABASE``.
    """
    configured = os.environ.get("DRIFT_PIPELINE_TEST_POSTGRES")
    candidates = (configured,) if configured else DEFAULT_ADMIN_URLS
    errors = {url: _reachable(url) for url in candidates}
    for url, error in errors.items():
        if error is None:
            return url
    if shutil.which("pg_ctlcluster") is None and not _PG_CONF_DIR.is_dir():
        pytest.skip("PostgreSQL is not installed here (no pg_ctlcluster, no /etc/postgresql)")
    tried = _start_local_cluster()
    for _ in range(20):
        for url in candidates:
            if _reachable(url) is None:
                return url
        time.sleep(0.5)
    pytest.fail(f"PostgreSQL is installed but not reachable: {errors}; start attempt: {tried}")


@pytest.fixture
def postgres_db_url() -> Iterator[str]:
    """A freshly created, empty database (``audit_test_<random>``), dropped after the test."""
    admin_url = postgres_url()
    name = f"audit_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
