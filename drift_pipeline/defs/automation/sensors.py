"""Sensors: data arrival per model, alert notifications, and monitoring the monitor.

Every sensor keeps its progress in its cursor and requests runs with a ``run_key``, so a
daemon restart or a repeated tick never launches the same work or sends the same message twice.
"""

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from pydantic import Field

from drift_pipeline.defs.ingestion.assets import ARRIVED_FILE_TAG
from drift_pipeline.defs.automation.schedules import CRON, TIMEZONE, partitions_for_tick, routine_cadence
from drift_pipeline.defs.jobs import monitoring_job_name
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig
from drift_pipeline.lib import project
from drift_pipeline.lib.arrival import Arrival, scan_folder
from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.notify import DeliveryLedger, Dispatcher, channels_from_settings

PIPELINE = "drift_pipeline"
"""The ``model`` recorded on alerts about the pipeline itself (a run of no particular model)."""
ANALYSIS_SLA_HOURS = 12
"""SPEC §6: an analysis that has not completed 12 hours after its schedule alerts."""
DEFAULT_INTERVAL_SECONDS = 60
Clock = Callable[[], dt.datetime]


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class IncomingFiles(dg.ConfigurableResource):
    """The folders where production files arrive: ``<root>/<model>/YYYY-MM-DD.csv|parquet``."""

    root: str | None = Field(default=None, description="Default: var/incoming under the project (or $DRIFT_PIPELINE_VAR).")
    late_after_hours: int = Field(default=24 + int(CRON["daily"].split()[1]), ge=0,
                                  description="Hours after midnight UTC ending the file's day by which it is on "
                                              "time (default: the daily analysis, 02:00 the next day).")

    def folder(self, model: str) -> Path:
        return (Path(self.root) if self.root else project.var_dir() / "incoming") / model


class Notifications(dg.ConfigurableResource):
    """Where alerts are sent; each channel optional, bound from DRIFT_PIPELINE_* environment variables."""

    slack_webhook: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_to: str | None = Field(default=None, description="Comma-separated recipients.")
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    digest_hour_utc: int = Field(default=int(CRON["daily"].split()[1]), ge=0, le=23,
                                 description="From this hour (UTC) the day's WARNING digest is sent.")
    max_attempts: int = Field(default=3, ge=1, description="Sends tried per alert and channel before giving up.")

    def channels(self) -> list:
        return channels_from_settings(
            slack_webhook=self.slack_webhook, smtp_host=self.smtp_host, smtp_port=self.smtp_port,
            smtp_from=self.smtp_from, smtp_to=self.smtp_to, smtp_username=self.smtp_username,
            smtp_password=self.smtp_password, smtp_starttls=self.smtp_starttls)


def _operations_alert(audit_trail: AuditTrail, monitoring_config: MonitoringConfig, *, model: str, partition: str,
                      run_id: str, key: str, metric: str, severity: str, message: str, input_files=()) -> int:
    """Record an alert about the pipeline itself; ``key`` makes it idempotent (it stands in for a data fingerprint)."""
    from drift_pipeline.lib.audit import AlertIn

    models = monitoring_config.models()
    config_hash = monitoring_config.config_hash(model) if model in models else "n/a"
    outcome = audit_trail.store().record_alerts([AlertIn(
        model=model, partition=partition, run_id=run_id, data_fingerprint=key, config_hash=config_hash,
        code_version=project.code_version(), family="operations", metric=metric, severity=severity,
        message=message, input_files=list(input_files), band="", rule="SPEC §6 monitoring the monitor")])
    return outcome.ids[0]


# --------------------------------------------------------------------------- data arrival


def arrival_sensor_name(model: str) -> str:
    return f"{model}_arrival_sensor"


