"""Decision-stream checks (SPEC §7) for models whose source is the decision log."""


import datetime as dt

import dagster as dg

from drift_pipeline.defs.partitions import daily_partitions
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig
from drift_pipeline.lib import project
from drift_pipeline.lib.audit import AlertIn, chain
from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.decision_checks import CHECKS, assess_decision_stream
from drift_pipeline.lib.decision_source import decision_records
from drift_pipeline.lib.sources import partition_window, reference_window

CHECK_NAMES = {
    "prediction_share_change": "decision_prediction_shares_are_stable",
    "top_entity_share": "decision_entities_are_not_concentrated",
    "mean_confidence_change": "decision_confidence_is_stable",
    "volume_ratio": "decision_volume_is_within_bounds",
}
CHECK_DESCRIPTIONS = {
    "prediction_share_change": "No prediction category's share moved more than the policy allows versus the reference.",
    "top_entity_share": "No single actor took more than the policy's share of the window's decisions.",
    "mean_confidence_change": "Mean confidence moved no more than the policy allows versus the reference.",
    "volume_ratio": "The day's decision volume stays within the policy's ratio of the reference daily mean.",
}


def decision_stream_job_name(model: str) -> str:
    return f"{model}_decision_stream_job"


def build_decision_stream_asset(config: ModelConfig) -> dg.AssetsDefinition:
    """``<model>/decision_stream``: the four SPEC §7 checks per day, WARNING alerts in the audit store."""
    name = config.name
    key = dg.AssetKey([name, "decision_stream"])
    specs = [dg.AssetCheckSpec(CHECK_NAMES[c], asset=key, description=CHECK_DESCRIPTIONS[c]) for c in CHECKS]

    @dg.asset(key=key, group_name=name, partitions_def=daily_partitions(config), check_specs=specs,
              kinds={"pandas"}, tags={"risk_level": config.risk_level})
    def decision_stream(context: dg.AssetExecutionContext, monitoring_config: MonitoringConfig,
                        audit_trail: AuditTrail) -> dg.MaterializeResult:
        """One day's decision stream checked against the reference window: shares, entities, confidence, volume."""
        cfg, partition = monitoring_config.model(name), context.partition_key
        settings, store = monitoring_config.policy().decision_stream, audit_trail.store()
        ref, window = reference_window(cfg), partition_window(cfg, partition)
        day = dt.date.fromisoformat(partition)
        reference = decision_records(name, store=store, since=ref.start, until=ref.end + dt.timedelta(days=1))
        current = decision_records(name, store=store, since=window.start, until=day + dt.timedelta(days=1))
        findings = assess_decision_stream(
            reference_predictions=list(reference["prediction"]), reference_confidences=list(reference["confidence"]),
            reference_days=(ref.end - ref.start).days + 1, window_predictions=list(current["prediction"]),
            window_confidences=list(current["confidence"]), window_entities=list(current["actor"]),
            day_count=int((current["timestamp"].dt.date == day).sum()), settings=settings)
        fingerprint = chain.sha256_hex(",".join(sorted([*reference["record_hash"], *current["record_hash"]])))
        baseline = store.active_baseline(name)
        breaches = [f for f in findings if f.status == "breach"]
        store.record_alerts([AlertIn(
            model=name, partition=partition, run_id=context.run_id, data_fingerprint=fingerprint,
            config_hash=monitoring_config.config_hash(name), code_version=project.code_version(),
            baseline_version=baseline["version"] if baseline else None, family="decision_stream", metric=f.check,
            value=f.value, severity=settings.severity, band=f.threshold, rule=f"policy.decision_stream ({f.check})",
            message=f"{name} {partition}: decision stream {f.check}: {f.detail} ({f.threshold})",
        ) for f in breaches])
        return dg.MaterializeResult(
            metadata={"window": window.label, "decisions_in_window": len(current), "reference_decisions": len(reference),
                      "breaches": len(breaches), "data_fingerprint": fingerprint},
            check_results=[dg.AssetCheckResult(
                check_name=CHECK_NAMES[f.check], passed=f.passed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"value": f.value, "threshold": f.threshold, "status": f.status, "detail": f.detail},
            ) for f in findings],
        )

    return decision_stream


def decision_stream_definitions(models: dict[str, ModelConfig]) -> dg.Definitions:
    """The decision-stream asset and job of every model whose source is the decision log."""
    assets = [build_decision_stream_asset(c) for c in models.values() if c.source.kind == "decision_log"]
    jobs = [dg.define_asset_job(decision_stream_job_name(a.key.path[0]), selection=dg.AssetSelection.assets(a),
                                description=f"Decision-stream checks of {a.key.path[0]} (SPEC §7).")
            for a in assets]
    return dg.Definitions(assets=assets, jobs=jobs)
