"""The production backend: Dagster instance (dagster-postgres) and audit store on PostgreSQL."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster_postgres import PostgresEventLogStorage  # noqa: F401  (the switch needs it installed)

from drift_pipeline_tests.test_defs.harness import Harness


@pytest.mark.postgres
def test_partitions_of_both_models_on_postgres(tmp_path, postgres_db_url, monkeypatch):
    url = postgres_db_url.replace("postgresql+psycopg2://", "postgresql://")
    monkeypatch.setenv("DRIFT_PIPELINE_DATABASE_URL", url)
    # The same instance file the README documents: config/postgres/dagster.yaml.
    from drift_pipeline.lib.project import PROJECT_ROOT

    instance_dir = tmp_path / "home"
    instance_dir.mkdir()
    (instance_dir / "dagster.yaml").write_text((PROJECT_ROOT / "config" / "postgres" / "dagster.yaml").read_text()
                                               .replace("var/dagster-postgres", str(tmp_path / "artifacts")))
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        harness = Harness(var=tmp_path / "var", instance=instance, audit_url=postgres_db_url)
        assert harness.audit.dialect == "postgresql"
        for model, first, last in (("flights", "2013-03-01", "2013-03-02"), ("compas", "2013-06-01", "2013-06-02")):
            assert harness.baseline(model).success
            assert harness.partitions(model, first, last).success
            assert sorted(harness.materializations(model, "drift_alerts")) == [first, last]
        assert harness.audit.alerts(model="flights")
        assert harness.audit.verify().ok
