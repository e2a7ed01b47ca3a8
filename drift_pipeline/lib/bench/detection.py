"""Detection quality: false alarms, power and materiality, ours against Evidently 0.7.

``drift-pipeline bench detection`` draws seeded batches of the 20 mixed features of
:func:`drift_pipeline.lib.bench.data.detection_frame` against one 10,000-row reference
and asks two monitors whether to alert:

* **ours** — the default policy (``config/policy.yaml``): :func:`feature_drift` on a
  reference profile built once and reused (the product's design), then
  :func:`assess_feature_drift`; *alert* = any feature with severity WARNING or CRITICAL.
* **Evidently 0.7** — ``Report([DataDriftPreset()])`` with defaults. Its headline verdict
  (``dataset drift``: at least half of the columns drifted) is a different question from a
  per-feature alert, so the comparable *alert* is **any column drifted**; the dataset-drift
  rate is reported next to it.

Both monitors see exactly the same batches (repetition ``i`` of a cell uses the same seed
for both). Rates carry their Monte-Carlo standard error ``sqrt(p(1-p)/R)``.

Work is spread over worker subprocesses (default 2, one per core); each builds the
reference, our profile and Evidently's reference ``Dataset`` once and reuses them.
"""

from __future__ import annotations

import json
import math
import os
import selectors
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drift_pipeline.lib.bench import data
from drift_pipeline.lib.bench.report import (
    Progress,
    default_config_dir,
    load_average,
    machine_info,
    machine_markdown,
    report_progress,
    table,
    update_results,
    verdict,
    write_json,
)

SEED = 20240612
REFERENCE_ROWS = 10_000
SIZES = (50, 200, 1_000, 10_000, 100_000)
FALSE_ALARM_TARGET = 0.05
MATERIALITY_ROWS = 100_000
ALERT_SEVERITIES = frozenset({"WARNING", "CRITICAL"})
EVIDENTLY_DRIFT_SHARE = 0.5  # DataDriftPreset's default drift_share


@dataclass(frozen=True)
class Plan:
    """Repetitions per cell: ``{size: reps}`` for each monitor and family of scenarios."""

    no_shift_ours: dict[int, int]
    no_shift_evidently: dict[int, int]
    power_ours: dict[int, int]
    power_evidently: dict[int, int]
    materiality_ours: int
    materiality_evidently: int
    chunk_ours: int = 50
    chunk_evidently: int = 5


FULL_PLAN = Plan(
    no_shift_ours={50: 1000, 200: 1000, 1_000: 1000, 10_000: 1000, 100_000: 500},
    no_shift_evidently={50: 300, 200: 300, 1_000: 300, 10_000: 300, 100_000: 60},
    power_ours={50: 200, 200: 200, 1_000: 200, 10_000: 200, 100_000: 100},
    power_evidently={50: 60, 200: 60, 1_000: 60, 10_000: 60, 100_000: 15},
    materiality_ours=200,
    materiality_evidently=30,
    chunk_ours=100,
    chunk_evidently=20,
)
QUICK_PLAN = Plan(
    no_shift_ours={50: 4, 1_000: 2},
    no_shift_evidently={50: 1},
    power_ours={200: 2},
    power_evidently={200: 1},
    materiality_ours=1,
    materiality_evidently=0,
    chunk_ours=2,
    chunk_evidently=1,
)
QUICK_SCENARIOS = [data.POWER_SCENARIOS[3], data.POWER_SCENARIOS[6]]
QUICK_MATERIALITY_ROWS = 2_000


# --------------------------------------------------------------------------- one worker


