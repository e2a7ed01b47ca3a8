"""Per-model ingestion assets: the model artifact, the reference dataset and production batches."""


from functools import lru_cache
from pathlib import Path

import dagster as dg
import pandas as pd

from drift_pipeline.defs.partitions import partitioned
from drift_pipeline.defs.resources import MonitoringConfig, ProductionData, Results
from drift_pipeline.lib import markdown
from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.modeling import TrainedModel, attach_predictions, train_baseline_classifier
from drift_pipeline.lib.results import ResultStore, frame_fingerprint
from drift_pipeline.lib.sources import DataError, partition_window, reference_window, with_arrived_day

ARRIVED_FILE_TAG = "drift_pipeline/arrived_file"
"""Run tag set by the arrival sensor: the delivered day file that supersedes the source's rows."""
from drift_pipeline.lib.validation import validation_profile


def asset_key(model: str, name: str) -> dg.AssetKey:
    return dg.AssetKey([model, name])


@lru_cache(maxsize=8)
def _load_model(path: str) -> TrainedModel:
    return TrainedModel.load(Path(path))


def trained_model(store: ResultStore, config: ModelConfig) -> TrainedModel | None:
    """The model artifact recorded by ``<model>/model_artifact``, or None for external models."""
    if config.model.kind != "trained":
        return None
    return _load_model(store.read_json(config.name, "model_artifact", None)["path"])


def _share(series: pd.Series) -> float | None:
    values = series.dropna()
    return round(float(values.astype(bool).mean()), 4) if len(values) else None


def batch_metadata(config: ModelConfig, frame: pd.DataFrame, window_label: str, fingerprint: str) -> dict:
    """What a newcomer wants to see about a batch: size, window, labels, predictions, fingerprint."""
    label, prediction = config.label_column, config.prediction_column
    meta = {
        "rows": dg.MetadataValue.int(len(frame)),
        "window": window_label,
        "data_fingerprint": fingerprint[:16],
    }
    if label in frame.columns:
        meta["labelled_rows"] = dg.MetadataValue.int(int(frame[label].notna().sum()))
        meta["label_positive_rate"] = _share(frame[label])
    if prediction in frame.columns:
        meta["predicted_positive_rate"] = _share(frame[prediction])
    return meta


def build_ingestion_assets(config: ModelConfig) -> list[dg.AssetsDefinition]:
    """The ingestion assets of one model, keyed ``<model>/<asset>``."""
    name = config.name
    assets: list[dg.AssetsDefinition] = []
    upstream: list[dg.AssetKey] = []

    if config.model.kind == "trained":

        @dg.asset(key=asset_key(name, "model_artifact"), group_name=name, kinds={"sklearn"},
                  tags={"risk_level": config.risk_level})
        def model_artifact(
            monitoring_config: MonitoringConfig, production_data: ProductionData, results: Results
        ) -> dg.MaterializeResult:
            """The seeded baseline classifier trained on the reference window, saved as a versioned artifact."""
            cfg = monitoring_config.model(name)
            raw = production_data.read_window(cfg, reference_window(cfg))
            model = train_baseline_classifier(cfg, raw)
            path = model.save(results.models_dir() / name)
            results.store().write_json(name, "model_artifact", None,
                                       {"path": str(path), "sha256": model.sha256, "version": model.version})
            return dg.MaterializeResult(metadata={
                "model_version": model.version,
                "artifact_sha256": model.sha256,
                "artifact": dg.MetadataValue.path(str(path)),
                "training_rows": dg.MetadataValue.int(model.training_rows),
                "training_auc": round(model.training_auc, 4),
                "features": ", ".join(model.feature_types),
            })

        assets.append(model_artifact)
        upstream.append(model_artifact.key)

    @dg.asset(key=asset_key(name, "reference_dataset"), deps=upstream, group_name=name, kinds={"pandas"},
              tags={"risk_level": config.risk_level})
    def reference_dataset(
        monitoring_config: MonitoringConfig, production_data: ProductionData, results: Results
    ) -> dg.MaterializeResult:
        """The reference window's rows, scored like production, that every partition is compared against."""
        cfg = monitoring_config.model(name)
        store = results.store()
        window = reference_window(cfg)
        frame = attach_predictions(cfg, production_data.read_window(cfg, window), trained_model(store, cfg))
        fingerprint = frame_fingerprint(frame)
        store.write_frame(name, "reference_dataset", None, frame)
        store.write_json(name, "validation_profile", None, validation_profile(cfg, frame))
        store.write_json(name, "reference_dataset", None, {"data_fingerprint": fingerprint, "rows": len(frame),
                                                          "window": window.label})
        return dg.MaterializeResult(metadata={
            **batch_metadata(cfg, frame, window.label, fingerprint),
            "source_file": dg.MetadataValue.path(str(production_data.source_file(cfg))),
            "preview": dg.MetadataValue.md(markdown.table(frame.head(5))),
        })

    assets.append(reference_dataset)

    @dg.asset(key=asset_key(name, "production_batch"), deps=upstream, kinds={"pandas"}, **partitioned(config))
    def production_batch(
        context: dg.AssetExecutionContext,
        monitoring_config: MonitoringConfig,
        production_data: ProductionData,
        results: Results,
    ) -> dg.MaterializeResult:
        """One partition's production rows (a trailing window for low-volume models), scored by the model."""
        cfg = monitoring_config.model(name)
        store = results.store()
        model = trained_model(store, cfg)
        keys = context.partition_keys
        arrived = context.run.tags.get(ARRIVED_FILE_TAG)
        input_files = [str(production_data.source_file(cfg))] + ([arrived] if arrived else [])
        try:
            source = production_data.source(cfg)
            if arrived:  # a delivered day file (one partition per run, from the arrival sensor)
                source = with_arrived_day(cfg, source, Path(arrived), keys[-1])
        except DataError as exc:
            raise dg.Failure(description=f"{exc} (partitions {keys[0]} .. {keys[-1]})") from None
        for key in keys:
            window = partition_window(cfg, key)
            problems: list[str] = []
            try:
                frame = attach_predictions(cfg, production_data.cut(cfg, source, window, partition=key), model)
            except DataError as exc:  # one bad partition must not stop the others
                problems.append(str(exc))
                frame = pd.DataFrame(columns=[c.name for c in cfg.schema_])
            fingerprint = frame_fingerprint(frame)
            store.write_frame(name, "production_batch", key, frame)
            store.write_json(name, "production_batch", key, {
                "rows": len(frame), "window": window.label, "data_fingerprint": fingerprint,
                "problems": problems, "input_files": input_files,
            })
            meta = batch_metadata(cfg, frame, window.label, fingerprint)
            if problems:
                meta["problems"] = dg.MetadataValue.md("\n".join(f"- {p}" for p in problems))
            context.add_asset_metadata(meta, partition_key=key)
        return dg.MaterializeResult()

    assets.append(production_batch)
    return assets

