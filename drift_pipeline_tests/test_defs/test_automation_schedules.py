"""Schedules follow each model's risk level and request the right partitions once."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from drift_pipeline.defs.automation.definitions import build_automation_definitions
from drift_pipeline.defs.automation.schedules import FAMILIES_TAG, build_analysis_schedule, routine_cadence
from drift_pipeline.lib.config import load_model_configs, load_policy
from drift_pipeline.lib.project import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config"


@pytest.fixture(scope="module")
def models():
    return load_model_configs(CONFIG)


@pytest.fixture(scope="module")
def policy():
    return load_policy(CONFIG)


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    from drift_pipeline.defs.models import build_definitions

    return dg.Definitions.merge(build_definitions(config_dir=CONFIG, var=tmp_path_factory.mktemp("var")),
                                build_automation_definitions(CONFIG))


@pytest.fixture(scope="module")
def _tick(defs):
    repository = defs.get_repository_def()

    def tick(schedule, when: dt.datetime):
        return schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=when,
                                                                repository_def=repository))

    return tick


def test_high_risk_runs_daily_at_two_on_yesterday(models, policy, _tick):
    compas = models["compas"]
    schedule = build_analysis_schedule(compas, policy)
    assert (routine_cadence(compas, policy), schedule.cron_schedule, schedule.execution_timezone) == \
        ("daily", "0 2 * * *", "UTC")
    result = _tick(schedule, dt.datetime(2013, 6, 10, 2, 0, tzinfo=dt.UTC))  # a Monday
    (request,) = result.run_requests
    assert request.partition_key == "2013-06-09" and request.run_key == "compas_analysis_schedule:2013-06-09"
    # 2013-06-09 is a Sunday: explanation (weekly for high risk) is due on that partition
    assert request.tags[FAMILIES_TAG] == "data,fairness,model,explanation"
    monday = _tick(schedule, dt.datetime(2013, 6, 11, 2, 0, tzinfo=dt.UTC)).run_requests[0]
    assert monday.tags[FAMILIES_TAG] == "data,fairness,model"


def test_low_risk_runs_weekly_on_sunday_over_the_week(models, policy, _tick):
    low = models["flights"].model_copy(update={"risk_level": "low"})
    schedule = build_analysis_schedule(low, policy)
    assert schedule.cron_schedule == "0 3 * * 0"
    requests = _tick(schedule, dt.datetime(2013, 6, 9, 3, 0, tzinfo=dt.UTC)).run_requests
    assert [r.partition_key for r in requests] == [f"2013-06-0{d}" for d in range(2, 9)]
    assert len({r.run_key for r in requests}) == 7
    # flights has no protected attribute: fairness is never listed as due
    assert all("fairness" not in r.tags[FAMILIES_TAG] for r in requests)


def test_a_tick_outside_the_partitions_skips_with_a_reason(models, policy, _tick):
    schedule = build_analysis_schedule(models["flights"], policy)
    result = _tick(schedule, dt.datetime(2026, 1, 2, 2, 0, tzinfo=dt.UTC))
    assert not result.run_requests
    assert "outside the model's partitions 2013-02-01 .. 2013-12-31" in result.skip_message


def test_every_model_gets_its_schedules_sensors_and_jobs(models, defs):
    schedules = {s.name for s in defs.schedules}
    sensors = {s.name for s in defs.sensors}
    for name in models:
        assert {f"{name}_analysis_schedule", f"{name}_baseline_review_schedule"} <= schedules
        assert f"{name}_arrival_sensor" in sensors
        defs.resolve_job_def(f"{name}_baseline_reset_job")
        defs.resolve_job_def(f"{name}_baseline_review_job")
    assert {"alert_notification_sensor", "run_failure_alert_sensor", "overdue_analysis_sensor"} <= sensors
    assert "retention_schedule" in schedules
    for definition in [*defs.schedules, *defs.sensors]:
        assert definition.description and "\n" not in definition.description, definition.name
    assert {s.cron_schedule for s in defs.schedules if s.name.endswith("baseline_review_schedule")} == {"0 4 1 * *"}


def test_scheduled_runs_materialise_only_the_families_due():
    import datetime as dt

    from drift_pipeline.defs.automation.schedules import families_due, scheduled_assets
    from drift_pipeline.lib.config import load_model_configs, load_policy
    from drift_pipeline.lib.project import PROJECT_ROOT

    models, policy = load_model_configs(PROJECT_ROOT / "config"), load_policy(PROJECT_ROOT / "config")
    monday, sunday = dt.date(2013, 6, 3), dt.date(2013, 6, 2)  # ISO week 22: an even week
    flights = [k.path[1] for k in scheduled_assets(models["flights"], families_due(models["flights"], policy, monday))]
    assert "feature_drift" not in flights and "model_performance" not in flights  # medium risk: weekly
    assert {"production_batch", "model_health", "drift_alerts"} <= set(flights)
    sunday_assets = scheduled_assets(models["flights"], families_due(models["flights"], policy, sunday))
    assert {"feature_drift", "model_performance", "explanation_drift"} <= {k.path[1] for k in sunday_assets}
    compas = [k.path[1] for k in scheduled_assets(models["compas"], families_due(models["compas"], policy, monday))]
    assert {"feature_drift", "fairness_metrics", "model_performance"} <= set(compas)  # high risk: daily
    assert "explanation_drift" not in compas  # weekly, on Sundays


def test_a_run_of_only_the_families_due_completes(tmp_path):
    import datetime as dt

    import dagster as dg

    from drift_pipeline.defs.automation.schedules import families_due, scheduled_assets
    from drift_pipeline.defs.jobs import monitoring_job_name
    from drift_pipeline.lib.config import load_model_configs, load_policy
    from drift_pipeline.lib.project import PROJECT_ROOT
    from drift_pipeline_tests.test_defs.harness import Harness

    config, policy = load_model_configs(PROJECT_ROOT / "config")["flights"], load_policy(PROJECT_ROOT / "config")
    day = dt.date(2013, 6, 3)  # a Monday: medium risk evaluates only fairness (none here) daily
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        harness = Harness(var=tmp_path / "var", instance=instance)
        assert harness.baseline("flights").success
        job = harness.definitions.resolve_job_def(monitoring_job_name("flights"))
        result = job.execute_in_process(instance=instance, partition_key=day.isoformat(), raise_on_error=False,
                                        asset_selection=scheduled_assets(config, families_due(config, policy, day)))
        assert result.success
        health = harness.results.read_json("flights", "model_health", day.isoformat())
        assert set(health["not_evaluated"]) >= {"data", "model", "explanation"}
        assert not harness.results.exists("flights", "feature_drift", day.isoformat(), "json")
