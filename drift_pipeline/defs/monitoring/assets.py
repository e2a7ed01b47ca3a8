"""Per-model data-drift assets: the baseline profile and per-feature drift."""


from collections import Counter
from functools import lru_cache
from pathlib import Path

import dagster as dg
import pandas as pd

from drift_pipeline.defs.ingestion.assets import asset_key
from drift_pipeline.defs.partitions import partitioned
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig, Results
from drift_pipeline.lib import markdown
from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.drift import assess_feature_drift, feature_drift
from drift_pipeline.lib.profile import ReferenceProfile
from drift_pipeline.lib.results import ResultStore

SEVERITIES = ("CRITICAL", "WARNING", "INFO")
TOP_COLUMNS = ["feature", "type", "severity", "metric", "value", "psi", "ks_statistic", "wasserstein_normed",
               "js_distance", "p_adjusted"]


@lru_cache(maxsize=8)
def _load_profile(directory: str, fingerprint: str) -> ReferenceProfile:
    return ReferenceProfile.load(Path(directory))


def active_profile(store: ResultStore, model: str) -> tuple[ReferenceProfile, dict]:
    """The baseline profile recorded by ``<model>/reference_profile`` and its pointer record."""
    pointer = store.read_json(model, "reference_profile", None)
    return _load_profile(pointer["directory"], pointer["fingerprint"]), pointer


def severity_counts(severities: pd.Series | list[str]) -> dict[str, int]:
    counts = Counter(severities)
    return {s: int(counts.get(s, 0)) for s in SEVERITIES}


def top_drifted(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """The ``n`` most drifted features: worst severity first, then largest PSI."""
    order = table.assign(_rank=table["severity"].map({s: i for i, s in enumerate(SEVERITIES)}))
    order = order.sort_values(["_rank", "psi"], ascending=[True, False], kind="stable")
    return order[[c for c in TOP_COLUMNS if c in order.columns]].head(n)


def build_monitoring_assets(config: ModelConfig) -> list[dg.AssetsDefinition]:
    """The monitoring assets of one model, keyed ``<model>/<asset>``."""
    name = config.name

    @dg.asset(key=asset_key(name, "reference_profile"), deps=[asset_key(name, "reference_dataset")],
              group_name=name, tags={"risk_level": config.risk_level})
    def reference_profile(
        context: dg.AssetExecutionContext,
        monitoring_config: MonitoringConfig,
        results: Results,
        audit_trail: AuditTrail,
    ) -> dg.MaterializeResult:
        """The reference summarised once per baseline version (bins, sorted values, domains) and registered as the baseline."""
        cfg = monitoring_config.model(name)
        store = results.store()
        reference = store.read_frame(name, "reference_dataset", None)
        profile = ReferenceProfile.build(reference, cfg.schema_types(cfg.monitored_columns),
                                         monitoring_config.policy().data_drift)
        audit = audit_trail.store()
        version = audit.next_baseline_version(name, cfg.reference.end, profile.fingerprint)
        directory = store.path(name, "reference_profile", version, "d")
        profile.save(directory)
        audit.register_baseline(
            model=name, version=version, window_start=str(cfg.reference.start), window_end=str(cfg.reference.end),
            profile_fingerprint=profile.fingerprint, created_by=f"dagster run {context.run_id}",
            reason="reference window of config/models/" + name + ".yaml", activate=True,
        )
        active = audit.active_baseline(name)
        if active is None or active["version"] == version:
            store.write_json(name, "reference_profile", None,
                             {"version": version, "fingerprint": profile.fingerprint, "directory": str(directory)})
        else:
            # A later baseline (e.g. a reset) is active: drift assets keep using it.
            context.log.info(f"baseline {version} recorded; {active['version']} stays active")
        return dg.MaterializeResult(metadata={
            "baseline_version": version,
            "active_baseline": active["version"] if active else version,
            "profile_fingerprint": profile.fingerprint[:16],
            "reference_rows": dg.MetadataValue.int(len(reference)),
            "features": dg.MetadataValue.int(len(cfg.monitored_columns)),
            "profile": dg.MetadataValue.md(markdown.table(profile.summary_table())),
        })

    @dg.asset(key=asset_key(name, "feature_drift"), deps=[asset_key(name, "production_batch"), reference_profile.key],
              **partitioned(config))
    def feature_drift_asset(
        context: dg.AssetExecutionContext, monitoring_config: MonitoringConfig, results: Results
    ) -> dg.MaterializeResult:
        """Per-feature drift of each partition against the baseline (PSI, KS, Wasserstein, KL, JS, chi-square, null rate) with severities."""
        cfg = monitoring_config.model(name)
        policy = monitoring_config.policy()
        store = results.store()
        profile, pointer = active_profile(store, name)
        columns = [c.name for c in cfg.monitored_columns]
        top_n = int(policy.reports.get("top_features", 5))
        for key in context.partition_keys:
            blocked = store.read_json(name, "validation", key).get("blocked")
            if blocked:
                store.write_json(name, "feature_drift", key, {"status": "blocked", "reason": blocked,
                                                              "baseline_version": pointer["version"]})
                context.add_asset_metadata({"status": "blocked by validation", "reason": blocked,
                                            "baseline_version": pointer["version"]}, partition_key=key)
                continue
            batch = store.read_frame(name, "production_batch", key)
            table = assess_feature_drift(feature_drift(profile, batch[columns], policy.data_drift), policy, model=name)
            store.write_frame(name, "feature_drift", key, table)
            store.write_json(name, "feature_drift", key, {"status": "ok", "baseline_version": pointer["version"]})
            counts = severity_counts(table["severity"])
            context.add_asset_metadata({
                "status": "ok",
                "rows": dg.MetadataValue.int(len(batch)),
                "baseline_version": pointer["version"],
                **{f"features_{s.lower()}": dg.MetadataValue.int(c) for s, c in counts.items()},
                "max_psi": None if table["psi"].isna().all() else round(float(table["psi"].max()), 4),
                "top_drifted_features": dg.MetadataValue.md(markdown.table(top_drifted(table, top_n))),
            }, partition_key=key)
        return dg.MaterializeResult()

    return [reference_profile, feature_drift_asset]
