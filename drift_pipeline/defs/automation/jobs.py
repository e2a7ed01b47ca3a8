"""Operational jobs: baseline reset and review per model, and retention (all launchable with typed config)."""

import datetime as dt
from collections import Counter
from functools import cache

import dagster as dg
from pydantic import Field

from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig, ProductionData, Results
from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.profile import ReferenceProfile
from drift_pipeline.lib.retention import apply_retention, plan_retention
from drift_pipeline.lib.sources import DataError, Window

RESET_DAYS = 7
"""SPEC §6: a reset builds the new baseline from the last 7 days."""


def baseline_reset_job_name(model: str) -> str:
    return f"{model}_baseline_reset_job"


def baseline_review_job_name(model: str) -> str:
    return f"{model}_baseline_review_job"


class BaselineResetConfig(dg.Config):
    """Who resets the baseline, why, and from which days (default: the last 7 days up to yesterday)."""

    actor: str = Field(description="Who asks for the reset (recorded in the audit store).")
    reason: str = Field(description="Why the current baseline no longer represents normal (recorded).")
    window_start: str | None = Field(default=None, description="First day YYYY-MM-DD (default: window_end - days + 1).")
    window_end: str | None = Field(default=None, description="Last day YYYY-MM-DD (default: yesterday, "
                                                             "or the model's last partition if earlier).")
    days: int = Field(default=RESET_DAYS, ge=1, description="Window length when window_start is not given.")


def reset_window(config: ModelConfig, run_config: BaselineResetConfig, today: dt.date) -> Window:
    """The days the new baseline is built from (raises ``DataError`` naming the model and the problem)."""
    try:
        end = (dt.date.fromisoformat(run_config.window_end) if run_config.window_end
               else min(today - dt.timedelta(days=1), config.partitioning.end))
        start = (dt.date.fromisoformat(run_config.window_start) if run_config.window_start
                 else end - dt.timedelta(days=run_config.days - 1))
    except ValueError as exc:
        raise DataError(f"{config.name}: baseline reset window is not YYYY-MM-DD ({exc})") from None
    if end < start:
        raise DataError(f"{config.name}: baseline reset window ends {end} before it starts {start}")
    return Window(start, end)


def build_baseline_reset_job(config: ModelConfig) -> dg.JobDefinition:
    """``<model>_baseline_reset_job``: a new active baseline version from a chosen window."""
    name = config.name

    @dg.op(name=f"{name}_baseline_reset", description=f"Build, register and activate a new {name} baseline.")
    def baseline_reset(context: dg.OpExecutionContext, config: BaselineResetConfig,
                       monitoring_config: MonitoringConfig, production_data: ProductionData, results: Results,
                       audit_trail: AuditTrail) -> str:
        """Profile the window's production rows, register and activate the version, and repoint drift assets to it."""
        cfg, policy, store, audit = (monitoring_config.model(name), monitoring_config.policy(), results.store(),
                                     audit_trail.store())
        try:
            window = reset_window(cfg, config, dt.datetime.now(dt.UTC).date())
            rows = production_data.read_window(cfg, window)
        except DataError as exc:
            raise dg.Failure(description=str(exc)) from None
        if len(rows) < policy.data_drift.min_sample_size:
            raise dg.Failure(description=f"{name}: baseline reset window {window.label} holds {len(rows)} rows, "
                                         f"fewer than data_drift.min_sample_size = {policy.data_drift.min_sample_size}")
        profile = ReferenceProfile.build(rows, cfg.schema_types(cfg.monitored_columns), policy.data_drift)
        version = audit.next_baseline_version(name, window.end, profile.fingerprint)
        directory = store.path(name, "reference_profile", version, "d")
        profile.save(directory)
        audit.register_baseline(model=name, version=version, window_start=window.start, window_end=window.end,
                                profile_fingerprint=profile.fingerprint, created_by=config.actor,
                                reason=config.reason, activate=True)
        # Registering an existing (version, fingerprint) is a no-op, so activate explicitly (a roll-forward).
        audit.activate_baseline(name, version, actor=config.actor, reason=config.reason)
        store.write_json(name, "reference_profile", None,
                         {"version": version, "fingerprint": profile.fingerprint, "directory": str(directory)})
        context.add_output_metadata({"baseline_version": version, "window": window.label,
                                     "rows": dg.MetadataValue.int(len(rows)), "actor": config.actor,
                                     "reason": config.reason, "profile_fingerprint": profile.fingerprint[:16]})
        return version

    @dg.job(name=baseline_reset_job_name(name), tags={"model": name},
            description=f"Reset the {name} baseline from a chosen window (default: the last {RESET_DAYS} days).")
    def reset_job():
        baseline_reset()

    return reset_job


