"""Smoke test of the benchmarks: every code path runs at tiny sizes. Asserts structure, never times
(benchmarks are not tests, STYLE habit 11)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drift_pipeline.lib.bench import data
from drift_pipeline.lib.bench.detection import evidently_column_drift, run_detection
from drift_pipeline.lib.bench.drift_speed import evidently_drift, run_drift_speed, scipy_loop_drift
from drift_pipeline.lib.bench.report import update_results

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_generators_are_seeded_and_typed():
    a = data.speed_frame(500, seed=1, shifted=True)
    b = data.speed_frame(500, seed=1, shifted=True)
    assert a.equals(b)
    assert list(a.columns) == list(data.SPEED_TYPES)
    assert a[data.SPEED_NUMERIC].isna().any().any()  # NaNs are part of the workload
    assert "F_new" in set(a["c1"].dropna())  # the known new category
    rng = np.random.default_rng(0)
    frame = data.detection_frame(300, rng, data.POWER_SCENARIOS[-1])
    assert list(frame.columns) == list(data.DETECTION_TYPES) and len(data.DETECTION_TYPES) == 20


def test_peers_agree_on_what_they_compute():
    ref = data.speed_frame(400, seed=2, shifted=False)
    cur = data.speed_frame(300, seed=3, shifted=True)
    naive = scipy_loop_drift(ref, cur, data.SPEED_TYPES)
    assert set(naive) == set(data.SPEED_TYPES)
    assert 0 <= naive["x0"]["ks_statistic"] <= 1 and naive["c0"]["js_distance"] >= 0
    ev = evidently_drift(ref, cur, data.SPEED_TYPES)
    assert set(ev["columns"]) == set(data.SPEED_TYPES)
    # our reading of per-column verdicts matches Evidently's own count
    assert sum(c["drifted"] for c in ev["columns"].values()) == ev["drifted_count"]
    # the detection benchmark's lean path reproduces the preset
    lean = evidently_column_drift(ref, cur, data.SPEED_TYPES)
    for col, v in ev["columns"].items():
        assert (lean[col]["method"], lean[col]["drifted"]) == (v["method"], v["drifted"])
        assert lean[col]["value"] == pytest.approx(v["value"], rel=1e-12, abs=1e-15)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_drift_speed_benchmark_runs(tmp_path):
    md = tmp_path / "benchmarks.md"
    out = run_drift_speed(
        2_000,
        repeats=1,
        json_out=tmp_path / "speed.json",
        results_md=md,
        include_evidently=False,
        config_dir=CONFIG,
        stream_rows=(4_000, 8_000),
        stream_row_group_rows=2_000,
        stream_reference_rows=2_000,
        permutation_rows=500,
    )
    for peer in ("ours", "scipy_loop", "numpy_sort"):
        assert "error" not in out["peers"][peer], out["peers"][peer]
        assert out["peers"][peer]["peak_rss_mb"] > 0
    assert "error" not in out["streaming"]["rows"]["8000"]
    assert "error" not in out["permutation"]
    assert {t["name"] for t in out["targets"]} and all("pass" in t for t in out["targets"])
    assert json.loads((tmp_path / "speed.json").read_text())["rows"] == 2_000
    text = md.read_text()
    assert "<!-- bench:drift_speed:start -->" in text and "Targets:" in text
    assert "drift_speed" in json.loads(md.with_suffix(".json").read_text())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_detection_benchmark_runs_quick(tmp_path):
    md = tmp_path / "benchmarks.md"
    before = "# Benchmarks\n\n<!-- bench:detection:start -->\npublished\n<!-- bench:detection:end -->\n"
    md.write_text(before)
    out = run_detection(json_out=tmp_path / "det.json", results_md=md, quick=True, config_dir=CONFIG, workers=1)
    monitors = {(c["family"], c["monitor"]) for c in out["cells"] if c["reps"]}
    assert ("no_shift", "ours") in monitors and ("no_shift", "evidently") in monitors
    assert ("power", "ours") in monitors and ("materiality", "ours") in monitors
    for c in out["cells"]:
        assert 0 <= c["alerts"] <= c["reps"]
    assert out["checks"] and all(isinstance(c["pass"], bool) for c in out["checks"])
    # a quick run never overwrites published results
    assert md.read_text() == before
    written = json.loads((tmp_path / "det.json").read_text())
    assert written["quick"] is True and written["checks"]


def test_results_file_sections_are_independent(tmp_path):
    md = tmp_path / "benchmarks.md"
    update_results(md, "detection", "first detection\n")
    update_results(md, "drift_speed", "speed\n")
    update_results(md, "detection", "second detection\n")
    text = md.read_text()
    assert "speed" in text and "second detection" in text and "first detection" not in text
    assert text.index("speed") < text.index("second detection")  # fixed section order
