"""The periodic audit report: period selection, deterministic rendering, head hash, redaction."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from drift_pipeline.lib.audit import AlertIn, AuditStore
from drift_pipeline.lib.audit_report import (
    collect_audit_period,
    period_for,
    redact_report_data,
    render_html,
    render_markdown,
    report_fingerprint,
)
from drift_pipeline.lib.config import load_model_configs
from drift_pipeline.lib.project import PROJECT_ROOT

MODELS = load_model_configs(Path(PROJECT_ROOT / "config"))
LINEAGE = {"run_id": "r1", "data_fingerprint": "fp", "config_hash": "ch", "code_version": "cv",
           "created_at": "2030-01-01T00:00:00+00:00"}


def _alert(partition: str, severity: str, metric: str = "psi", message: str = "drift") -> AlertIn:
    return AlertIn(model="compas", partition=partition, family="data", metric=metric, feature="age",
                   value=0.3, severity=severity, message=message, baseline_version="2013-03-31-v1", **LINEAGE)


@pytest.fixture
def store():
    audit = AuditStore("sqlite:///:memory:", clock=lambda: dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    audit.migrate()
    audit.register_baseline("compas", "2013-03-31-v1", "2013-01-01", "2013-03-31", "abc", "pipeline", "first")
    ids = audit.record_alerts([
        _alert("2013-05-06", "CRITICAL", message="compas 2013-05-06: psi critical; call jo@x.example"),
        _alert("2013-05-07", "WARNING", metric="kl"),
        _alert("2013-05-07", "INFO", metric="js_distance"),
        _alert("2013-06-01", "CRITICAL"),                        # outside May
    ]).ids
    incident = audit.open_incident(ids[0], note="looking")
    audit.transition_incident(incident["id"], "acknowledged", actor="risk-officer", note="on it")
    audit.add_suppression("compas", "kl", "age", "known seasonal effect", "cro", "2030-01-20T00:00:00+00:00")
    yield audit
    audit.close()


def test_periods():
    assert period_for("weekly", "2024-03-24") == period_for("weekly", dt.date(2024, 3, 24))
    assert (period_for("weekly", "2024-03-24").end, period_for("monthly", "2024-02-01").end) == (
        dt.date(2024, 3, 30), dt.date(2024, 2, 29))
    assert period_for("monthly", "2013-05-17").start == dt.date(2013, 5, 1)
    with pytest.raises(ValueError, match="report kind"):
        period_for("daily", "2024-01-01")


def test_collect_selects_the_period_by_data_day(store):
    data = collect_audit_period(store, MODELS, period_for("monthly", "2013-05-01"),
                                monitored={"compas": ["2013-05-06", "2013-05-07", "2013-06-01"]})
    compas = next(m for m in data["models"] if m["name"] == "compas")
    assert compas["alerts"] == {"INFO": 1, "WARNING": 1, "CRITICAL": 1}
    assert compas["partitions_monitored"] == 2 and compas["partitions_configured"] == 31
    assert [a["partition"] for a in data["alerts"]] == ["2013-05-06", "2013-05-07"]  # CRITICAL first, no INFO
    assert [(i["status"], i["status_by"]) for i in data["incidents"]] == [("acknowledged", "risk-officer")]
    assert data["suppressions"] == []  # created in 2030, silenced nothing in May 2013
    assert [b["version"] for b in data["baselines"]] == ["2013-03-31-v1"]
    assert data["summary"]["alerts"] == {"INFO": 1, "WARNING": 1, "CRITICAL": 1}
    june = collect_audit_period(store, MODELS, period_for("monthly", "2013-06-01"))
    assert [a["partition"] for a in june["alerts"]] == ["2013-06-01"] and june["incidents"] == []
    jan_2030 = collect_audit_period(store, MODELS, period_for("monthly", "2030-01-01"))
    assert [s["rationale"] for s in jan_2030["suppressions"]] == ["known seasonal effect"]
    assert [e["version"] for e in jan_2030["baseline_changes"]] == ["2013-03-31-v1"]


def test_rendering_is_deterministic_complete_and_redacted(store):
    period = period_for("monthly", "2013-05-01")
    data = redact_report_data(collect_audit_period(store, MODELS, period, verification=store.verify()))
    head = store.head()
    markdown, html = render_markdown(data, head=head), render_html(data, head=head)
    again = redact_report_data(collect_audit_period(store, MODELS, period, verification=store.verify()))
    assert (render_markdown(again, head=store.head()), render_html(again, head=store.head())) == (markdown, html)
    assert report_fingerprint(again) == report_fingerprint(data)
    for text in (markdown, html):
        for needed in ("Executive summary", "Per-model summaries", "Alerts and incidents", "Suppressions",
                       "Baselines", "SR 11-7", "Art. 12", "Art. 72", "Risk officer", "Compliance officer",
                       "Chief Risk Officer (CRO)", f"--expected-head {head[1]}", "2013-05-06"):
            assert needed in text, needed
        assert "jo@x.example" not in text and "[REDACTED:email]" in text
        assert "2013-06-01" not in text
    assert "<script" not in html and html.startswith("<!DOCTYPE html>")
    assert "| compas | high | northpointe-compas-v1 | file | 0 / 31 | 1 | 1 |" in markdown


def test_the_printed_head_detects_truncation_later(store):
    head = store.head()
    store.record_alerts([_alert("2013-05-08", "WARNING", metric="wasserstein_normed")])
    assert store.verify(expected_head=head[1]).ok  # the chain grew: fine
    data = collect_audit_period(store, MODELS, period_for("monthly", "2013-05-01"))
    assert render_markdown(data, head=store.head()) != render_markdown(data, head=head)