def build_baseline_review_job(config: ModelConfig) -> dg.JobDefinition:
    """``<model>_baseline_review_job``: what the monthly review needs to decide on a reset."""
    name = config.name

    @dg.op(name=f"{name}_baseline_review", description=f"Summarise the {name} baseline and last month's alerts.")
    def baseline_review(context: dg.OpExecutionContext, audit_trail: AuditTrail) -> dict:
        """Active version, its age, archived versions, and last month's alerts by family and severity."""
        audit = audit_trail.store()
        now = dt.datetime.now(dt.UTC)
        since = (now.date().replace(day=1) - dt.timedelta(days=1)).replace(day=1)
        active = audit.active_baseline(name)
        alerts = audit.alerts(model=name, severity=["WARNING", "CRITICAL"], since=since, until=now.date().replace(day=1))
        counts = dict(Counter(f"{alert['family']}_{alert['severity'].lower()}" for alert in alerts))
        review = {
            "active_version": active["version"] if active else None,
            "active_window": f"{active['window_start']} .. {active['window_end']}" if active else None,
            "activated_at": active["activated_at"] if active else None,
            "versions": len(audit.baselines(name)),
            "alerts_last_month": counts,
        }
        context.add_output_metadata({**{k: str(v) for k, v in review.items() if k != "alerts_last_month"},
                                     **{k: dg.MetadataValue.int(v) for k, v in counts.items()},
                                     "next_step": f"if last month's shift is the new normal, launch "
                                                  f"{baseline_reset_job_name(name)} with actor and reason"})
        return review

    @dg.job(name=baseline_review_job_name(name), tags={"model": name},
            description=f"Monthly review of the active {name} baseline (SPEC §5).")
    def review_job():
        baseline_review()

    return review_job


class RetentionConfig(dg.Config):
    """``dry_run`` lists what is past retention without deleting anything."""

    dry_run: bool = False


@dg.op(description="Apply policy.yaml retention_days to per-partition files; report audit rows, never delete them.")
def retention(context: dg.OpExecutionContext, config: RetentionConfig, monitoring_config: MonitoringConfig,
              results: Results, audit_trail: AuditTrail) -> dict:
    """Delete result files and report folders written before the monitoring-records window; count old audit rows."""
    plan = plan_retention(monitoring_config.policy().retention_days, results_root=results.store().root,
                          reports_root=results.reports_dir(), now=dt.datetime.now(dt.UTC),
                          audit_store=audit_trail.store())
    summary = plan.as_dict()
    summary["removed"] = {"result_files": 0, "report_dirs": 0} if config.dry_run else apply_retention(plan)
    context.add_output_metadata({"dry_run": config.dry_run, "result_files_past_retention": len(plan.files),
                                 "report_dirs_past_retention": len(plan.report_dirs),
                                 "removed": str(summary["removed"]),
                                 "audit_rows_past_retention_kept": str(plan.audit_past_retention),
                                 "notes": "; ".join(plan.notes) or "none"})
    return summary


@cache
def retention_job() -> dg.JobDefinition:
    @dg.job(name="retention_job", description="Retention (SPEC §6): prune old per-partition files and reports; "
                                              "incidents, baselines and the audit chain are never deleted.")
    def retention_job_def():
        retention()

    return retention_job_def
