"""Great Expectations validation of each production batch, surfaced as Dagster asset checks.

A single-partition run blocks natively (a failed CRITICAL check stops the drift assets).
A ranged backfill records every partition's verdict and the drift assets skip exactly the
partitions whose CRITICAL checks failed, so one bad day never stops a year of history.
"""


import dagster as dg

from drift_pipeline.defs.ingestion.assets import asset_key
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig, Results
from drift_pipeline.lib import markdown
from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.project import code_version
from drift_pipeline.lib.sources import partition_window
from drift_pipeline.lib.validation import CHECKS, CRITICAL, blocking_failure, validate_batch


def build_batch_checks(config: ModelConfig) -> dg.AssetChecksDefinition:
    """The four validation checks of ``<model>/production_batch``."""
    name = config.name
    batch_key = asset_key(name, "production_batch")
    specs = [
        dg.AssetCheckSpec(check, asset=batch_key, description=description, blocking=severity == CRITICAL,
                          additional_deps=[asset_key(name, "reference_dataset")])
        for check, (description, severity) in CHECKS.items()
    ]

    @dg.multi_asset_check(specs=specs, can_subset=True, name=f"{name}_production_batch_checks")
    def production_batch_checks(
        context: dg.AssetCheckExecutionContext,
        monitoring_config: MonitoringConfig,
        results: Results,
        audit_trail: AuditTrail,
    ):
        """Validate each partition's batch with Great Expectations and record CRITICAL failures as alerts."""
        cfg = monitoring_config.model(name)
        policy = monitoring_config.policy()
        store = results.store()
        profile = store.read_json(name, "validation_profile", None)
        keys = context.partition_keys
        single = len(keys) == 1
        for key in keys:
            batch = store.read_frame(name, "production_batch", key)
            batch_meta = store.read_json(name, "production_batch", key)
            outcomes = validate_batch(cfg, batch, profile, policy.validation, partition_window(cfg, key),
                                      batch_meta.get("problems"))
            blocked = blocking_failure(outcomes)
            store.write_json(name, "validation", key, {
                "blocked": blocked,
                "checks": [{"name": o.name, "passed": o.passed, "severity": o.severity, "failures": o.failures}
                           for o in outcomes],
            })
            if blocked:
                _record_validation_alert(audit_trail, monitoring_config, context.run.run_id, cfg, key, blocked,
                                         batch_meta)
            for outcome in outcomes:
                yield dg.AssetCheckEvaluation(
                    asset_key=batch_key,
                    check_name=outcome.name,
                    passed=outcome.passed,
                    severity=dg.AssetCheckSeverity.ERROR if outcome.severity == CRITICAL else dg.AssetCheckSeverity.WARN,
                    description=outcome.summary,
                    partition=key,
                    blocking=single and outcome.severity == CRITICAL,
                    metadata={
                        "partition": key,
                        "expectations_evaluated": outcome.evaluated,
                        "failures": dg.MetadataValue.md(markdown.table(outcome.failures) if outcome.failures
                                                        else "none"),
                        "rows": batch_meta["rows"],
                    },
                )

    return production_batch_checks


def _record_validation_alert(audit_trail, monitoring_config, run_id, cfg, key, message, batch_meta) -> None:
    from drift_pipeline.lib.audit import AlertIn

    baseline = audit_trail.store().active_baseline(cfg.name)
    audit_trail.store().record_alerts([
        AlertIn(
            model=cfg.name, partition=key, family="validation", metric=message.split(":", 1)[0], feature=None,
            value=None, severity="CRITICAL", band="blocking check failed", rule="validation.critical",
            message=f"{cfg.name} {key}: {message}", run_id=run_id,
            data_fingerprint=batch_meta["data_fingerprint"], config_hash=monitoring_config.config_hash(cfg.name),
            baseline_version=baseline["version"] if baseline else None, code_version=code_version(),
            input_files=batch_meta.get("input_files", []),
        )
    ])
