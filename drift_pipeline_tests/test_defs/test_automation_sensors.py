"""Sensors: one run per arrived day (surviving restarts), exactly-once notification, monitoring the monitor."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil

import dagster as dg
import pandas as pd
import pytest

from drift_pipeline.defs.automation.definitions import build_automation_definitions
from drift_pipeline.defs.automation.sensors import (
    IncomingFiles,
    Notifications,
    build_arrival_sensor,
    build_notification_sensor,
    build_overdue_analysis_sensor,
    build_run_failure_sensor,
)
from drift_pipeline.defs.models import build_definitions
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig
from drift_pipeline.lib.audit import AlertIn
from drift_pipeline.lib.config import load_model_configs, load_policy
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline_tests.local_sinks import webhook_server


@pytest.fixture(scope="module")
def config_dir(tmp_path_factory):
    """The project's policy with the two bundled models only (other models may be work in progress)."""
    config = tmp_path_factory.mktemp("config")
    shutil.copy(PROJECT_ROOT / "config" / "policy.yaml", config / "policy.yaml")
    (config / "models").mkdir()
    for name in ("compas", "flights"):
        shutil.copy(PROJECT_ROOT / "config" / "models" / f"{name}.yaml", config / "models")
    return config


@pytest.fixture
def env(tmp_path, config_dir):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    defs = dg.Definitions.merge(build_definitions(config_dir=config_dir, var=tmp_path, audit_url=url),
                                build_automation_definitions(config_dir, incoming_root=str(tmp_path / "incoming")))
    resources = {"incoming": IncomingFiles(root=str(tmp_path / "incoming")),
                 "monitoring_config": MonitoringConfig(config_dir=str(config_dir)), "audit_trail": AuditTrail(url=url)}
    return {"defs": defs, "resources": resources, "audit": resources["audit_trail"].store(), "tmp": tmp_path,
            "models": load_model_configs(config_dir), "policy": load_policy(config_dir),
            "instance": dg.DagsterInstance.ephemeral()}


def _evaluate(sensor, env, cursor, resources=None):
    context = dg.build_sensor_context(cursor=cursor, resources=resources or env["resources"],
                                      instance=env["instance"], definitions=env["defs"])
    return sensor.evaluate_tick(context)


def _day_file(env, day: str, frame: pd.DataFrame | None = None, text: str | None = None):
    folder = env["tmp"] / "incoming" / "compas"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day}.csv"
    if text is not None:
        path.write_text(text)
    else:
        source = pd.read_csv(PROJECT_ROOT / "data" / "compas" / "compas-scores-two-years-deidentified.csv")
        (frame if frame is not None else source[source["compas_screening_date"].str.startswith(day)]).to_csv(
            path, index=False)
    moment = (dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + dt.timedelta(hours=20)).timestamp()
    os.utime(path, (moment, moment))
    return path


def test_arrival_sensor_requests_one_run_per_new_day_across_restarts(env):
    sensor = build_arrival_sensor(env["models"]["compas"])
    _day_file(env, "2013-05-06")
    first = _evaluate(sensor, env, None)
    (request,) = first.run_requests
    assert request.partition_key == "2013-05-06" and request.run_key.startswith("compas:2013-05-06:")
    # the cursor (persisted by the daemon) makes the next tick, or a restarted daemon, see nothing new
    again = _evaluate(sensor, env, first.cursor)
    assert not again.run_requests and "no new file" in again.skip_message
    # a daemon that lost its cursor would ask again under the same run_key, which Dagster never relaunches
    assert _evaluate(sensor, env, None).run_requests[0].run_key == request.run_key
    _day_file(env, "2013-05-07")
    (second,) = _evaluate(sensor, env, first.cursor).run_requests
    assert second.partition_key == "2013-05-07"


