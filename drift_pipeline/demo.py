"""``drift-pipeline demo``: backfill every model over its whole history on the configured instance.

Each model's baseline is built once, then its partitions run as ranged single-run backfills
(one Dagster run per calendar month), which records one materialisation and one set of
check results per partition without paying Dagster's per-run overhead ~700 times.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drift_pipeline.lib import project
from drift_pipeline.lib.config import ModelConfig, load_model_configs

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass
class ModelOutcome:
    model: str
    partitions: int = 0
    runs: int = 0
    failed_runs: list[str] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=dict)
    new_alerts: int = 0
    blocked_partitions: int = 0
    reports: int = 0


def month_chunks(config: ModelConfig, start: dt.date | None = None, end: dt.date | None = None):
    """Consecutive (first, last) partition days, one chunk per calendar month."""
    first = max(start or config.partitioning.start, config.partitioning.start)
    last = min(end or config.partitioning.end, config.partitioning.end)
    day = first
    while day <= last:
        next_month = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        chunk_end = min(last, next_month - dt.timedelta(days=1))
        yield day, chunk_end
        day = chunk_end + dt.timedelta(days=1)


def _estimated_cost(config: ModelConfig) -> int:
    """Rough relative cost of a model's backfill, to start the longest first."""
    days = (config.partitioning.end - config.partitioning.start).days + 1
    return days * len(config.monitored_columns)


def prepare_environment() -> Path:
    """Run from the project root with the instance of ``dagster.yaml`` (or the PostgreSQL one)."""
    os.chdir(project.PROJECT_ROOT)
    os.environ.setdefault("DAGSTER_HOME", str(project.dagster_home()))
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    return home


def _failure_message(result) -> str:
    """The first failed step and its innermost error message (never a stack trace)."""
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        data = event.step_failure_data
        if data and data.user_failure_data and data.user_failure_data.description:
            return f"{event.step_key}: {data.user_failure_data.description}"
        error = data.error if data else None
        while error is not None and error.cause is not None:
            error = error.cause
        return f"{event.step_key}: {error.message.strip() if error else event.message}"
    return "run failed"