def build_arrival_sensor(config: ModelConfig, *, interval_seconds: int = DEFAULT_INTERVAL_SECONDS) -> dg.SensorDefinition:
    """One run per newly arrived partition file of ``config``'s model; bad or late files become alerts."""
    name = config.name
    sensor_name = arrival_sensor_name(name)

    @dg.sensor(name=sensor_name, job_name=monitoring_job_name(name), minimum_interval_seconds=interval_seconds,
               description=f"Watches {name}'s incoming folder; one run per new YYYY-MM-DD file, alerts on bad or "
                           "late files.")
    def arrival_sensor(context: dg.SensorEvaluationContext, incoming: IncomingFiles,
                       monitoring_config: MonitoringConfig, audit_trail: AuditTrail):
        """Request a run for each new or corrected day file; record malformed and late files as alerts."""
        cfg = monitoring_config.model(name)
        state = json.loads(context.cursor) if context.cursor else {}
        folder = incoming.folder(name)
        scan = scan_folder(folder, cfg, state, first=cfg.partitioning.start, last=cfg.partitioning.end,
                           deadline_after_day=dt.timedelta(hours=incoming.late_after_hours))
        requests, notes = [], []
        for arrival in scan.arrivals:
            notes.append(arrival.describe())
            if not arrival.ok or arrival.late_by is not None:
                _record_arrival_alert(arrival, name, sensor_name, audit_trail, monitoring_config)
            if arrival.ok:
                requests.append(dg.RunRequest(
                    run_key=f"{name}:{arrival.partition}:{arrival.fingerprint[:16]}", partition_key=arrival.partition,
                    tags={ARRIVED_FILE_TAG: str(arrival.path),
                          "drift_pipeline/file_sha256": arrival.fingerprint[:16]}))
        cursor = json.dumps(scan.state, sort_keys=True)
        if requests:
            return dg.SensorResult(run_requests=requests, cursor=cursor)
        reason = "; ".join(notes) if notes else f"no new file in {folder}"
        return dg.SensorResult(skip_reason=dg.SkipReason(reason), cursor=cursor)

    return arrival_sensor


def _record_arrival_alert(arrival: Arrival, model: str, sensor_name: str, audit_trail: AuditTrail,
                          monitoring_config: MonitoringConfig) -> int:
    malformed = not arrival.ok
    return _operations_alert(
        audit_trail, monitoring_config, model=model, partition=arrival.partition or arrival.path.stem,
        run_id=f"sensor:{sensor_name}", key=f"file:{arrival.fingerprint}",
        metric="malformed_file" if malformed else "late_file", severity="CRITICAL" if malformed else "WARNING",
        message=arrival.describe() if not malformed else "; ".join(arrival.problems) + " (no run requested)",
        input_files=[str(arrival.path)])


# --------------------------------------------------------------------------- notifications


