"""Materialise partitions of both models through the real asset graph."""

from __future__ import annotations

import dagster as dg
import pytest

from drift_pipeline_tests.test_defs.harness import Harness

LINEAGE = ("model", "partition", "run_id", "config_hash", "baseline_version", "data_fingerprint", "code_version")


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("materialize")
    (tmp / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp / "dagster")) as instance:
        h = Harness(var=tmp / "var", instance=instance)
        for model in ("flights", "compas"):
            assert h.baseline(model).success
        assert h.partitions("flights", "2013-07-01", "2013-07-03").success
        assert h.partitions("compas", "2013-06-01", "2013-06-03").success
        assert h.partitions("compas", "2013-09-10").success  # a single-partition run (UI launch)
        yield h


@pytest.mark.parametrize(("model", "keys"), [
    ("flights", ["2013-07-01", "2013-07-02", "2013-07-03"]),
    ("compas", ["2013-06-01", "2013-06-02", "2013-06-03", "2013-09-10"]),
])
def test_every_partition_has_its_own_materialisation_and_metadata(harness, model, keys):
    batches = harness.materializations(model, "production_batch")
    assert sorted(batches) == keys
    assert all(meta["rows"] > 0 for meta in batches.values())
    assert len({meta["data_fingerprint"] for meta in batches.values()}) == len(keys)
    drift = harness.materializations(model, "feature_drift")
    for key in keys:
        assert drift[key]["status"] == "ok"
        assert "| feature |" in drift[key]["top_drifted_features"]
    for key, meta in harness.materializations(model, "drift_alerts").items():
        assert {"alerts_critical", "alerts_warning", "baseline_version", "config_hash"} <= set(meta)


def test_checks_are_recorded_per_partition(harness):
    results = harness.check_results("compas", "production_batch_has_required_columns")
    assert set(results) == {"2013-06-01", "2013-06-02", "2013-06-03", "2013-09-10"}
    assert all(passed for passed, _ in results.values())


def test_alerts_carry_full_lineage(harness):
    alerts = harness.audit.alerts(model="flights")
    assert alerts, "July flights differ from January: some feature must alert"
    for alert in alerts:
        assert all(alert[field] for field in LINEAGE), alert
        assert alert["severity"] in {"WARNING", "CRITICAL"}
    assert {a["partition"] for a in alerts} <= {"2013-07-01", "2013-07-02", "2013-07-03"}


def test_reports_exist_where_alerts_start_and_for_the_latest(harness):
    reports = harness.materializations("flights", "drift_report")
    rendered = {k for k, meta in reports.items() if str(meta["report"]).startswith("file://")}
    assert "2013-07-03" in rendered  # the latest partition of the run
    first = harness.results.read_json("flights", "drift_alerts", "2013-07-01")
    assert ("2013-07-01" in rendered) == bool(first["alerts"])  # no earlier partition: every alert is an onset
    for key in rendered:
        assert (harness.var / "reports" / "flights" / key / "evidently.html").exists()
    for key in set(reports) - rendered:
        assert "not rendered" in reports[key]["report"] and "drift-pipeline report flights" in reports[key]["report"]


def test_rerunning_a_partition_adds_no_duplicate_alerts(harness):
    before = harness.audit.alerts(model="compas")
    assert harness.partitions("compas", "2013-06-01", "2013-06-03").success
    after = harness.audit.alerts(model="compas")
    assert [a["id"] for a in after] == [a["id"] for a in before]
    assert harness.audit.verify().ok


def test_baseline_is_versioned_and_reused(harness):
    flights = harness.audit.baselines("flights")
    assert [b["version"] for b in flights] == ["2013-01-31-v1"] and flights[0]["status"] == "active"
    assert harness.baseline("flights").success  # rebuilding the same baseline registers nothing new
    assert [b["version"] for b in harness.audit.baselines("flights")] == ["2013-01-31-v1"]


def test_metric_rows_share_the_alerts_lineage_and_trace_to_inputs(harness):
    metrics = harness.audit.metrics(model="compas", partition="2013-06-02")
    assert {m["family"] for m in metrics} >= {"data", "model", "fairness", "composite"}
    for metric in metrics:
        assert all(metric[field] for field in LINEAGE), metric
    alert = harness.audit.alerts(model="flights")[0]
    trace = harness.audit.trace(alert["id"])
    assert trace["metrics"] and trace["input_files"] and trace["input_files"][0].endswith(".parquet")
    assert trace["config_hash"] == alert["config_hash"] and trace["baseline_version"] == alert["baseline_version"]
