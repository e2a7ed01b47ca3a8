"""Resources bound once for the whole code location: configuration, data, results, audit store."""


from functools import lru_cache
from pathlib import Path

import dagster as dg
import pandas as pd

from drift_pipeline.lib import project
from drift_pipeline.lib.config import ModelConfig, Policy, config_hash, load_model_configs, load_policy
from drift_pipeline.lib.results import ResultStore
from drift_pipeline.lib.sources import Window, coerce_to_schema, load_source, rows_in_window, source_path


@lru_cache(maxsize=8)
def _models(config_dir: str) -> dict[str, ModelConfig]:
    return load_model_configs(Path(config_dir))


@lru_cache(maxsize=8)
def _policy(config_dir: str) -> Policy:
    return load_policy(Path(config_dir))


_SOURCES: dict[tuple, pd.DataFrame] = {}


def _source(config: ModelConfig, root: str, version: tuple) -> pd.DataFrame:
    # Cached per process, keyed on the contract and the source's version: a backfill reads it once.
    key = (config_hash(config), root, version)
    if key not in _SOURCES:
        if len(_SOURCES) >= 4:
            _SOURCES.pop(next(iter(_SOURCES)))
        _SOURCES[key] = load_source(config, Path(root))
    return _SOURCES[key]


class MonitoringConfig(dg.ConfigurableResource):
    """The parsed ``config/`` folder: model contracts and the severity policy."""

    config_dir: str = str(project.PROJECT_ROOT / "config")

    def models(self) -> dict[str, ModelConfig]:
        return _models(self.config_dir)

    def model(self, name: str) -> ModelConfig:
        return self.models()[name]

    def policy(self) -> Policy:
        return _policy(self.config_dir)

    def config_hash(self, name: str) -> str:
        """Hash of the model's contract together with the policy: both shape every number."""
        return config_hash(self.model(name), self.policy())


class ProductionData(dg.ConfigurableResource):
    """Reads a model's reference and production rows from its declared source."""

    root: str = str(project.PROJECT_ROOT)

    def source_file(self, config: ModelConfig) -> Path:
        return source_path(config, Path(self.root))

    def source(self, config: ModelConfig) -> pd.DataFrame:
        """Every row of the model's source, filtered (cached per process while the source is unchanged)."""
        return _source(config, self.root, self.source_version(config))

    def source_version(self, config: ModelConfig) -> tuple:
        """What changes when the source does: a file's mtime; for a decision log, the audit store
        and the count and newest sequence number of the model's decisions."""
        if config.source.kind == "decision_log":
            url = project.audit_url()
            return (url, *_audit_store(url).decision_version(config.name))
        path = self.source_file(config)
        return (path.stat().st_mtime_ns if path.exists() else 0,)

    @staticmethod
    def cut(config: ModelConfig, source: pd.DataFrame, window: Window, *, partition: str | None = None) -> pd.DataFrame:
        """The rows of ``window`` cast to their declared types (raises ``DataError`` naming the problem)."""
        return coerce_to_schema(rows_in_window(source, config.time_column, window), config, partition=partition)

    def read_window(self, config: ModelConfig, window: Window, *, partition: str | None = None) -> pd.DataFrame:
        return self.cut(config, self.source(config), window, partition=partition)


class Results(dg.ConfigurableResource):
    """Per-model, per-asset, per-partition result files under ``var/results``."""

    root: str | None = None

    def store(self) -> ResultStore:
        return ResultStore(Path(self.root) if self.root else project.var_dir() / "results")

    def reports_dir(self) -> Path:
        return (Path(self.root).parent if self.root else project.var_dir()) / "reports"

    def models_dir(self) -> Path:
        return (Path(self.root).parent if self.root else project.var_dir()) / "models"


@lru_cache(maxsize=4)
def _audit_store(url: str):
    from drift_pipeline.lib.audit import AuditStore

    store = AuditStore(url)
    store.migrate()
    return store


class AuditTrail(dg.ConfigurableResource):
    """The append-only, hash-chained audit store: SQLite under ``var/`` or ``$DRIFT_PIPELINE_AUDIT_URL``."""

    url: str | None = None

    def resolved_url(self) -> str:
        return self.url or project.audit_url()

    def store(self):
        return _audit_store(self.resolved_url())


RESOURCES = {
    "monitoring_config": MonitoringConfig(),
    "production_data": ProductionData(),
    "results": Results(),
    "audit_trail": AuditTrail(),
}


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=RESOURCES)