def build_notification_sensor(*, clock: Clock = _utc_now,
                              interval_seconds: int = DEFAULT_INTERVAL_SECONDS) -> dg.SensorDefinition:
    """CRITICAL alerts at once (and an incident), WARNING in the daily digest; cursor = last alert id."""

    @dg.sensor(name="alert_notification_sensor", minimum_interval_seconds=interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Notifies new WARNING/CRITICAL alerts exactly once (CRITICAL at once with an incident, "
                           "WARNING in a daily digest); suppressed alerts are recorded, not sent.")
    def alert_notification_sensor(context: dg.SensorEvaluationContext, notifications: Notifications,
                                  audit_trail: AuditTrail):
        """Dispatch the alerts recorded since the cursor, retry failed sends, and send the day's digest when due."""
        store = audit_trail.store()
        ledger = _ledger(audit_trail.resolved_url())
        dispatcher = Dispatcher(store=store, ledger=ledger, channels=notifications.channels(), clock=clock,
                                digest_hour=notifications.digest_hour_utc, max_attempts=notifications.max_attempts)
        outcome = dispatcher.process(int(context.cursor) if context.cursor else 0)
        context.update_cursor(str(outcome.cursor))
        for problem in outcome.failures:
            context.log.warning(problem)
        return dg.SkipReason(outcome.summary)

    return alert_notification_sensor


_LEDGERS: dict[str, DeliveryLedger] = {}


def _ledger(url: str) -> DeliveryLedger:
    if url not in _LEDGERS:
        _LEDGERS[url] = DeliveryLedger(url)
    return _LEDGERS[url]


# --------------------------------------------------------------------------- monitoring the monitor


def build_run_failure_sensor() -> dg.SensorDefinition:
    """Every failed run of this code location becomes a CRITICAL operations alert."""

    @dg.run_failure_sensor(name="run_failure_alert_sensor", default_status=dg.DefaultSensorStatus.RUNNING,
                           description="Records a CRITICAL operations alert (and so an incident and a message) for "
                                       "every failed run.")
    def run_failure_alert_sensor(context: dg.RunFailureSensorContext, monitoring_config: MonitoringConfig,
                                 audit_trail: AuditTrail):
        """Record the failed run, its job, partition and first error line in the audit store."""
        run = context.dagster_run
        model = next((m for m in monitoring_config.models() if run.job_name.startswith(f"{m}_")), PIPELINE)
        error = (context.failure_event.message or "run failed").strip().splitlines()[0]
        partition = run.tags.get("dagster/partition") or run.tags.get("dagster/asset_partition_range_start") or "-"
        _operations_alert(audit_trail, monitoring_config, model=model, partition=partition, run_id=run.run_id,
                          key=f"run:{run.run_id}", metric="run_failure", severity="CRITICAL",
                          message=f"run {run.run_id} of {run.job_name} (partition {partition}) failed: {error}")

    return run_failure_alert_sensor


def build_overdue_analysis_sensor(configs: list[ModelConfig], policy, *, clock: Clock = _utc_now,
                                  interval_seconds: int = 15 * 60) -> dg.SensorDefinition:
    """Alerts when a scheduled analysis has not succeeded within 12 hours of its tick."""
    crons = {c.name: CRON[routine_cadence(c, policy)] for c in configs}

    @dg.sensor(name="overdue_analysis_sensor", minimum_interval_seconds=interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description=f"Alerts (CRITICAL) when a scheduled analysis has not completed {ANALYSIS_SLA_HOURS} h "
                           "after its tick.")
    def overdue_analysis_sensor(context: dg.SensorEvaluationContext, monitoring_config: MonitoringConfig,
                                audit_trail: AuditTrail):
        """For each model's latest tick older than the SLA, alert once per partition without a successful run."""
        now = clock()
        cursor = json.loads(context.cursor) if context.cursor else {}
        notes = []
        for config in configs:
            tick = _latest_tick(crons[config.name], now - dt.timedelta(hours=ANALYSIS_SLA_HOURS))
            if tick is None or cursor.get(config.name, "") >= tick.isoformat():
                continue
            keys, _ = partitions_for_tick(config, routine_cadence(config, policy), tick)
            for key in keys:
                if not _succeeded(context.instance, monitoring_job_name(config.name), key):
                    alert_id = _operations_alert(
                        audit_trail, monitoring_config, model=config.name, partition=key,
                        run_id="sensor:overdue_analysis_sensor", key=f"tick:{tick.isoformat()}",
                        metric="analysis_overdue", severity="CRITICAL",
                        message=f"{config.name} {key}: the analysis scheduled at {tick.isoformat()} has not completed "
                                f"within {ANALYSIS_SLA_HOURS} h (no successful run of "
                                f"{monitoring_job_name(config.name)} for this partition)")
                    notes.append(f"{config.name} {key} overdue (alert #{alert_id})")
            cursor[config.name] = tick.isoformat()
        context.update_cursor(json.dumps(cursor, sort_keys=True))
        return dg.SkipReason("; ".join(notes) or "every scheduled analysis past its deadline has completed")

    return overdue_analysis_sensor


def _latest_tick(cron: str, before: dt.datetime) -> dt.datetime | None:
    """The latest tick of ``cron`` at or before ``before`` (looking back one month, the longest gap)."""
    from dagster._utils.schedules import cron_string_iterator  # no public API for past ticks

    start = before - dt.timedelta(days=32)
    latest = None
    for tick in cron_string_iterator(start.timestamp(), cron, TIMEZONE):
        if tick > before:
            break
        latest = tick
    return latest.astimezone(dt.UTC) if latest else None


def _succeeded(instance: dg.DagsterInstance, job_name: str, partition: str) -> bool:
    """Whether any run of ``job_name`` (scheduled, sensor or launchpad) succeeded on ``partition``."""
    records = instance.get_run_records(
        dg.RunsFilter(job_name=job_name, tags={"dagster/partition": partition},
                      statuses=[dg.DagsterRunStatus.SUCCESS]), limit=1)
    return bool(records)