def _exit_with_parent() -> None:
    """A worker whose parent is gone (Ctrl-C, a killed terminal) stops instead of running on."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(130)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def _sqlite_normal_sync() -> None:
    """SQLite commits without an fsync each (``synchronous=NORMAL``; Dagster already uses WAL).

    With WAL this cannot corrupt a database; a power cut may lose the last transactions,
    which a rerun of the idempotent backfill restores. It roughly halves the cost of the
    ~20,000 event-log writes of a full backfill. Production runs on PostgreSQL.
    """
    import sqlite3

    import sqlalchemy
    from sqlalchemy.engine import Engine

    def on_connect(connection, _record) -> None:
        if isinstance(connection, sqlite3.Connection):
            cursor = connection.cursor()
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    sqlalchemy.event.listen(Engine, "connect", on_connect)  # once per worker process


QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}


def _backfill_model(name: str, start: dt.date | None, end: dt.date | None, queue=None) -> ModelOutcome:
    """Baseline, then every month of partitions of one model, in this process."""
    import logging
    import warnings

    import dagster as dg

    from drift_pipeline.defs.jobs import baseline_job_name, monitoring_job_name
    from drift_pipeline.defs.reporting.plots import plots_job_name
    from drift_pipeline.definitions import defs as lazy_defs
    from drift_pipeline.lib.results import ResultStore

    prepare_environment()
    _exit_with_parent()
    _sqlite_normal_sync()
    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)  # the summary table is the interface, not Dagster's log lines
    config = load_model_configs(project.PROJECT_ROOT / "config")[name]
    chunks = list(month_chunks(config, start, end))
    definitions = lazy_defs()
    audit = definitions.resources["audit_trail"].store()
    outcome = ModelOutcome(model=name)

    def report(description: str, days: int) -> None:
        if queue is not None:
            queue.put((name, description, days))

    with dg.DagsterInstance.get() as instance:
        before = audit.counts_by_severity(model=name)
        report("baseline", 0)
        tags = {"drift_pipeline/source": "demo"}
        result = definitions.resolve_job_def(baseline_job_name(name)).execute_in_process(
            instance=instance, raise_on_error=False, tags=tags, run_config=QUIET_LOGS)
        outcome.runs += 1
        if not result.success:
            outcome.failed_runs.append(f"baseline: {_failure_message(result)}")
            report("baseline failed", sum((b - a).days + 1 for a, b in chunks))
            return outcome
        job = definitions.resolve_job_def(monitoring_job_name(name))
        for first, last in chunks:
            report(f"{first:%Y-%m}", 0)
            result = job.execute_in_process(
                instance=instance, raise_on_error=False, run_config=QUIET_LOGS,
                tags={RANGE_START_TAG: first.isoformat(), RANGE_END_TAG: last.isoformat(), **tags},
            )
            outcome.runs += 1
            days = (last - first).days + 1
            if result.success:
                outcome.partitions += days
            else:
                outcome.failed_runs.append(f"{first} .. {last}: {_failure_message(result)}")
            report(f"{first:%Y-%m}", days)
        report("plots", 0)
        plots = definitions.resolve_job_def(plots_job_name(name)).execute_in_process(
            instance=instance, raise_on_error=False, tags=tags, run_config=QUIET_LOGS)
        outcome.runs += 1
        if not plots.success:
            outcome.failed_runs.append(f"plots: {_failure_message(plots)}")
        outcome.alerts = audit.counts_by_severity(model=name)
        outcome.new_alerts = sum(outcome.alerts.values()) - sum(before.values())
    store = ResultStore(project.var_dir() / "results")
    for first, last in chunks:
        for offset in range((last - first).days + 1):
            key = (first + dt.timedelta(days=offset)).isoformat()
            status = store.read_json_or_empty(name, "feature_drift", key).get("status")
            outcome.blocked_partitions += status not in (None, "ok")
    reports_dir = project.var_dir() / "reports" / name
    outcome.reports = len(list(reports_dir.glob("*/evidently.html"))) if reports_dir.exists() else 0
    return outcome


def run_backfill(
    models: list[str] | None = None,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    workers: int = 2,
) -> tuple[list[ModelOutcome], float]:
    """Materialise baselines and every partition, one process per model (at most ``workers`` at once).

    Returns per-model outcomes and the wall time in seconds.
    """
    import multiprocessing as mp
    import queue as queue_module
    from concurrent.futures import ProcessPoolExecutor

    began = time.perf_counter()
    configs = load_model_configs(project.PROJECT_ROOT / "config")
    names = models or sorted(configs, key=lambda n: -_estimated_cost(configs[n]))
    unknown = sorted(set(names) - set(configs))
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; configured: {sorted(configs)}")
    prepare_environment()
    total = sum((b - a).days + 1 for n in names for a, b in month_chunks(configs[n], start, end))
    # The Dagster instance and audit store must exist before two processes race to create them.
    import dagster as dg

    from drift_pipeline.definitions import defs as lazy_defs

    lazy_defs().resources["audit_trail"].store()
    with dg.DagsterInstance.get():
        pass
    for name in names:
        if configs[name].source.kind == "decision_log":
            from drift_pipeline.lib.decision_seed import seed_decision_log

            if progress:
                progress(f"{name}: seeding decision log", 0, total)
            seed_decision_log(name)  # idempotent: replays the bundled data through the decorated scorer
    context = mp.get_context("spawn")
    manager = context.Manager()
    messages = manager.Queue()
    done, status = 0, {}
    with ProcessPoolExecutor(max_workers=max(1, min(workers, len(names))), mp_context=context) as pool:
        futures = [pool.submit(_backfill_model, name, start, end, messages) for name in names]
        while not all(f.done() for f in futures) or not messages.empty():
            try:
                name, description, days = messages.get(timeout=0.5)
            except queue_module.Empty:
                continue
            done += days
            status[name] = description
            if progress:
                progress(" · ".join(f"{n} {d}" for n, d in status.items()), done, total)
        outcomes = [f.result() for f in futures]
    manager.shutdown()
    if progress:
        progress("done", total, total)
    return outcomes, time.perf_counter() - began
