"""Per-model model-drift, fairness and explanation-drift assets (SPEC §3.2–3.4)."""


import datetime as dt

import dagster as dg
import pandas as pd

from drift_pipeline.defs.ingestion.assets import asset_key, trained_model
from drift_pipeline.defs.partitions import partitioned
from drift_pipeline.defs.resources import MonitoringConfig, Results
from drift_pipeline.lib import markdown
from drift_pipeline.lib.config import ModelConfig, Policy
from drift_pipeline.lib.explain import ReferenceExplanation, explain_reference
from drift_pipeline.lib.fairness import fairness_drift, fairness_report, group_rates
from drift_pipeline.lib.performance import (
    accuracy_drop,
    model_performance,
    output_entropy_change,
    prediction_distribution_shift,
)
from drift_pipeline.lib.policy import due_on
from drift_pipeline.lib.results import ResultStore

PERFORMANCE_KEYS = ("accuracy", "roc_auc", "log_loss", "n_rows", "n_labelled", "status")


def _performance(config: ModelConfig, frame: pd.DataFrame, policy: Policy) -> dict:
    result = model_performance(frame[config.label_column], frame[config.score_column],
                               frame[config.prediction_column], min_labelled=policy.data_drift.min_sample_size)
    return {k: result.get(k) for k in PERFORMANCE_KEYS}


def _fairness(config: ModelConfig, frame: pd.DataFrame, policy: Policy) -> pd.DataFrame:
    return fairness_report(frame, protected=config.protected_columns, label=config.label_column,
                           prediction=config.prediction_column, min_group_size=_min_group(config, policy),
                           n_resamples=policy.data_drift.bootstrap_resamples, seed=policy.data_drift.seed)


def _min_group(config: ModelConfig, policy: Policy) -> int:
    return config.min_group_size or policy.min_group_size


_EXPLAINERS: dict[tuple, ReferenceExplanation] = {}


def reference_explanation(config: ModelConfig, policy: Policy, store: ResultStore) -> ReferenceExplanation:
    """The reference's explanation, computed once per process for a given baseline, model artifact and policy."""
    model = trained_model(store, config)
    fingerprint = store.read_json(config.name, "reference_dataset", None)["data_fingerprint"]
    key = (config.name, fingerprint, model.sha256 if model else None, policy.data_drift.seed,
           policy.explanation.sample_size)
    if key not in _EXPLAINERS:
        features = model.feature_types if model else config.schema_types(config.columns("feature"))
        _EXPLAINERS[key] = explain_reference(
            model, store.read_frame(config.name, "reference_dataset", None), features=features,
            score_column=config.score_column, sample_size=policy.explanation.sample_size, seed=policy.data_drift.seed,
        )
    return _EXPLAINERS[key]


def valid_batch(context: dg.AssetExecutionContext, store: ResultStore, model: str, asset: str,
                key: str) -> pd.DataFrame | None:
    """The partition's batch, or None after recording ``asset`` as blocked when validation blocked it."""
    batch = store.read_frame(model, "production_batch", key)
    if store.read_json(model, "validation", key).get("blocked") or batch.empty:
        store.write_json(model, asset, key, {"status": "blocked"})
        context.add_asset_metadata({"status": "blocked by validation"}, partition_key=key)
        return None
    return batch


def baseline_metrics(store: ResultStore, model: str) -> dict:
    return store.read_json(model, "baseline_metrics", None)


