"""Jobs per monitored model: build the baseline, and monitor partitions."""


import dagster as dg

from drift_pipeline.lib.config import ModelConfig

BASELINE_ASSETS = ("model_artifact", "reference_dataset", "reference_profile", "baseline_metrics")


def baseline_job_name(model: str) -> str:
    return f"{model}_baseline_job"


def monitoring_job_name(model: str) -> str:
    return f"{model}_monitoring_job"


def model_jobs(config: ModelConfig, partitioned_keys: list[dg.AssetKey]) -> list:
    """``<model>_baseline_job`` (unpartitioned baseline assets) and ``<model>_monitoring_job`` (partitions)."""
    name = config.name
    baseline = dg.AssetSelection.assets(*[dg.AssetKey([name, a]) for a in BASELINE_ASSETS
                                          if a != "model_artifact" or config.model.kind == "trained"])
    return [
        dg.define_asset_job(baseline_job_name(name), selection=baseline,
                            description=f"Train / load and profile the {name} baseline (reference window)."),
        dg.define_asset_job(monitoring_job_name(name), selection=dg.AssetSelection.assets(*partitioned_keys),
                            description=f"Validate, measure drift, alert and report on {name} partitions."),
    ]