def test_malformed_and_late_files_become_alerts_not_crashes(env):
    sensor = build_arrival_sensor(env["models"]["compas"])
    bad = _day_file(env, "2013-05-08", text="compas_screening_date,age\n2013-05-08,30\n")
    result = _evaluate(sensor, env, None)
    assert not result.run_requests and f"{bad}" in result.skip_message and "missing declared column" in \
        result.skip_message
    (alert,) = env["audit"].alerts(model="compas")
    assert (alert["family"], alert["metric"], alert["severity"], alert["partition"]) == \
        ("operations", "malformed_file", "CRITICAL", "2013-05-08")
    assert alert["input_files"] == [str(bad)]
    _evaluate(sensor, env, None)  # restart without cursor: the same file is the same alert
    assert len(env["audit"].alerts(model="compas")) == 1

    late = _day_file(env, "2013-05-09")
    moment = (dt.datetime(2013, 5, 12, tzinfo=dt.UTC)).timestamp()
    os.utime(late, (moment, moment))
    (request,) = _evaluate(sensor, env, result.cursor).run_requests
    assert request.partition_key == "2013-05-09"
    assert [a["metric"] for a in env["audit"].alerts(model="compas", severity="WARNING")] == ["late_file"]


def _critical(audit, partition: str) -> int:
    return audit.record_alerts([AlertIn(
        model="compas", partition=partition, run_id="r", data_fingerprint="f", config_hash="c", code_version="v",
        family="fairness", metric="demographic_parity_drift", feature="race", severity="CRITICAL",
        message=f"compas {partition}: fairness drift")]).ids[0]


def test_notification_sensor_sends_each_critical_once_across_restarts_and_reruns(env):
    with webhook_server() as (hook, posted, _):
        resources = {**env["resources"], "notifications": Notifications(slack_webhook=hook)}
        sensor = build_notification_sensor(clock=lambda: dt.datetime(2013, 6, 10, 1, tzinfo=dt.UTC))
        alert_id = _critical(env["audit"], "2013-06-09")
        first = _evaluate(sensor, env, None, resources)
        assert first.cursor == str(alert_id) and len(posted) == 1
        assert env["audit"].incidents(alert_id=alert_id)[0]["status"] == "open"
        assert _critical(env["audit"], "2013-06-09") == alert_id  # partition re-materialised: same id
        _evaluate(sensor, env, first.cursor, resources)
        _evaluate(sensor, env, None, resources)  # cursor lost (new deployment): the ledger still knows
        assert len(posted) == 1
        _critical(env["audit"], "2013-06-10") and _evaluate(sensor, env, first.cursor, resources)
        assert len(posted) == 2


def test_a_failed_run_is_recorded_as_a_critical_alert(env):
    @dg.op
    def explode():
        raise dg.Failure(description="source file unreadable")

    @dg.job(name="compas_monitoring_job_probe")
    def probe():
        explode()

    result = probe.execute_in_process(instance=env["instance"], raise_on_error=False, tags={
        "dagster/partition": "2013-06-09"})
    sensor = build_run_failure_sensor()
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=result.get_run_failure_event(), dagster_instance=env["instance"],
        dagster_run=result.dagster_run, resources=env["resources"]).for_run_failure()
    sensor(context)
    sensor(context)  # the same failure seen twice is one alert
    (alert,) = env["audit"].alerts(model="compas")
    assert (alert["metric"], alert["severity"], alert["partition"], alert["run_id"]) == \
        ("run_failure", "CRITICAL", "2013-06-09", result.run_id)
    assert "compas_monitoring_job_probe" in alert["message"]


def test_an_analysis_not_done_twelve_hours_after_its_tick_alerts_once(env):
    from dagster._core.storage.dagster_run import DagsterRun

    sensor = build_overdue_analysis_sensor(list(env["models"].values()), env["policy"],
                                           clock=lambda: dt.datetime(2013, 6, 10, 15, tzinfo=dt.UTC))
    env["instance"].add_run(DagsterRun(job_name="compas_monitoring_job", run_id="done-compas",
                                       tags={"dagster/partition": "2013-06-09"}, status=dg.DagsterRunStatus.SUCCESS))
    result = _evaluate(sensor, env, None)
    overdue = env["audit"].alerts(severity="CRITICAL")
    assert [(a["model"], a["partition"], a["metric"]) for a in overdue] == [
        ("flights", "2013-06-09", "analysis_overdue")]  # compas's run succeeded
    assert json.loads(result.cursor)["flights"] == "2013-06-10T02:00:00+00:00"
    _evaluate(sensor, env, result.cursor)
    _evaluate(sensor, env, None)
    assert len(env["audit"].alerts(severity="CRITICAL")) == 1
