"""Shared fixtures: results, reports and audit store of every test live in a temporary folder."""

from __future__ import annotations

import os

import pytest

from drift_pipeline_tests.postgres_util import postgres_db_url  # noqa: F401  (fixture)


@pytest.fixture(autouse=True, scope="session")
def _isolated_outputs(tmp_path_factory):
    """Nothing a test runs may write into the checkout's ``var/`` or read a developer's database."""
    var = tmp_path_factory.mktemp("var")
    saved = {k: os.environ.get(k) for k in ("DRIFT_PIPELINE_VAR", "DRIFT_PIPELINE_AUDIT_URL",
                                             "DRIFT_PIPELINE_DATABASE_URL", "DAGSTER_HOME")}
    os.environ["DRIFT_PIPELINE_VAR"] = str(var)
    for key in ("DRIFT_PIPELINE_AUDIT_URL", "DRIFT_PIPELINE_DATABASE_URL", "DAGSTER_HOME"):
        os.environ.pop(key, None)
    yield var
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