class _Monitors:
    """Reference, our profile and Evidently's reference dataset, built once per worker."""

    def __init__(self, config_dir: Path, seed: int, reference_rows: int, *, evidently_checks: int = 6) -> None:
        from drift_pipeline.lib.config import load_policy

        self.policy = load_policy(Path(config_dir))
        self.settings = self.policy.data_drift
        self.seed = seed
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0xFEED]))
        self.reference = data.detection_frame(reference_rows, rng, data.NO_SHIFT)
        self.types = data.DETECTION_TYPES
        self._profile: Any = None
        self._ev_ref: Any = None
        self._ev_def: Any = None
        self.decision_settings: Any = None  # settings used for our verdicts, fixed on first use
        self.evidently_path: str | None = None  # "column_drift" or "preset", fixed on first use
        self.evidently_checks = evidently_checks

    def batch(self, scenario_index: int, size: int, rep: int, scenario: data.Scenario):
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, scenario_index, size, rep]))
        return data.detection_frame(size, rng, scenario)

    def ours(self, batch) -> tuple[bool, set[str]]:
        from drift_pipeline.lib.drift import assess_feature_drift, feature_drift
        from drift_pipeline.lib.profile import ReferenceProfile

        if self._profile is None:
            self._profile = ReferenceProfile.build(self.reference, self.types, self.settings)
            self.decision_settings = self._settings_for_decisions()
        assessed = assess_feature_drift(feature_drift(self._profile, batch, self.decision_settings), self.policy)
        alerting = _alerting_features(assessed)
        return bool(alerting), alerting

    def _settings_for_decisions(self) -> Any:
        """The policy's settings, without the permutation KS threshold if verdicts never use it.

        The permutation threshold is the costliest statistic at large batches and is
        reported, not decided on, by ``assess_feature_drift``. Skipping it is only done
        after checking, on batches with and without shifts, that every feature's verdict
        is identical with and without it; otherwise the full settings are used.
        """
        from drift_pipeline.lib.drift import assess_feature_drift, feature_drift

        if self.settings.ks_permutations == 0:
            return self.settings
        lean = self.settings.model_copy(update={"ks_permutations": 0})
        checks = [(data.NO_SHIFT, 200), (data.POWER_SCENARIOS[2], 2_000), (data.POWER_SCENARIOS[3], 300)]
        for i, (scenario, size) in enumerate(checks):
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xC0DE, i]))
            batch = data.detection_frame(size, rng, scenario)
            full = assess_feature_drift(feature_drift(self._profile, batch, self.settings), self.policy)
            fast = assess_feature_drift(feature_drift(self._profile, batch, lean), self.policy)
            same = ["feature", "severity", "significant", "metric"]
            if not full[same].equals(fast[same]):
                return self.settings
        return lean

    def evidently(self, batch) -> tuple[bool, bool, set[str]]:
        from drift_pipeline.lib.bench.drift_speed import evidently_data_definition, evidently_drift

        if self.evidently_path is None:
            from evidently import Dataset

            self._ev_def = evidently_data_definition(self.types)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._ev_ref = Dataset.from_pandas(self.reference, data_definition=self._ev_def)
            self.evidently_path = self._evidently_path()
        if self.evidently_path == "preset":
            res = evidently_drift(self._ev_ref, batch, self.types, self._ev_def)
            columns = {c: v["drifted"] for c, v in res["columns"].items()}
        else:
            columns = {c: v["drifted"] for c, v in evidently_column_drift(self.reference, batch, self.types).items()}
        drifted = {c for c, d in columns.items() if d}
        share = len(drifted) / len(columns)
        return bool(drifted), share >= EVIDENTLY_DRIFT_SHARE, drifted

    def _evidently_path(self) -> str:
        """``column_drift`` if Evidently's per-column function, called as the preset calls it
        but without building plots, reproduces the preset's scores and verdicts exactly on
        batches with and without shifts; otherwise ``preset`` (every repetition runs the
        full ``Report``). The preset spends most of its time rendering plotly widgets."""
        from drift_pipeline.lib.bench.drift_speed import evidently_drift

        checks = [
            (data.NO_SHIFT, 50),
            (data.NO_SHIFT, 1_000),
            (data.POWER_SCENARIOS[1], 10_000),
            (data.POWER_SCENARIOS[6], 200),
            (data.POWER_SCENARIOS[7], 2_000),
            (data.POWER_SCENARIOS[5], 500),
        ]
        for i, (scenario, size) in enumerate(checks[: self.evidently_checks]):
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xE7, i]))
            batch = data.detection_frame(min(size, 4 * len(self.reference)), rng, scenario)
            preset = evidently_drift(self._ev_ref, batch, self.types, self._ev_def)["columns"]
            lean = evidently_column_drift(self.reference, batch, self.types)
            for c, v in preset.items():
                w = lean[c]
                if v["drifted"] != w["drifted"] or v["method"] != w["method"] or not _same(v["value"], w["value"]):
                    return "preset"
        return "column_drift"


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or abs(a - b) <= 1e-12 * max(1.0, abs(a))


