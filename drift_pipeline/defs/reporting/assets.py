"""Per-model reporting assets: the Evidently HTML drift report of each partition."""

import datetime as dt


from typing import Literal

import dagster as dg

from drift_pipeline.defs.ingestion.assets import asset_key
from drift_pipeline.defs.partitions import partitioned
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig, Results
from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.reports import render_partition_report, should_render


class DriftReportConfig(dg.Config):
    """Launchpad knob: ``policy`` renders where alerts start or escalate, plus the latest; ``always`` renders all."""

    render: Literal["policy", "always"] = "policy"


def build_reporting_assets(config: ModelConfig) -> list[dg.AssetsDefinition]:
    """The reporting assets of one model, keyed ``<model>/<asset>``."""
    name = config.name

    @dg.asset(key=asset_key(name, "drift_report"), deps=[asset_key(name, "drift_alerts"),
              asset_key(name, "reference_dataset")], kinds={"html"}, **partitioned(config))
    def drift_report(
        context: dg.AssetExecutionContext,
        config: DriftReportConfig,
        monitoring_config: MonitoringConfig,
        results: Results,
        audit_trail: AuditTrail,
    ) -> dg.MaterializeResult:
        """The Evidently HTML drift report of partitions where an alert starts or escalates (plus the latest), linked here."""
        cfg = monitoring_config.model(name)
        policy = monitoring_config.policy()
        store = results.store()
        keys = context.partition_keys
        lookback = int(policy.reports.get("onset_lookback_days", 1))
        for key in keys:
            alerts = store.read_json(name, "drift_alerts", key)
            day = dt.date.fromisoformat(key)
            earlier = [(day - dt.timedelta(days=d)).isoformat() for d in range(1, lookback + 1)]
            previous = [store.read_json_or_empty(name, "drift_alerts", k) for k in earlier]
            render = should_render(policy, alerts, previous, force=config.render == "always",
                                   latest=key == keys[-1])
            if not render.yes:
                context.add_asset_metadata({
                    "report": f"not rendered ({render.reason}); render on demand with "
                              f"`drift-pipeline report {name} {key}` or launch this partition with render: always",
                }, partition_key=key)
                continue
            try:
                rendered = render_partition_report(cfg, policy, store, results.reports_dir(), key, audit_trail.store(),
                                                   run_id=context.run_id,
                                                   config_hash=monitoring_config.config_hash(name))
            except Exception as exc:  # one report must not cost the month's others: say why, go on
                context.add_asset_metadata({"report": f"rendering failed ({render.reason}): "
                                                      f"{type(exc).__name__}: {exc}"}, partition_key=key)
                continue
            context.add_asset_metadata({
                "report": dg.MetadataValue.url(rendered["url"]),
                "report_path": dg.MetadataValue.path(rendered["path"]),
                "report_sha256": rendered["sha256"],
                "rendered_because": render.reason,
                "sampling": rendered["sampling"],
            }, partition_key=key)
        return dg.MaterializeResult()

    return [drift_report]

