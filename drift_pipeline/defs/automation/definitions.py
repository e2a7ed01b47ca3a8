"""Schedules, sensors and operational jobs for every model in the config folder."""

import os
from pathlib import Path

import dagster as dg

from drift_pipeline.defs.automation.jobs import build_baseline_reset_job, build_baseline_review_job, retention_job
from drift_pipeline.defs.automation.schedules import (
    build_analysis_schedule,
    build_baseline_review_schedule,
    build_retention_schedule,
)
from drift_pipeline.defs.automation.sensors import (
    IncomingFiles,
    Notifications,
    build_arrival_sensor,
    build_notification_sensor,
    build_overdue_analysis_sensor,
    build_run_failure_sensor,
)
from drift_pipeline.lib import project
from drift_pipeline.lib.config import load_model_configs, load_policy

ENV = {
    "slack_webhook": "DRIFT_PIPELINE_SLACK_WEBHOOK",
    "smtp_host": "DRIFT_PIPELINE_SMTP_HOST",
    "smtp_port": "DRIFT_PIPELINE_SMTP_PORT",
    "smtp_from": "DRIFT_PIPELINE_SMTP_FROM",
    "smtp_to": "DRIFT_PIPELINE_SMTP_TO",
    "smtp_username": "DRIFT_PIPELINE_SMTP_USERNAME",
    "smtp_password": "DRIFT_PIPELINE_SMTP_PASSWORD",
    "smtp_starttls": "DRIFT_PIPELINE_SMTP_STARTTLS",
    "digest_hour_utc": "DRIFT_PIPELINE_DIGEST_HOUR_UTC",
}
"""Notification settings and their environment variables (each optional)."""


def notifications_from_env() -> Notifications:
    """Bind each channel setting to its ``dg.EnvVar`` when that variable is set (values resolve at run time).

    Unset variables leave the channel off, so a deployment without Slack or SMTP still loads.
    """
    bound = {field: (dg.EnvVar.int(var) if field in ("smtp_port", "digest_hour_utc") else dg.EnvVar(var))
             for field, var in ENV.items() if var != ENV["smtp_starttls"] and os.environ.get(var)}
    if os.environ.get(ENV["smtp_starttls"], "").lower() in ("1", "true", "yes"):
        bound["smtp_starttls"] = True
    return Notifications(**bound)


def build_automation_definitions(config_dir: Path, *, incoming_root: str | None = None,
                                 notifications: Notifications | None = None, clock=None) -> dg.Definitions:
    """Every model's schedules, sensors and jobs over ``config_dir`` (merge with the asset definitions)."""
    models = load_model_configs(config_dir)
    policy = load_policy(config_dir)
    clocked = {"clock": clock} if clock else {}
    jobs = [retention_job()]
    schedules = [build_retention_schedule()]
    sensors = [build_notification_sensor(**clocked), build_run_failure_sensor(),
               build_overdue_analysis_sensor(list(models.values()), policy, **clocked)]
    for config in models.values():
        jobs += [build_baseline_reset_job(config), build_baseline_review_job(config)]
        schedules += [build_analysis_schedule(config, policy), build_baseline_review_schedule(config)]
        sensors.append(build_arrival_sensor(config))
    return dg.Definitions(jobs=jobs, schedules=schedules, sensors=sensors, resources={
        "incoming": IncomingFiles(root=incoming_root),
        "notifications": notifications or notifications_from_env(),
    })


@dg.definitions
def automation() -> dg.Definitions:
    return build_automation_definitions(project.PROJECT_ROOT / "config")