def evidently_column_drift(reference, current, types: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Evidently's per-column drift verdicts with default options, without the report.

    Calls ``evidently.legacy.calculations.data_drift.get_one_column_drift`` — the function
    ``DataDriftPreset``'s ``ValueDrift`` metrics call — with default ``DataDriftOptions``,
    one column at a time, as ``ValueDrift`` does, but with ``agg_data=False`` (no plot
    data). :meth:`_Monitors._evidently_path` checks it against the full preset.
    """
    from evidently.legacy.calculations.data_drift import get_one_column_drift
    from evidently.legacy.core import ColumnType
    from evidently.legacy.metric_results import DatasetColumns, DatasetUtilityColumns
    from evidently.legacy.options.data_drift import DataDriftOptions

    options = DataDriftOptions()
    out: dict[str, dict[str, Any]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for column, kind in types.items():
            ctype = ColumnType.Numerical if kind == "numeric" else ColumnType.Categorical
            columns = DatasetColumns(
                utility_columns=DatasetUtilityColumns(date=None, id=None, target=None, prediction=None),
                target_type=None,
                task=None,
                num_feature_names=[column] if ctype == ColumnType.Numerical else [],
                cat_feature_names=[column] if ctype == ColumnType.Categorical else [],
                text_feature_names=[],
                datetime_feature_names=[],
                target_names=None,
            )
            drift = get_one_column_drift(
                current_data=current,
                reference_data=reference,
                column_name=column,
                options=options,
                dataset_columns=columns,
                column_type=ctype,
                agg_data=False,
            )
            out[column] = {
                "method": drift.stattest_name,
                "threshold": drift.stattest_threshold,
                "value": float(drift.drift_score),
                "drifted": bool(drift.drift_detected),
            }
    return out


def _alerting_features(assessed: Any) -> set[str]:
    """Features whose severity is WARNING or CRITICAL in the assessed table."""
    import pandas as pd

    frame = assessed if isinstance(assessed, pd.DataFrame) else pd.DataFrame(assessed)
    if "feature" in frame.columns:
        names = frame["feature"].astype(str)
    else:
        names = pd.Series(frame.index.astype(str), index=frame.index)
    sev = frame["severity"].map(lambda s: getattr(s, "name", str(s)).upper())
    return set(names[sev.isin(ALERT_SEVERITIES)])


def _run_task(monitors: _Monitors, task: dict[str, Any]) -> dict[str, Any]:
    scenario = data.Scenario(**task["scenario"])
    target = scenario.feature
    alerts = target_hits = dataset = 0
    t0 = time.perf_counter()
    for rep in range(task["rep_start"], task["rep_start"] + task["reps"]):
        batch = monitors.batch(task["scenario_index"], task["size"], rep, scenario)
        if task["monitor"] == "ours":
            alert, features = monitors.ours(batch)
        else:
            alert, ds_drift, features = monitors.evidently(batch)
            dataset += ds_drift
        alerts += alert
        target_hits += target in features if target else 0
    return {
        "key": task["key"],
        "monitor": task["monitor"],
        "ks_permutations": None if monitors.decision_settings is None else monitors.decision_settings.ks_permutations,
        "evidently_path": monitors.evidently_path,
        "reps": task["reps"],
        "alerts": alerts,
        "target_alerts": target_hits,
        "dataset_drift": dataset,
        "seconds": time.perf_counter() - t0,
    }


def _worker_main() -> None:
    """Worker subprocess: a JSON header line, then one task per line; one result line each."""
    warnings.filterwarnings("ignore")
    header = json.loads(sys.stdin.readline())
    monitors = _Monitors(
        Path(header["config_dir"]),
        header["seed"],
        header["reference_rows"],
        evidently_checks=header["evidently_checks"],
    )
    for line in sys.stdin:
        if not line.strip():
            continue
        task = json.loads(line)
        try:
            out = _run_task(monitors, task)
        except Exception as exc:  # noqa: BLE001 - reported by the parent, which stops the benchmark
            out = {"key": task["key"], "monitor": task["monitor"], "error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


# --------------------------------------------------------------------------- planning


def _cells(plan: Plan, scenarios: list[data.Scenario], materiality_rows: int) -> list[dict[str, Any]]:
    """Every (family, scenario, size, monitor, reps) cell of the benchmark."""
    cells = []
    for size, reps in plan.no_shift_ours.items():
        cells.append(("no_shift", 0, data.NO_SHIFT, size, "ours", reps))
    for size, reps in plan.no_shift_evidently.items():
        cells.append(("no_shift", 0, data.NO_SHIFT, size, "evidently", reps))
    for i, sc in enumerate(scenarios, start=1):
        for size, reps in plan.power_ours.items():
            cells.append(("power", i, sc, size, "ours", reps))
        for size, reps in plan.power_evidently.items():
            cells.append(("power", i, sc, size, "evidently", reps))
    m = len(scenarios) + 1
    cells.append(("materiality", m, data.MATERIALITY, materiality_rows, "ours", plan.materiality_ours))
    cells.append(("materiality", m, data.MATERIALITY, materiality_rows, "evidently", plan.materiality_evidently))
    return [
        {"family": f, "scenario_index": i, "scenario": sc, "size": n, "monitor": mon, "reps": r}
        for f, i, sc, n, mon, r in cells
        if r > 0
    ]


def _tasks(cells: list[dict[str, Any]], plan: Plan) -> list[dict[str, Any]]:
    tasks = []
    for c in cells:
        chunk = plan.chunk_ours if c["monitor"] == "ours" else plan.chunk_evidently
        # Large batches cost more per repetition: smaller chunks keep the two workers balanced.
        chunk = max(1, chunk // (10 if c["size"] >= 100_000 else 1))
        key = _key(c)
        for start in range(0, c["reps"], chunk):
            tasks.append(
                {
                    "key": key,
                    "monitor": c["monitor"],
                    "scenario_index": c["scenario_index"],
                    "scenario": {"name": c["scenario"].name, "kind": c["scenario"].kind, "size": c["scenario"].size},
                    "size": c["size"],
                    "rep_start": start,
                    "reps": min(chunk, c["reps"] - start),
                    "cost": _cost(c["monitor"], c["size"]) * min(chunk, c["reps"] - start),
                }
            )
    # Longest first, so the last tasks to finish are short ones.
    return sorted(tasks, key=lambda t: -t["cost"])


def _key(cell: dict[str, Any]) -> str:
    return f"{cell['family']}|{cell['scenario'].name}|{cell['size']}|{cell['monitor']}"


def _cost(monitor: str, size: int) -> float:
    # Rough seconds per repetition (measured on the 2-core benchmark machine), for ordering only.
    if monitor == "evidently":
        return 0.25 + size * 1e-5
    return 0.02 + size * 2e-6


# --------------------------------------------------------------------------- driver


def _run_workers(
    tasks: list[dict[str, Any]], *, workers: int, header: dict[str, Any], progress: Progress | None
) -> list[dict[str, Any]]:
    """Feed tasks to ``workers`` subprocesses as each becomes free; collect their results."""
    import drift_pipeline

    root = str(Path(drift_pipeline.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        # one core per worker: BLAS threads would only fight over the same cores
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    code = "from drift_pipeline.lib.bench.detection import _worker_main; _worker_main()"
    pending = list(tasks)
    total, done = len(tasks), 0
    results: list[dict[str, Any]] = []
    sel = selectors.DefaultSelector()
    procs = []
    for _ in range(max(1, min(workers, len(tasks)))):
        p = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            bufsize=1,
        )
        p.stdin.write(json.dumps(header) + "\n")
        procs.append(p)

    def feed(p: subprocess.Popen) -> bool:
        if not pending:
            p.stdin.close()
            return False
        p.stdin.write(json.dumps(pending.pop(0)) + "\n")
        p.stdin.flush()
        return True

    try:
        for p in procs:
            if feed(p):
                sel.register(p.stdout, selectors.EVENT_READ, p)
        while sel.get_map():
            for key, _ in sel.select():
                p = key.data
                line = p.stdout.readline()
                if not line:  # worker died
                    sel.unregister(p.stdout)
                    err = p.stderr.read().strip().splitlines()
                    raise RuntimeError(f"detection worker exited: {err[-1] if err else p.wait()}")
                out = json.loads(line)
                if "error" in out:
                    raise RuntimeError(f"detection task {out['key']} failed: {out['error']}")
                results.append(out)
                done += 1
                report_progress(progress, f"{out['key']} ({out['reps']} reps)", done, total)
                if not feed(p):
                    sel.unregister(p.stdout)
    finally:
        for p in procs:
            if p.poll() is None:
                try:
                    p.stdin.close()
                except OSError:
                    pass
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
    return results


def _rate(k: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    p = k / n
    return p, math.sqrt(p * (1 - p) / n)


def _aggregate(cells: list[dict[str, Any]], results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    acc: dict[str, dict[str, Any]] = {}
    for c in cells:
        acc[_key(c)] = {
            "family": c["family"],
            "scenario": c["scenario"].name,
            "target_feature": c["scenario"].feature,
            "size": c["size"],
            "monitor": c["monitor"],
            "reps": 0,
            "alerts": 0,
            "target_alerts": 0,
            "dataset_drift": 0,
            "seconds": 0.0,
        }
    for r in results:
        a = acc[r["key"]]
        for f in ("reps", "alerts", "target_alerts", "dataset_drift", "seconds"):
            a[f] += r[f]
    for a in acc.values():
        a["alert_rate"], a["alert_se"] = _rate(a["alerts"], a["reps"])
        a["target_rate"], a["target_se"] = _rate(a["target_alerts"], a["reps"])
        if a["monitor"] == "evidently":
            a["dataset_drift_rate"], a["dataset_drift_se"] = _rate(a["dataset_drift"], a["reps"])
    return acc


def run_detection(
    *,
    json_out: Path | None = None,
    results_md: Path | None = None,
    quick: bool = False,
    progress: Progress | None = None,
    config_dir: Path | None = None,
    workers: int = 2,
    seed: int = SEED,
) -> dict[str, Any]:
    """Run the detection benchmark; print its tables; write JSON and the results section.

    ``quick=True`` runs a handful of repetitions on small batches (seconds), to prove the
    code paths; its rates mean nothing, so it prints and writes ``json_out`` but never
    touches ``results_md``. ``config_dir`` defaults to the project's ``config/``.
    """
    plan = QUICK_PLAN if quick else FULL_PLAN
    scenarios = QUICK_SCENARIOS if quick else data.POWER_SCENARIOS
    reference_rows = 2_000 if quick else REFERENCE_ROWS
    materiality_rows = QUICK_MATERIALITY_ROWS if quick else MATERIALITY_ROWS
    info = machine_info()
    cells = _cells(plan, scenarios, materiality_rows)
    tasks = _tasks(cells, plan)
    header = {
        "config_dir": str(default_config_dir() if config_dir is None else Path(config_dir).resolve()),
        "seed": seed,
        "reference_rows": reference_rows,
        "evidently_checks": 1 if quick else 6,
    }
    t0 = time.perf_counter()
    results = _run_workers(tasks, workers=workers, header=header, progress=progress)
    wall = time.perf_counter() - t0
    info["load_average_at_end"] = load_average()
    acc = _aggregate(cells, results)

    out: dict[str, Any] = {
        "benchmark": "detection",
        "machine": info,
        "quick": quick,
        "seed": seed,
        "reference_rows": reference_rows,
        "workers": workers,
        "wall_seconds": wall,
        "features": {"numeric": len(data.DETECTION_NUMERIC), "categorical": len(data.DETECTION_CATEGORICAL)},
        "evidently_alert_definition": "any column drifted (DriftedColumnsCount.count > 0); dataset drift (share >= 0.5) reported alongside",
        "ours_alert_definition": "any feature with severity WARNING or CRITICAL after assess_feature_drift (policy.yaml defaults)",
        "cells": list(acc.values()),
    }
    out["ours_ks_permutations_used"] = sorted(
        {r["ks_permutations"] for r in results if r["monitor"] == "ours" and r["ks_permutations"] is not None}
    )
    out["evidently_checks"] = header["evidently_checks"]
    out["evidently_paths_used"] = sorted(
        {r["evidently_path"] for r in results if r["monitor"] == "evidently" and r["evidently_path"]}
    )
    out["checks"] = _checks(acc, materiality_rows)
    text = detection_markdown(out, scenarios, materiality_rows)
    print(text)
    if json_out is not None:
        write_json(Path(json_out), out)
    # A quick run's rates mean nothing: it never overwrites the published results.
    if results_md is not None and not quick:
        update_results(Path(results_md), "detection", text)
        write_json(Path(results_md).with_suffix(".json"), out, section="detection")
    return out


def _cell(acc: dict[str, dict[str, Any]], family: str, scenario: str, size: int, monitor: str) -> dict[str, Any] | None:
    return acc.get(f"{family}|{scenario}|{size}|{monitor}")


def _checks(acc: dict[str, dict[str, Any]], materiality_rows: int) -> list[dict[str, Any]]:
    checks = []
    for a in acc.values():
        if a["family"] == "no_shift" and a["monitor"] == "ours" and a["reps"]:
            bound = FALSE_ALARM_TARGET + a["alert_se"]
            checks.append(
                {
                    "name": f"false-alarm rate at {a['size']:,} rows",
                    "value": a["alert_rate"],
                    "se": a["alert_se"],
                    "target": f"<= {FALSE_ALARM_TARGET:g} + MC s.e. ({bound:.4f})",
                    "pass": a["alert_rate"] <= bound,
                }
            )
    m = _cell(acc, "materiality", data.MATERIALITY.name, materiality_rows, "ours")
    if m and m["reps"]:
        bound = FALSE_ALARM_TARGET + m["alert_se"]
        checks.append(
            {
                "name": f"materiality: {data.MATERIALITY.name} at {materiality_rows:,} rows — shifted feature alerts",
                "value": m["target_rate"],
                "se": m["target_se"],
                "target": "0 (a shift this small must never alert)",
                "pass": m["target_alerts"] == 0,
            }
        )
        checks.append(
            {
                "name": f"materiality: {data.MATERIALITY.name} at {materiality_rows:,} rows — any alert",
                "value": m["alert_rate"],
                "se": m["alert_se"],
                "target": f"<= {FALSE_ALARM_TARGET:g} + MC s.e. ({bound:.4f}), the no-shift level",
                "pass": m["alert_rate"] <= bound,
            }
        )
    return checks


def _fmt_rate(a: dict[str, Any] | None, field: str = "alert") -> str:
    if not a or not a["reps"]:
        return "—"
    return f"{a[field + '_rate']:.3f} ± {a[field + '_se']:.3f}"


def detection_markdown(out: dict[str, Any], scenarios: list[data.Scenario], materiality_rows: int) -> str:
    """The results-file section for the detection benchmark."""
    acc = {f"{a['family']}|{a['scenario']}|{a['size']}|{a['monitor']}": a for a in out["cells"]}
    sizes = sorted({a["size"] for a in out["cells"] if a["family"] != "materiality"})
    rows = []
    for n in sizes:
        o = _cell(acc, "no_shift", data.NO_SHIFT.name, n, "ours")
        e = _cell(acc, "no_shift", data.NO_SHIFT.name, n, "evidently")
        if not o and not e:
            continue
        ok = None if not o else o["alert_rate"] <= FALSE_ALARM_TARGET + o["alert_se"]
        rows.append(
            [
                f"{n:,}",
                o["reps"] if o else None,
                _fmt_rate(o),
                None if ok is None else verdict(ok),
                e["reps"] if e else None,
                _fmt_rate(e),
                _fmt_rate(e, "dataset_drift"),
            ]
        )
    power_rows, target_rows = [], []
    for sc in scenarios:
        cells_o = [_cell(acc, "power", sc.name, n, "ours") for n in sizes]
        cells_e = [_cell(acc, "power", sc.name, n, "evidently") for n in sizes]
        power_rows.append([sc.name, *(_pair(o, e, "alert") for o, e in zip(cells_o, cells_e, strict=True))])
        target_rows.append(
            [f"{sc.name} ({sc.feature})", *(_pair(o, e, "target") for o, e in zip(cells_o, cells_e, strict=True))]
        )
    m_o = _cell(acc, "materiality", data.MATERIALITY.name, materiality_rows, "ours")
    m_e = _cell(acc, "materiality", data.MATERIALITY.name, materiality_rows, "evidently")
    parts = [
        "## Detection quality (`drift-pipeline bench detection`)",
        "",
        machine_markdown(out["machine"]),
        f"- wall time {out['wall_seconds'] / 60:.1f} min with {out['workers']} worker processes"
        + ("; **quick mode: rates are meaningless**" if out["quick"] else ""),
        "",
        (
            f"Reference: {out['reference_rows']:,} rows of 20 features ({out['features']['numeric']} numeric: normal, "
            "log-normal, Pareto, t, uniform, exponential, Poisson, gamma, beta, some with missing values; "
            f"{out['features']['categorical']} categorical with 2–15 levels), drawn once; every batch is a fresh seeded draw "
            "(`drift_pipeline.lib.bench.data.detection_frame`), the same batches for both monitors. "
            f"**Ours**: {out['ours_alert_definition']}; the reference profile is built once and reused. "
            f"**Evidently 0.7** `DataDriftPreset()` defaults — alert = {out['evidently_alert_definition']}. "
            "With a 10,000-row reference Evidently's defaults pick normalised Wasserstein (≥ 0.1) for numeric "
            "and Jensen–Shannon distance (≥ 0.1) for categorical columns. Rates are ± one Monte-Carlo standard error. "
            + _permutation_note(out)
            + " "
            + _evidently_note(out)
        ),
        "",
        "### No shift: rate of batches with at least one alert",
        "",
        table(
            [
                "batch rows",
                "ours reps",
                "ours rate",
                "≤ 5 % + s.e.",
                "Evidently reps",
                "Evidently any column",
                "Evidently dataset drift",
            ],
            rows,
        ),
        "",
        (
            f"### Power: rate of batches with at least one alert (ours / Evidently; ours {_reps_text(out['cells'], 'ours')}, "
            f"Evidently {_reps_text(out['cells'], 'evidently')} repetitions per cell)"
        ),
        "",
        table(["scenario", *(f"{n:,} rows" for n in sizes)], power_rows),
        "",
        "Rate at which the shifted feature itself alerts (ours / Evidently):",
        "",
        table(["scenario (feature)", *(f"{n:,} rows" for n in sizes)], target_rows),
        "",
        f"### Materiality: {data.MATERIALITY.name} on `age` at {materiality_rows:,} rows",
        "",
        f"- ours ({m_o['reps'] if m_o else 0} reps): any alert {_fmt_rate(m_o)}, `age` alerts {_fmt_rate(m_o, 'target')}",
        (
            f"- Evidently ({m_e['reps'] if m_e else 0} reps): any column {_fmt_rate(m_e)}, `age` drifted {_fmt_rate(m_e, 'target')}, "
            f"dataset drift {_fmt_rate(m_e, 'dataset_drift')}"
        ),
        "",
        "Reading the tables (facts of the two designs, not of this run):",
        "",
        (
            "- Ours alerts on a value shift only when the test is significant after the family correction *and* an "
            "effect size reaches its WARNING band (normalised Wasserstein ≥ 0.15, PSI ≥ 0.10, JS distance ≥ 0.10); a "
            "null-rate rise must reach 5 points. Shifts below every band — mean +0.05σ and +0.1σ (normalised "
            "Wasserstein ≈ 0.05 and 0.1), category TV 0.05 (PSI ≈ 0.03) — are immaterial by policy, so their rate "
            "falls to 0 as batches grow; the non-zero rates at middle sizes are sampling noise pushing the estimated "
            "effect over a band while the shift is also significant."
        ),
        (
            "- The missing-value scenario raises the null rate by exactly the WARNING band (5 points), so whether a "
            "batch alerts depends on which side of 0.05 its observed rise (against the realised reference rate) falls."
        ),
        (
            "- Evidently's defaults drop nulls before testing values, so a rise in missing values alone is invisible "
            "to them; their Wasserstein and JS cut-offs (0.1) have no sample-size allowance, so small batches cross "
            "them from noise alone."
        ),
        "",
        "Checks:",
        "",
    ]
    for c in out["checks"]:
        parts.append(
            f"- **{verdict(c['pass'])}** — {c['name']}: {c['value']:.4f} ± {c['se']:.4f} (target {c['target']})"
        )
    return "\n".join(parts) + "\n"


def _reps_text(cells: list[dict[str, Any]], monitor: str) -> str:
    """Repetitions per power cell, e.g. ``200 (100 at 100,000 rows)``."""
    by_size = {a["size"]: a["reps"] for a in cells if a["family"] == "power" and a["monitor"] == monitor}
    if not by_size:
        return "0"
    common = max(set(by_size.values()), key=list(by_size.values()).count)
    odd = ", ".join(f"{r} at {n:,} rows" for n, r in sorted(by_size.items()) if r != common)
    return f"{common} ({odd})" if odd else str(common)


def _permutation_note(out: dict[str, Any]) -> str:
    used = out.get("ours_ks_permutations_used", [])
    if used == [0]:
        return (
            "Our verdicts do not use the permutation KS threshold (it is reported, not decided on), so after "
            "checking in every worker that verdicts are identical with and without it, the benchmark sets "
            "`ks_permutations=0` for ours; every other setting is policy.yaml's."
        )
    return f"Ours ran with policy.yaml's settings unchanged (ks_permutations = {used})."


def _evidently_note(out: dict[str, Any]) -> str:
    if out.get("evidently_paths_used") == ["column_drift"]:
        return (
            "`DataDriftPreset` spends most of its time drawing plotly widgets, so Evidently's verdicts come from "
            "`get_one_column_drift` — the Evidently function the preset's `ValueDrift` metrics call — with default "
            f"`DataDriftOptions` and no plot data; each worker first checked on {out.get('evidently_checks')} batch(es) "
            "(with and without shifts, 50–10,000 rows) that scores, methods and verdicts equal the full preset's exactly."
        )
    return "Evidently ran the full `Report([DataDriftPreset()])` for every repetition."


def _pair(o: dict[str, Any] | None, e: dict[str, Any] | None, field: str) -> str | None:
    if not o and not e:
        return None
    fo = f"{o[field + '_rate']:.2f}" if o and o["reps"] else "—"
    fe = f"{e[field + '_rate']:.2f}" if e and e["reps"] else "—"
    return f"{fo} / {fe}"


if __name__ == "__main__":  # pragma: no cover - manual use
    run_detection(
        quick="--quick" in sys.argv, progress=lambda s, d, t: print(f"[{d}/{t}] {s}", file=sys.stderr, flush=True)
    )
