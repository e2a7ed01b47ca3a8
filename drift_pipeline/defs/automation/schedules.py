"""Schedules derived from each model's risk level (SPEC §5, ``policy.yaml`` ``cadence``).

- ``<model>_analysis_schedule`` runs the model's per-partition chain at the fastest cadence its
  risk level asks for (daily 02:00 UTC; weekly or bi-weekly Sunday 03:00 UTC; monthly on the
  1st 04:00 UTC), one run per partition since the previous tick, up to yesterday. Each run
  materialises validation, only the signal families due that day (``due_on``), then health,
  alerts and reports; ``model_health`` treats a family not run as not evaluated. The families
  due are also recorded on the run (tag ``drift_pipeline/families_due``).
- ``<model>_baseline_review_schedule`` reviews the active baseline on the 1st at 04:00 UTC.
- ``retention_schedule`` applies retention once a month, after the reviews.
"""

import datetime as dt

import dagster as dg

from drift_pipeline.defs.automation.jobs import baseline_review_job_name, retention_job
from drift_pipeline.defs.jobs import monitoring_job_name
from drift_pipeline.lib.config import ModelConfig, Policy
from drift_pipeline.lib.policy import due_on

TIMEZONE = "UTC"
CRON = {"daily": "0 2 * * *", "weekly": "0 3 * * 0", "biweekly": "0 3 * * 0", "monthly": "0 4 1 * *"}
"""SPEC §5: daily analysis 02:00, weekly deep analysis Sunday 03:00, monthly on the 1st 04:00 (UTC)."""
BASELINE_REVIEW_CRON = CRON["monthly"]
RETENTION_CRON = "30 4 1 * *"
ORDER = ("daily", "weekly", "biweekly", "monthly")
FAMILIES_TAG = "drift_pipeline/families_due"
TICK_TAG = "drift_pipeline/scheduled_for"


def analysis_schedule_name(model: str) -> str:
    return f"{model}_analysis_schedule"


def routine_cadence(config: ModelConfig, policy: Policy) -> str:
    """The fastest cadence any family of this model's risk level asks for."""
    return min(policy.cadence[config.risk_level].values(), key=ORDER.index)


def families_due(config: ModelConfig, policy: Policy, day: dt.date) -> list[str]:
    """Families whose cadence makes them due on partition ``day`` (SPEC §5 via ``due_on``)."""
    families = [f for f, c in policy.cadence[config.risk_level].items() if due_on(c, day)]
    return families if config.protected_columns else [f for f in families if f != "fairness"]


FAMILY_ASSETS = {"data": "feature_drift", "model": "model_performance", "fairness": "fairness_metrics",
                 "explanation": "explanation_drift"}
ALWAYS = ("production_batch", "model_health", "drift_alerts", "drift_report", "partition_summary")


def scheduled_assets(config: ModelConfig, families: list[str]) -> list[dg.AssetKey]:
    """The partitioned assets a scheduled run materialises: validation, the families due, health and reporting."""
    names = [ALWAYS[0], *(FAMILY_ASSETS[f] for f in families), *ALWAYS[1:]]
    return [dg.AssetKey([config.name, n]) for n in names]


def partitions_for_tick(config: ModelConfig, cadence: str, tick: dt.datetime) -> tuple[list[str], str | None]:
    """Partition keys a tick at ``tick`` analyses, and why none when the list is empty.

    Daily: yesterday. Weekly: the seven days up to yesterday. Bi-weekly: the fourteen days up to
    yesterday, on Sundays of even ISO weeks only. Monthly: the previous calendar month. Days outside
    the model's partitions are dropped.
    """
    yesterday = tick.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    if cadence == "biweekly" and tick.astimezone(dt.UTC).date().isocalendar().week % 2:
        return [], f"{config.name}: bi-weekly analysis runs on Sundays of even ISO weeks; {tick.date()} is odd"
    if cadence == "monthly":
        first = yesterday.replace(day=1)
    else:
        first = yesterday - dt.timedelta(days={"daily": 1, "weekly": 7, "biweekly": 14}[cadence] - 1)
    start, end = config.partitioning.start, config.partitioning.end
    days = [first + dt.timedelta(days=i) for i in range((yesterday - first).days + 1)]
    keys = [d.isoformat() for d in days if start <= d <= end]
    if not keys:
        return [], (f"{config.name}: no partition to analyse for the tick of {tick.isoformat()} "
                    f"({first} .. {yesterday} is outside the model's partitions {start} .. {end})")
    return keys, None


def build_analysis_schedule(config: ModelConfig, policy: Policy) -> dg.ScheduleDefinition:
    """The model's routine analysis at the cadence of its risk level, materialising only the families due."""
    name = config.name
    cadence = routine_cadence(config, policy)

    @dg.schedule(name=analysis_schedule_name(name), cron_schedule=CRON[cadence], execution_timezone=TIMEZONE,
                 job_name=monitoring_job_name(name),
                 description=f"{name} ({config.risk_level} risk): {cadence} analysis of the partitions since the "
                             "previous tick, up to yesterday.")
    def analysis_schedule(context: dg.ScheduleEvaluationContext):
        """Request one run per partition due at this tick (run_key per partition, so a tick never repeats)."""
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        keys, reason = partitions_for_tick(config, cadence, tick)
        if not keys:
            return dg.SkipReason(reason)
        return [
            dg.RunRequest(
                run_key=f"{analysis_schedule_name(name)}:{key}",
                partition_key=key,
                asset_selection=scheduled_assets(config, families_due(config, policy, dt.date.fromisoformat(key))),
                tags={FAMILIES_TAG: ",".join(families_due(config, policy, dt.date.fromisoformat(key))),
                      TICK_TAG: tick.astimezone(dt.UTC).isoformat(timespec="minutes"), "risk_level": config.risk_level},
            )
            for key in keys
        ]

    return analysis_schedule


def build_baseline_review_schedule(config: ModelConfig) -> dg.ScheduleDefinition:
    """The monthly baseline review of one model."""
    return dg.ScheduleDefinition(
        name=f"{config.name}_baseline_review_schedule", cron_schedule=BASELINE_REVIEW_CRON,
        execution_timezone=TIMEZONE, job_name=baseline_review_job_name(config.name),
        description=f"{config.name}: monthly review of the active baseline (1st, 04:00 UTC).")


def build_retention_schedule() -> dg.ScheduleDefinition:
    """Monthly retention run after the baseline reviews."""
    return dg.ScheduleDefinition(name="retention_schedule", cron_schedule=RETENTION_CRON,
                                 execution_timezone=TIMEZONE, job=retention_job(),
                                 description="Apply policy.yaml retention_days to result files and reports "
                                             "(audit rows are reported, never deleted).")
