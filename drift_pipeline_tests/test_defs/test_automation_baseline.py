"""A baseline reset registers and activates a new version, archives the old one, and drift assets switch to it."""

from __future__ import annotations

import dagster as dg

from drift_pipeline.defs.automation.definitions import build_automation_definitions
from drift_pipeline.defs.models import build_definitions
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline.lib.results import ResultStore

CONFIG = PROJECT_ROOT / "config"


def test_reset_switches_the_active_baseline_and_the_drift_assets(tmp_path):
    defs = dg.Definitions.merge(build_definitions(config_dir=CONFIG, var=tmp_path),
                                build_automation_definitions(CONFIG))
    instance = dg.DagsterInstance.ephemeral()
    audit = defs.resources["audit_trail"].store()
    assert defs.resolve_job_def("compas_baseline_job").execute_in_process(instance=instance).success
    (original,) = audit.baselines("compas")

    reset = defs.resolve_job_def("compas_baseline_reset_job").execute_in_process(instance=instance, run_config={
        "ops": {"compas_baseline_reset": {"config": {"actor": "risk officer", "reason": "new intake policy",
                                                     "window_start": "2013-05-01", "window_end": "2013-05-21"}}}})
    version = reset.output_for_node("compas_baseline_reset")
    assert version == "2013-05-21-v1"
    statuses = {b["version"]: b["status"] for b in audit.baselines("compas")}
    assert statuses == {original["version"]: "archived", version: "active"}
    active = audit.active_baseline("compas")
    assert (active["created_by"], active["reason"], active["window_start"]) == \
        ("risk officer", "new intake policy", "2013-05-01")
    assert ResultStore(tmp_path / "results").read_json("compas", "reference_profile", None)["version"] == version

    run = defs.resolve_job_def("compas_monitoring_job").execute_in_process(
        instance=instance, partition_key="2013-06-03", raise_on_error=False)
    assert run.success
    drift = instance.fetch_materializations(dg.AssetKey(["compas", "feature_drift"]), limit=1).records[0]
    assert drift.event_log_entry.asset_materialization.metadata["baseline_version"].value == version
    alerts = audit.alerts(model="compas", partition="2013-06-03")
    assert alerts and {a["baseline_version"] for a in alerts} == {version}


def test_a_reset_window_without_enough_rows_fails_with_a_clear_message(tmp_path):
    defs = dg.Definitions.merge(build_definitions(config_dir=CONFIG, var=tmp_path),
                                build_automation_definitions(CONFIG))
    result = defs.resolve_job_def("compas_baseline_reset_job").execute_in_process(
        raise_on_error=False, run_config={"ops": {"compas_baseline_reset": {"config": {
            "actor": "a", "reason": "b", "window_start": "2013-05-05", "window_end": "2013-05-05"}}}})
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "compas: baseline reset window 2013-05-05 holds" in failure.step_failure_data.user_failure_data.description
