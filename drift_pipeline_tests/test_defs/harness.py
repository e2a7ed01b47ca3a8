"""Run the real asset graph over a temporary output folder (and optionally PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from drift_pipeline.defs.jobs import baseline_job_name, monitoring_job_name
from drift_pipeline.defs.models import build_definitions
from drift_pipeline.demo import RANGE_END_TAG, RANGE_START_TAG
from drift_pipeline.lib.audit import AuditStore
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline.lib.results import ResultStore


@dataclass
class Harness:
    """A code location over ``config_dir`` writing into ``var``, with its instance and stores."""

    var: Path
    instance: dg.DagsterInstance
    config_dir: Path = PROJECT_ROOT / "config"
    root: Path = PROJECT_ROOT
    audit_url: str | None = None

    def __post_init__(self):
        self.definitions = build_definitions(config_dir=self.config_dir, var=self.var, root=self.root,
                                             audit_url=self.audit_url)

    @property
    def audit(self) -> AuditStore:
        return self.definitions.resources["audit_trail"].store()

    @property
    def results(self) -> ResultStore:
        return ResultStore(self.var / "results")

    def baseline(self, model: str) -> dg.ExecuteInProcessResult:
        return self.definitions.resolve_job_def(baseline_job_name(model)).execute_in_process(
            instance=self.instance, raise_on_error=False)

    def partitions(self, model: str, first: str, last: str | None = None, **kwargs) -> dg.ExecuteInProcessResult:
        job = self.definitions.resolve_job_def(monitoring_job_name(model))
        if last is None:
            return job.execute_in_process(instance=self.instance, partition_key=first, raise_on_error=False,
                                          **kwargs)
        return job.execute_in_process(instance=self.instance, raise_on_error=False,
                                      tags={RANGE_START_TAG: first, RANGE_END_TAG: last}, **kwargs)

    def materializations(self, model: str, asset: str) -> dict[str, dict]:
        """Latest materialisation metadata per partition."""
        records = self.instance.fetch_materializations(dg.AssetKey([model, asset]), limit=10_000).records
        out: dict[str, dict] = {}
        for record in reversed(records):  # oldest first, so the latest wins
            event = record.event_log_entry.asset_materialization
            out[event.partition] = {k: v.value for k, v in event.metadata.items()}
        return out

    def check_results(self, model: str, check: str) -> dict[str, tuple[bool, str]]:
        key = dg.AssetCheckKey(dg.AssetKey([model, "production_batch"]), check)
        records = self.instance.event_log_storage.get_asset_check_execution_history(key, limit=10_000)
        out = {}
        for record in reversed(records):
            evaluation = record.event.dagster_event.event_specific_data
            out[evaluation.partition] = (evaluation.passed, evaluation.severity.value)
        return out
