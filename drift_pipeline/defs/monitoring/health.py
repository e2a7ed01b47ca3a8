"""Per-model health: every signal family judged by the policy, the composite, alerts and checks."""


import dataclasses

import dagster as dg
import pandas as pd

from drift_pipeline.defs.ingestion.assets import asset_key
from drift_pipeline.defs.partitions import partitioned
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig, Results
from drift_pipeline.lib import markdown
from drift_pipeline.lib.config import ModelConfig, Policy
from drift_pipeline.lib.health import (
    data_verdicts,
    explanation_verdicts,
    fairness_verdicts,
    model_health,
    model_verdicts,
)
from drift_pipeline.lib.policy import Severity, Verdict
from drift_pipeline.lib.project import code_version
from drift_pipeline.lib.results import ResultStore

FAMILIES = ("data", "fairness", "model", "explanation")
CHECK_SEVERITY = {"WARNING": dg.AssetCheckSeverity.WARN, "CRITICAL": dg.AssetCheckSeverity.ERROR}


def _verdicts(config: ModelConfig, policy: Policy, store: ResultStore, key: str) -> list[Verdict] | None:
    """Every evaluated family's verdicts for one partition; None when validation blocked it.

    A family whose asset was not run for this partition (a schedule that targets only the
    families due today) is simply not evaluated.
    """
    name = config.name
    if store.read_json_or_empty(name, "validation", key).get("blocked"):
        return None
    drift = store.read_json_or_empty(name, "feature_drift", key)
    verdicts = (data_verdicts(store.read_frame(name, "feature_drift", key), policy, model=name)
                if drift.get("status") == "ok" else [])
    performance = store.read_json_or_empty(name, "model_performance", key)
    if performance.get("status") not in (None, "blocked"):
        verdicts += model_verdicts(
            policy, model=name,
            accuracy_drop=performance.get("accuracy_drop"),
            prediction_distribution_shift=performance.get("prediction_distribution_shift"),
            output_entropy_change=performance.get("output_entropy_change"),
        )
    if config.protected_columns:
        fairness = store.read_json_or_empty(name, "fairness_metrics", key)
        if fairness.get("status") == "ok":
            verdicts += fairness_verdicts(pd.DataFrame(fairness["drift"]), policy, model=name)
    explanation = store.read_json_or_empty(name, "explanation_drift", key)
    if explanation.get("status") == "ok":
        verdicts += explanation_verdicts(explanation.get("spearman"), policy, model=name)
    return verdicts


def _as_json(verdict: Verdict) -> dict:
    return {**dataclasses.asdict(verdict), "severity": verdict.severity.name}


