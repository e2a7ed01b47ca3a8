"""Bad input gets a clear message naming model, partition and problem; nothing recorded is lost."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline_tests.test_defs.harness import Harness

COMPAS_CSV = PROJECT_ROOT / "data" / "compas" / "compas-scores-two-years-deidentified.csv"


@pytest.fixture
def setup(tmp_path):
    """A config whose compas source is a copy we can break, plus a run of good partitions."""
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    for other in (config / "models").glob("*.yaml"):
        if other.stem != "compas":
            other.unlink()
    data = tmp_path / "compas.csv"
    shutil.copy(COMPAS_CSV, data)
    path = config / "models" / "compas.yaml"
    path.write_text(path.read_text().replace("data/compas/compas-scores-two-years-deidentified.csv", str(data)))
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        harness = Harness(var=tmp_path / "var", instance=instance, config_dir=config)
        assert harness.baseline("compas").success
        assert harness.partitions("compas", "2013-05-01", "2013-05-02").success
        yield harness, data


def _rewrite(data: Path, change) -> None:
    frame = pd.read_csv(data, low_memory=False)
    change(frame).to_csv(data, index=False)


def test_missing_column_blocks_drift_and_names_it(setup):
    harness, data = setup
    before = harness.audit.alerts(model="compas")
    _rewrite(data, lambda f: f.drop(columns=["priors_count"]))
    result = harness.partitions("compas", "2013-05-03", "2013-05-04")
    assert result.success  # a ranged backfill records the failure per partition and goes on
    checks = harness.check_results("compas", "production_batch_has_required_columns")
    assert checks["2013-05-03"] == (False, "ERROR")
    drift = harness.materializations("compas", "feature_drift")
    assert drift["2013-05-03"]["status"] == "blocked by validation"
    assert "column 'priors_count' (feature, numeric) is missing" in drift["2013-05-03"]["reason"]
    alerts = harness.audit.alerts(model="compas", partition="2013-05-03")
    assert [a["family"] for a in alerts] == ["validation"]
    assert "compas 2013-05-03" in alerts[0]["message"] and "priors_count" in alerts[0]["message"]
    # nothing recorded before is lost, and the chain still verifies
    after_ids = {a["id"] for a in harness.audit.alerts(model="compas")}
    assert {a["id"] for a in before} <= after_ids
    assert harness.audit.verify().ok


def test_single_partition_run_blocks_natively(setup):
    harness, data = setup
    _rewrite(data, lambda f: f.drop(columns=["priors_count"]))
    result = harness.partitions("compas", "2013-05-05")
    assert not result.success
    assert "blocking asset check" in str(result.failure_data_for_node("compas_production_batch_checks").error)
    assert "2013-05-05" not in harness.materializations("compas", "feature_drift")


def test_empty_partition_is_critical(setup):
    harness, data = setup
    _rewrite(data, lambda f: f[~f["compas_screening_date"].between("2013-04-09", "2013-05-06")])
    assert harness.partitions("compas", "2013-05-06", "2013-05-07").success
    checks = harness.check_results("compas", "production_batch_row_count_in_bounds")
    assert checks["2013-05-06"] == (False, "ERROR")  # no row in its 28-day window
    assert "row count outside" in harness.materializations("compas", "feature_drift")["2013-05-06"]["reason"]


def test_unparseable_value_is_named_per_partition(setup):
    harness, data = setup
    _rewrite(data, lambda f: f.assign(age=f["age"].astype(str).where(f["compas_screening_date"] != "2013-05-07",
                                                                      "forty")))
    assert harness.partitions("compas", "2013-04-10", "2013-05-07").success
    meta = harness.materializations("compas", "production_batch")
    assert "column 'age' is declared numeric" in meta["2013-05-07"]["problems"]
    assert "2013-05-07" in meta["2013-05-07"]["problems"]
    assert "problems" not in meta["2013-04-10"]  # its window ends before the bad day


def test_unparseable_file_fails_with_a_clear_message(setup):
    harness, data = setup
    before = harness.audit.alerts(model="compas")
    data.write_bytes(b"\x00\x01 not a csv \xff\n\"unclosed")
    result = harness.partitions("compas", "2013-05-08", "2013-05-09")
    assert not result.success
    failure = result.failure_data_for_node("compas__production_batch")
    text = failure.user_failure_data.description
    assert "compas" in text and str(data) in text and "2013-05-08 .. 2013-05-09" in text
    assert [a["id"] for a in harness.audit.alerts(model="compas")] == [a["id"] for a in before]
    assert harness.materializations("compas", "production_batch").keys() >= {"2013-05-01", "2013-05-02"}
