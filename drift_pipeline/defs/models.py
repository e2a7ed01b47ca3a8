"""Generate every model's assets, checks and jobs from ``config/models/*.yaml``.

Adding a monitored model is a new YAML file: each gets its own group and lineage graph,
keyed ``<model>/<asset>``.
"""


from pathlib import Path

import dagster as dg

from drift_pipeline.defs.ingestion.assets import build_ingestion_assets
from drift_pipeline.defs.ingestion.checks import build_batch_checks
from drift_pipeline.defs.jobs import model_jobs
from drift_pipeline.defs.monitoring.assets import build_monitoring_assets
from drift_pipeline.defs.monitoring.health import build_health_assets, build_health_checks
from drift_pipeline.defs.monitoring.signals import build_signal_assets
from drift_pipeline.defs.reporting.assets import build_reporting_assets
from drift_pipeline.defs.reporting.summary import build_summary_assets
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig, ProductionData, Results
from drift_pipeline.lib import project
from drift_pipeline.lib.config import ModelConfig, load_model_configs


def model_definitions(config: ModelConfig) -> dg.Definitions:
    """Assets, checks and jobs of one model."""
    assets = (build_ingestion_assets(config) + build_monitoring_assets(config) + build_signal_assets(config)
              + build_health_assets(config) + build_reporting_assets(config) + build_summary_assets(config))
    partitioned = [key for a in assets if a.partitions_def is not None for key in a.keys]
    return dg.Definitions(assets=assets, asset_checks=[build_batch_checks(config), build_health_checks(config)],
                          jobs=model_jobs(config, partitioned))


def all_models_definitions(config_dir: Path) -> dg.Definitions:
    return dg.Definitions.merge(*(model_definitions(c) for c in load_model_configs(config_dir).values()))


def build_definitions(*, config_dir: Path, var: Path, root: Path = project.PROJECT_ROOT,
                      audit_url: str | None = None) -> dg.Definitions:
    """A complete code location over an explicit config folder and output folder (tests, the CLI)."""
    resources = {
        "monitoring_config": MonitoringConfig(config_dir=str(config_dir)),
        "production_data": ProductionData(root=str(root)),
        "results": Results(root=str(Path(var) / "results")),
        "audit_trail": AuditTrail(url=audit_url or f"sqlite:///{Path(var) / 'audit' / 'audit.db'}"),
    }
    return dg.Definitions.merge(all_models_definitions(config_dir), dg.Definitions(resources=resources))


@dg.definitions
def monitored_models() -> dg.Definitions:
    return all_models_definitions(project.PROJECT_ROOT / "config")