def build_health_assets(config: ModelConfig) -> list[dg.AssetsDefinition]:
    """``model_health`` (composite) and ``drift_alerts`` (audit records) of one model."""
    name = config.name
    upstream = [asset_key(name, a) for a in ("feature_drift", "model_performance", "explanation_drift")]
    if config.protected_columns:
        upstream.append(asset_key(name, "fairness_metrics"))
    ranged = partitioned(config)

    @dg.asset(key=asset_key(name, "model_health"), deps=upstream, **ranged)
    def health(context: dg.AssetExecutionContext, monitoring_config: MonitoringConfig,
               results: Results) -> dg.MaterializeResult:
        """Composite health (0.4 fairness, 0.3 data, 0.2 model, 0.1 explanation) with every metric judged by the policy."""
        cfg, policy, store = monitoring_config.model(name), monitoring_config.policy(), results.store()
        for key in context.partition_keys:
            verdicts = _verdicts(cfg, policy, store, key)
            if verdicts is None:
                reason = store.read_json(name, "validation", key).get("blocked", "")
                store.write_json(name, "model_health", key, {"status": "blocked", "reason": reason,
                                                             "severity": "CRITICAL"})
                context.add_asset_metadata({"status": "blocked by validation", "severity": "CRITICAL",
                                            "reason": reason}, partition_key=key)
                continue
            summary = model_health(verdicts, policy, model=name)
            store.write_json(name, "model_health", key, {
                "status": "ok", "severity": summary.severity.name, "composite": summary.composite,
                "family_scores": summary.family_scores, "not_evaluated": summary.not_evaluated,
                "family_severity": {f: max((v.severity for v in verdicts if v.family == f),
                                           default=Severity.INFO).name for f in FAMILIES},
                "verdicts": [_as_json(v) for v in verdicts],
            })
            context.add_asset_metadata({
                "severity": summary.severity.name,
                "composite_score": round(summary.composite, 4),
                **{f"{f}_score": None if s is None else round(s, 4) for f, s in summary.family_scores.items()},
                "alerts": dg.MetadataValue.int(len(summary.alerts)),
                "summary": dg.MetadataValue.md(summary.markdown),
            }, partition_key=key)
        return dg.MaterializeResult()

    @dg.asset(key=asset_key(name, "drift_alerts"), deps=[health.key], **ranged)
    def drift_alerts(
        context: dg.AssetExecutionContext,
        monitoring_config: MonitoringConfig,
        results: Results,
        audit_trail: AuditTrail,
    ) -> dg.MaterializeResult:
        """Every judged metric and every WARNING/CRITICAL finding of each partition, recorded in the audit store with full lineage."""
        from drift_pipeline.lib.audit import AlertIn, MetricIn

        store, audit = results.store(), audit_trail.store()
        config_hash = monitoring_config.config_hash(name)
        baseline = store.read_json(name, "reference_profile", None)["version"]
        for key in context.partition_keys:
            health_record = store.read_json(name, "model_health", key)
            batch = store.read_json(name, "production_batch", key)
            lineage = {"model": name, "partition": key, "run_id": context.run_id,
                       "data_fingerprint": batch["data_fingerprint"], "config_hash": config_hash,
                       "baseline_version": baseline, "code_version": code_version(),
                       "input_files": batch.get("input_files", [])}
            metrics = [MetricIn(family=v["family"], metric=v["metric"], feature=v["feature"], value=v["value"],
                                details={"severity": v["severity"], "significant": v.get("significant", True),
                                         "band": v["band"]}, **lineage)
                       for v in health_record.get("verdicts", []) if v["value"] is not None]
            if health_record.get("status") == "ok":
                metrics.append(MetricIn(family="composite", metric="composite_score", value=health_record["composite"],
                                        details={"severity": health_record["severity"]}, **lineage))
            audit.record_metrics(metrics)  # every judged value, with the same lineage as the alerts
            flagged = [v for v in health_record.get("verdicts", []) if v["severity"] != "INFO"]
            if health_record.get("status") == "ok" and health_record["severity"] == "CRITICAL":
                flagged.append({"family": "composite", "metric": "composite_score", "feature": None,
                                "value": health_record["composite"], "severity": "CRITICAL",
                                "band": f"CRITICAL > {monitoring_config.policy().composite.critical_above:g}",
                                "rule": "policy.composite.critical_above"})
            alerts = [
                AlertIn(family=v["family"], metric=v["metric"], feature=v["feature"], value=v["value"],
                        severity=v["severity"], band=v["band"], rule=v["rule"],
                        message=f"{name} {key}: {v['family']}.{v['metric']}"
                                + (f" ({v['feature']})" if v["feature"] else "")
                                + (f" = {v['value']:.4g}" if v["value"] is not None else "")
                                + f" is {v['severity']} ({v['band']}; rule {v['rule']})",
                        **lineage)
                for v in flagged
            ]
            outcome = audit.record_alerts(alerts)
            records = [{"alert_id": i, "family": a.family, "metric": a.metric, "feature": a.feature or "",
                        "value": a.value, "severity": a.severity, "band": a.band, "rule": a.rule}
                       for i, a in zip(outcome.ids, alerts, strict=True)]
            validation_alerts = [a["id"] for a in audit.alerts(model=name, partition=key) if a["family"] == "validation"]
            store.write_json(name, "drift_alerts", key, {
                "status": health_record.get("status", "ok"), "alerts": records, "validation_alert_ids":
                validation_alerts, "baseline_version": baseline, "config_hash": config_hash,
                "run_id": context.run_id,
            })
            counts = {s: sum(r["severity"] == s for r in records) for s in ("CRITICAL", "WARNING")}
            counts["CRITICAL"] += len(validation_alerts)
            context.add_asset_metadata({
                "alerts_critical": dg.MetadataValue.int(counts["CRITICAL"]),
                "alerts_warning": dg.MetadataValue.int(counts["WARNING"]),
                "new_alerts_recorded": dg.MetadataValue.int(len(outcome.inserted_ids)),
                "audit_alert_ids": ", ".join(map(str, list(outcome.ids) + validation_alerts)) or "none",
                "baseline_version": baseline,
                "config_hash": config_hash,
                "code_version": code_version(),
                "data_fingerprint": batch["data_fingerprint"][:16],
                "alerts": dg.MetadataValue.md(markdown.table(records) if records
                                              else "No WARNING or CRITICAL finding." if not validation_alerts
                                              else "Validation blocked this partition (see production_batch checks)."),
            }, partition_key=key)
        return dg.MaterializeResult()

    return [health, drift_alerts]


def build_health_checks(config: ModelConfig) -> dg.AssetChecksDefinition:
    """One check per family plus the composite on ``<model>/model_health``, mirroring the policy's severity."""
    name = config.name
    health_key = asset_key(name, "model_health")
    checks = {f"{f}_drift_within_policy": f for f in FAMILIES} | {"composite_within_policy": "composite"}
    specs = [dg.AssetCheckSpec(check, asset=health_key,
                               description=f"{family.capitalize()} signals are below WARNING in config/policy.yaml."
                               if family != "composite" else "The composite health score is below WARNING.")
             for check, family in checks.items()]

    @dg.multi_asset_check(specs=specs, can_subset=True, name=f"{name}_model_health_checks")
    def model_health_checks(context: dg.AssetCheckExecutionContext, results: Results):
        """Per-partition checks whose severity mirrors the policy: WARN for WARNING, ERROR for CRITICAL."""
        store = results.store()
        for key in context.partition_keys:
            record = store.read_json(name, "model_health", key)
            for check, family in checks.items():
                if record.get("status") != "ok":
                    severity, note = "CRITICAL", f"blocked by validation: {record.get('reason', '')}"
                elif family == "composite":
                    severity, note = record["severity"], f"composite {record['composite']:.3f}"
                else:
                    severity = record["family_severity"][family]
                    worst = [v for v in record["verdicts"] if v["family"] == family and v["severity"] == severity]
                    note = "; ".join(f"{v['metric']}{'(' + v['feature'] + ')' if v['feature'] else ''}="
                                     f"{v['value']:.4g}" for v in worst[:5] if v["value"] is not None)
                    if family in record.get("not_evaluated", []):
                        note = "not evaluated on this partition"
                yield dg.AssetCheckEvaluation(
                    asset_key=health_key, check_name=check, passed=severity == "INFO",
                    severity=CHECK_SEVERITY.get(severity, dg.AssetCheckSeverity.WARN),
                    description=f"{severity}: {note}" if note else severity, partition=key,
                    metadata={"severity": severity, "partition": key},
                )

    return model_health_checks
