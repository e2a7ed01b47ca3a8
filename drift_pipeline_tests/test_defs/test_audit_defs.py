"""The audit group: decision-stream checks on the seeded credit log, the decision-log source in a
real run, and byte-identical periodic reports that attest the chain head."""

from __future__ import annotations

import dagster as dg
import pytest

from drift_pipeline.defs import resources
from drift_pipeline.defs.audit.assets import build_audit_definitions
from drift_pipeline.defs.jobs import baseline_job_name, monitoring_job_name
from drift_pipeline.lib.decision_seed import seed_decision_log
from drift_pipeline.lib.project import PROJECT_ROOT


@pytest.fixture(scope="module")
def location(tmp_path_factory):
    var = tmp_path_factory.mktemp("audit_var")
    url = f"sqlite:///{var / 'audit' / 'audit.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRIFT_PIPELINE_AUDIT_URL", url)  # the decision-log source reads the project's audit URL
        patch.setattr(resources, "_SOURCES", {})      # no frame cached from another test's store
        definitions = build_audit_definitions(config_dir=PROJECT_ROOT / "config", var=var, audit_url=url)
        store = definitions.resources["audit_trail"].store()
        seed_decision_log(store=store)
        with dg.DagsterInstance.ephemeral() as instance:
            yield definitions, store, instance, var


def test_the_code_location_has_the_audit_group():
    from drift_pipeline.definitions import defs

    definitions = defs()
    keys = {k.to_user_string() for k in definitions.resolve_all_asset_keys()}
    assert {"audit/weekly_audit_report", "audit/monthly_audit_report", "credit/decision_stream",
            "credit/production_batch"} <= keys
    assert "flights/decision_stream" not in keys  # only decision-log models
    checks = {k.name for k in definitions.resolve_asset_graph().asset_check_keys
              if k.asset_key == dg.AssetKey(["credit", "decision_stream"])}
    assert checks == {"decision_prediction_shares_are_stable", "decision_entities_are_not_concentrated",
                      "decision_confidence_is_stable", "decision_volume_is_within_bounds"}
    for job in ("credit_decision_stream_job", "weekly_audit_report_job", "monthly_audit_report_job"):
        definitions.resolve_job_def(job)


@pytest.mark.parametrize(("day", "failing"), [
    ("2024-02-10", set()),
    ("2024-02-24", {"decision_volume_is_within_bounds"}),        # the scripted outage
    ("2024-03-18", {"decision_volume_is_within_bounds"}),        # the scripted campaign
    ("2024-03-31", {"decision_entities_are_not_concentrated"}),  # branch-03 takes 45 %
])
def test_decision_stream_checks_catch_the_scripted_events(location, day, failing):
    definitions, store, instance, _ = location
    job = definitions.resolve_job_def("credit_decision_stream_job")
    result = job.execute_in_process(instance=instance, partition_key=day)
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert len(evaluations) == 4
    assert {name for name, passed in evaluations.items() if not passed} == failing
    alerts = [a for a in store.alerts(model="credit", partition=day) if a["family"] == "decision_stream"]
    assert len(alerts) == len(failing) and all(a["severity"] == "WARNING" for a in alerts)
    job.execute_in_process(instance=instance, partition_key=day)  # a rerun records no duplicate
    assert len([a for a in store.alerts(model="credit", partition=day) if a["family"] == "decision_stream"]) == len(
        failing)


def test_the_decision_log_model_runs_like_the_others(location):
    definitions, store, instance, _ = location
    assert definitions.resolve_job_def(baseline_job_name("credit")).execute_in_process(instance=instance).success
    result = definitions.resolve_job_def(monitoring_job_name("credit")).execute_in_process(
        instance=instance, partition_key="2024-03-28", raise_on_error=False)
    assert result.success
    batch = instance.fetch_materializations(dg.AssetKey(["credit", "production_batch"]), limit=1).records[0]
    assert batch.event_log_entry.asset_materialization.metadata["rows"].value > 100  # a trailing week of decisions
    assert {a["metric"] for a in store.alerts(model="credit", partition="2024-03-28")} >= {"psi"}  # scripted shift


def test_reports_are_byte_identical_on_rerun_and_attest_the_chain_head(location):
    definitions, store, instance, var = location
    job = definitions.resolve_job_def("weekly_audit_report_job")
    assert job.execute_in_process(instance=instance, partition_key="2024-03-24").success
    html = var / "reports" / "audit" / "weekly-2024-03-24.html"
    markdown = html.with_suffix(".md")
    first = (html.read_bytes(), markdown.read_bytes())
    head_after_first = store.head()
    assert job.execute_in_process(instance=instance, partition_key="2024-03-24").success
    assert (html.read_bytes(), markdown.read_bytes()) == first
    assert store.head() == head_after_first  # the rerun recorded nothing new
    [record] = store.reports(model="all_models", report_type="audit_weekly")
    assert record["summary"]["head_hash"] in first[1].decode()
    assert store.verify(expected_head=record["summary"]["head_hash"]).ok
    monthly = definitions.resolve_job_def("monthly_audit_report_job")
    assert monthly.execute_in_process(instance=instance, partition_key="2024-02-01").success
    text = (var / "reports" / "audit" / "monthly-2024-02-01.md").read_text()
    assert "| credit | high | credit-scorecard-v1 | decision_log |" in text and "Decisions logged:" in text


def test_the_decision_log_source_sees_decisions_recorded_after_it_was_read(tmp_path, monkeypatch):
    import datetime as dt

    from drift_pipeline.lib.audit.store import DecisionIn
    from drift_pipeline.lib.config import load_model_configs

    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("DRIFT_PIPELINE_AUDIT_URL", url)
    monkeypatch.setattr(resources, "_SOURCES", {})
    store = resources._audit_store(url)
    seed_decision_log(store=store)
    config = load_model_configs(PROJECT_ROOT / "config")["credit"]
    data = resources.ProductionData()
    before = data.source(config)
    assert data.source(config) is before  # unchanged log: served from the per-process cache
    last = store.decisions(model="credit", newest_first=True, limit=1)[0]
    when = dt.datetime.fromisoformat(str(last["timestamp"])) + dt.timedelta(minutes=1)
    store.record_decisions([DecisionIn(
        timestamp=when, model="credit", model_version=last["model_version"], decision_type=last["decision_type"],
        features_json=last["features_json"], input_hash=last["input_hash"], actor=last["actor"],
        prediction=last["prediction"], confidence=last["confidence"], trace_id="late-decision-1",
    )])
    after = data.source(config)
    assert len(after) == len(before) + 1  # a long-running process sees the new decision