def build_signal_assets(config: ModelConfig) -> list[dg.AssetsDefinition]:
    """``baseline_metrics`` plus the partitioned model, fairness and explanation assets of one model."""
    name = config.name
    common = {"group_name": name, "tags": {"risk_level": config.risk_level}}
    ranged = partitioned(config)
    upstream = [asset_key(name, "reference_dataset")]

    @dg.asset(key=asset_key(name, "baseline_metrics"), deps=upstream, **common)
    def baseline_metrics_asset(monitoring_config: MonitoringConfig, results: Results) -> dg.MaterializeResult:
        """Model performance and fairness on the reference window: what every partition's drift is measured from."""
        cfg, policy, store = monitoring_config.model(name), monitoring_config.policy(), results.store()
        reference = store.read_frame(name, "reference_dataset", None)
        performance = _performance(cfg, reference, policy)
        fairness = _fairness(cfg, reference, policy) if cfg.protected_columns else pd.DataFrame()
        store.write_json(name, "baseline_metrics", None, {
            "performance": performance, "fairness": fairness.to_dict("records"),
        })
        return dg.MaterializeResult(metadata={
            "performance": dg.MetadataValue.md(markdown.table([performance])),
            "fairness": dg.MetadataValue.md(markdown.table(fairness.drop(columns=["groups_excluded"], errors="ignore"))
                                            if len(fairness) else "no protected attributes declared"),
        })

    deps = [asset_key(name, "production_batch"), baseline_metrics_asset.key]

    @dg.asset(key=asset_key(name, "model_performance"), deps=deps, **ranged)
    def model_performance_asset(
        context: dg.AssetExecutionContext, monitoring_config: MonitoringConfig, results: Results
    ) -> dg.MaterializeResult:
        """Accuracy, ROC AUC and log loss on arrived labels, their drop from baseline, and prediction-distribution shift."""
        cfg, policy, store = monitoring_config.model(name), monitoring_config.policy(), results.store()
        base = baseline_metrics(store, name)["performance"]
        reference = store.read_frame(name, "reference_dataset", None)
        for key in context.partition_keys:
            batch = valid_batch(context, store, name, "model_performance", key)
            if batch is None:
                continue
            current = _performance(cfg, batch, policy)
            result = {
                **current,
                "baseline_accuracy": base["accuracy"],
                "accuracy_drop": accuracy_drop(base["accuracy"], current["accuracy"]),
                "prediction_distribution_shift": prediction_distribution_shift(
                    reference[cfg.prediction_column], batch[cfg.prediction_column]),
                "output_entropy_change": output_entropy_change(
                    reference[cfg.prediction_column], batch[cfg.prediction_column]),
            }
            store.write_json(name, "model_performance", key, result)
            context.add_asset_metadata({
                "status": str(result["status"]),
                "labelled_rows": dg.MetadataValue.int(int(result["n_labelled"] or 0)),
                "performance": dg.MetadataValue.md(markdown.table([result])),
            }, partition_key=key)
        return dg.MaterializeResult()

    assets = [baseline_metrics_asset, model_performance_asset]

    if config.protected_columns:

        @dg.asset(key=asset_key(name, "fairness_metrics"), deps=deps, **ranged)
        def fairness_metrics(
            context: dg.AssetExecutionContext, monitoring_config: MonitoringConfig, results: Results
        ) -> dg.MaterializeResult:
            """Per protected attribute: selection rate, TPR and FPR per group; parity gaps with bootstrap CIs and drift from baseline."""
            cfg, policy, store = monitoring_config.model(name), monitoring_config.policy(), results.store()
            baseline = pd.DataFrame(baseline_metrics(store, name)["fairness"])
            for key in context.partition_keys:
                batch = valid_batch(context, store, name, "fairness_metrics", key)
                if batch is None:
                    continue
                drift = fairness_drift(_fairness(cfg, batch, policy), baseline)
                groups = group_rates(batch, protected=cfg.protected_columns, label=cfg.label_column,
                                     prediction=cfg.prediction_column, min_group_size=_min_group(cfg, policy))
                store.write_json(name, "fairness_metrics", key, {
                    "status": "ok", "drift": drift.to_dict("records"), "groups": groups.to_dict("records"),
                })
                shown = ["attribute", "metric", "value", "ci_low", "ci_high", "baseline_value", "drift", "note"]
                context.add_asset_metadata({
                    "status": "ok",
                    "fairness": dg.MetadataValue.md(markdown.table(drift, [c for c in shown if c in drift.columns])),
                    "groups": dg.MetadataValue.md(markdown.table(
                        groups, ["attribute", "group", "n", "selection_rate", "tpr", "fpr", "included"])),
                }, partition_key=key)
            return dg.MaterializeResult()

        assets.append(fairness_metrics)

    @dg.asset(key=asset_key(name, "explanation_drift"), deps=deps, **ranged)
    def explanation_drift_asset(
        context: dg.AssetExecutionContext, monitoring_config: MonitoringConfig, results: Results
    ) -> dg.MaterializeResult:
        """Mean |SHAP| per feature on seeded samples of reference and batch, and their Spearman rank correlation (at the risk level's cadence)."""
        cfg, policy, store = monitoring_config.model(name), monitoring_config.policy(), results.store()
        cadence = policy.cadence[cfg.risk_level]["explanation"]
        for key in context.partition_keys:
            if not due_on(cadence, dt.date.fromisoformat(key)):
                store.write_json(name, "explanation_drift", key, {"status": "not_scheduled", "cadence": cadence})
                context.add_asset_metadata({"status": f"not scheduled ({cadence} cadence)"}, partition_key=key)
                continue
            batch = valid_batch(context, store, name, "explanation_drift", key)
            if batch is None:
                continue
            result = reference_explanation(cfg, policy, store).compare(
                batch, sample_size=policy.explanation.sample_size)
            store.write_json(name, "explanation_drift", key, {
                "status": "ok", "spearman": result.spearman, "explainer": result.explainer,
                "surrogate_fidelity": result.surrogate_fidelity, "importance": result.importance.to_dict("records"),
            })
            context.add_asset_metadata({
                "status": "ok",
                "spearman_rank_correlation": result.spearman,
                "explainer": result.explainer,
                "surrogate_fidelity": str(result.surrogate_fidelity) if result.surrogate_fidelity else "n/a",
                "importance": dg.MetadataValue.md(markdown.table(result.importance)),
            }, partition_key=key)
        return dg.MaterializeResult()

    assets.append(explanation_drift_asset)
    return assets
