"""Where the project lives, where it writes, and which code version produced a result."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = PACKAGE_DIR.parent
VAR_ENV = "DRIFT_PIPELINE_VAR"
AUDIT_URL_ENV = "DRIFT_PIPELINE_AUDIT_URL"
DATABASE_URL_ENV = "DRIFT_PIPELINE_DATABASE_URL"


def var_dir() -> Path:
    """Generated outputs (Dagster storage, audit store, results, reports): ``$DRIFT_PIPELINE_VAR`` or ``var/``."""
    return Path(os.environ.get(VAR_ENV) or PROJECT_ROOT / "var").resolve()


def audit_url() -> str:
    """``$DRIFT_PIPELINE_AUDIT_URL``, else ``$DRIFT_PIPELINE_DATABASE_URL``, else SQLite under ``var/``."""
    return (
        os.environ.get(AUDIT_URL_ENV)
        or os.environ.get(DATABASE_URL_ENV)
        or f"sqlite:///{var_dir() / 'audit' / 'audit.db'}"
    )


def dagster_home() -> Path:
    """The instance folder: ``config/postgres`` when a database URL is set, else the project root."""
    if os.environ.get(DATABASE_URL_ENV):
        return PROJECT_ROOT / "config" / "postgres"
    return PROJECT_ROOT


@lru_cache(maxsize=1)
def code_version() -> str:
    """``<version>+<sha12>`` where sha12 hashes every ``.py`` file of the package (sorted by path)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE_DIR)).encode())
        digest.update(path.read_bytes())
    try:
        version = metadata.version("drift_pipeline")
    except metadata.PackageNotFoundError:
        version = "0+unknown"
    return f"{version}+{digest.hexdigest()[:12]}"
