"""Per-model one-page partition summaries (beside Evidently's report) and the reports index."""

from pathlib import Path

import dagster as dg

from drift_pipeline.defs.ingestion.assets import asset_key
from drift_pipeline.defs.partitions import partitioned
from drift_pipeline.defs.resources import MonitoringConfig, Results
from drift_pipeline.lib import project
from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.summary_page import (
    INDEX_FILE,
    existing_plots,
    write_index,
    write_partition_summary,
)


def build_summary_assets(config: ModelConfig) -> list[dg.AssetsDefinition]:
    """``<model>/partition_summary``: our one-page HTML summary of every partition."""
    name = config.name

    # drift_report is a dependency too, so the page links Evidently's HTML when this run rendered it.
    @dg.asset(key=asset_key(name, "partition_summary"), deps=[asset_key(name, "drift_alerts"),
              asset_key(name, "drift_report")], kinds={"html"}, **partitioned(config))
    def partition_summary(context: dg.AssetExecutionContext, monitoring_config: MonitoringConfig,
                          results: Results) -> dg.MaterializeResult:
        """One-page HTML summary of each partition: severity, composite, top drifted features, fairness and performance, changes, provenance."""
        store, reports = results.store(), results.reports_dir()
        cfg, policy, version = monitoring_config.model(name), monitoring_config.policy(), project.code_version()
        plots, index = existing_plots(reports, name), reports / INDEX_FILE
        for key in context.partition_keys:
            record = write_partition_summary(store, cfg, policy, key, reports_root=reports, code_version=version,
                                             plots=plots)
            context.add_asset_metadata({
                "severity": record["severity"],
                "composite_score": record["composite"],
                "summary": dg.MetadataValue.url(Path(record["path"]).resolve().as_uri()),
                "summary_path": dg.MetadataValue.path(record["path"]),
                "evidently_report": record["evidently"] or "not rendered for this partition",
                "index": dg.MetadataValue.url(index.resolve().as_uri()),
            }, partition_key=key)
        write_index(store, reports)
        return dg.MaterializeResult()

    return [partition_summary]
