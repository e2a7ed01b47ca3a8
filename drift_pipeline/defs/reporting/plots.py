"""Per-model history plots: unpartitioned assets that read every stored partition, plus ``<model>_plots_job``."""

import base64
from pathlib import Path

import dagster as dg

from drift_pipeline.defs.ingestion.assets import asset_key
from drift_pipeline.defs.resources import MonitoringConfig, Results
from drift_pipeline.lib import markdown, project
from drift_pipeline.lib.config import ModelConfig, load_model_configs
from drift_pipeline.lib.plots import PlotKind, plots_for, write_plot
from drift_pipeline.lib.summary_page import write_index

UPSTREAM = {"feature_drift_heatmap": "feature_drift", "metric_trends": "model_health",
            "fairness_over_time": "fairness_metrics", "shap_importance_over_time": "explanation_drift",
            "alert_timeline": "drift_alerts"}


def plots_job_name(model: str) -> str:
    return f"{model}_plots_job"


def _plot_asset(config: ModelConfig, kind: PlotKind) -> dg.AssetsDefinition:
    name = config.name

    @dg.asset(key=asset_key(name, kind.name), group_name=name, deps=[asset_key(name, UPSTREAM[kind.name])],
              kinds={"png"}, tags={"risk_level": config.risk_level}, description=f"{kind.title} over every stored partition.")
    def plot(monitoring_config: MonitoringConfig, results: Results) -> dg.MaterializeResult:
        store, reports = results.store(), results.reports_dir()
        rendered = write_plot(kind, store, monitoring_config.model(name), monitoring_config.policy(), reports)
        write_index(store, reports)
        image = base64.b64encode(rendered.png).decode("ascii")
        return dg.MaterializeResult(metadata={
            "plot": dg.MetadataValue.md(f"![{kind.title}](data:image/png;base64,{image})"),
            "png_path": dg.MetadataValue.path(str(rendered.png_path)),
            "csv_path": dg.MetadataValue.path(str(rendered.csv_path)),
            "partitions": dg.MetadataValue.int(rendered.partitions),
            "data": dg.MetadataValue.md(markdown.table(rendered.summary.head(40))),
        })

    return plot


def build_plot_assets(config: ModelConfig) -> list[dg.AssetsDefinition]:
    """The plot assets of one model, keyed ``<model>/<plot_name>``."""
    return [_plot_asset(config, kind) for kind in plots_for(config)]


def plot_definitions(config_dir: Path) -> dg.Definitions:
    """Every model's plot assets and its ``<model>_plots_job``."""
    assets, jobs = [], []
    for config in load_model_configs(config_dir).values():
        built = build_plot_assets(config)
        assets += built
        jobs.append(dg.define_asset_job(plots_job_name(config.name), selection=dg.AssetSelection.assets(*built),
                                        description=f"Redraw the {config.name} history plots from every stored partition."))
    return dg.Definitions(assets=assets, jobs=jobs)


@dg.definitions
def history_plots() -> dg.Definitions:
    return plot_definitions(project.PROJECT_ROOT / "config")
