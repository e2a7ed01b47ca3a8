"""Retention prunes old per-partition files and reports, and only reports old audit rows."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from drift_pipeline.lib.audit import AlertIn, AuditStore
from drift_pipeline.lib.retention import RetentionError, apply_retention, plan_retention

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
DAYS = {"decision_logs": 90, "monitoring_records": 1825, "alerts": 365, "incidents": None, "baselines": None}


def _file(path, age_days: float, text: str = "{}"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    moment = (NOW - dt.timedelta(days=age_days)).timestamp()
    os.utime(path, (moment, moment))
    return path


@pytest.fixture
def tree(tmp_path):
    results, reports = tmp_path / "results", tmp_path / "reports"
    old = [_file(results / "flights" / "feature_drift" / "2013-03-01.parquet", 1900),
           _file(results / "flights" / "feature_drift" / "2013-03-01.json", 1900)]
    recent = _file(results / "flights" / "feature_drift" / "2013-03-02.json", 10)  # old partition, written lately
    kept = [_file(results / "flights" / "reference_profile" / "_all.json", 3000),
            _file(results / "flights" / "reference_profile" / "2013-01-31-v1.d" / "profile.json", 3000),
            _file(results / "flights" / "model_artifact" / "_all.json", 3000)]
    old_report = _file(reports / "flights" / "2013-03-01" / "report.html", 1900)
    new_report = _file(reports / "flights" / "2013-03-02" / "report.html", 1)
    return {"results": results, "reports": reports, "old": old, "recent": recent, "kept": kept,
            "old_report": old_report, "new_report": new_report}


def test_old_partition_files_and_reports_go_baselines_and_pointers_stay(tree):
    plan = plan_retention(DAYS, results_root=tree["results"], reports_root=tree["reports"], now=NOW)
    assert sorted(plan.files) == sorted(tree["old"]) and plan.report_dirs == [tree["old_report"].parent]
    assert apply_retention(plan) == {"result_files": 2, "report_dirs": 1}
    assert not any(p.exists() for p in tree["old"]) and not tree["old_report"].exists()
    assert tree["recent"].exists() and tree["new_report"].exists() and all(p.exists() for p in tree["kept"])
    # applying again finds nothing
    again = plan_retention(DAYS, results_root=tree["results"], reports_root=tree["reports"], now=NOW)
    assert again.files == [] and again.report_dirs == []


def test_keep_indefinitely_deletes_nothing_and_incident_retention_is_ignored(tree):
    plan = plan_retention({**DAYS, "monitoring_records": None, "incidents": 10},
                          results_root=tree["results"], reports_root=tree["reports"], now=NOW)
    assert plan.files == [] and plan.report_dirs == []
    assert any("retention_days.incidents = 10 is ignored" in note for note in plan.notes)


def test_audit_rows_past_retention_are_counted_never_deleted(tmp_path, tree):
    store = AuditStore(f"sqlite:///{tmp_path / 'audit.db'}")
    store.migrate()
    lineage = dict(model="flights", run_id="r", data_fingerprint="f", config_hash="c", code_version="v",
                   family="data", metric="psi", severity="WARNING", message="m")
    store.record_alerts([AlertIn(partition="2013-03-01", created_at=NOW - dt.timedelta(days=400), **lineage),
                         AlertIn(partition="2013-03-02", created_at=NOW - dt.timedelta(days=5), **lineage)])
    alert_id = store.alerts()[0]["id"]
    store.open_incident(alert_id, created_at=NOW - dt.timedelta(days=4000))
    head = store.head()
    plan = plan_retention(DAYS, results_root=tree["results"], reports_root=tree["reports"], now=NOW,
                          audit_store=store)
    assert plan.audit_past_retention == {"alerts": 1, "decisions": 0, "metrics": 0, "reports": 0}
    assert any("append-only hash chain" in note for note in plan.notes)
    apply_retention(plan)
    assert store.head() == head and len(store.alerts()) == 2 and len(store.incidents()) == 1
    assert store.verify().ok


def test_monitoring_records_window_is_required(tree):
    with pytest.raises(RetentionError, match="monitoring_records"):
        plan_retention({"alerts": 365}, results_root=tree["results"], reports_root=tree["reports"], now=NOW)
