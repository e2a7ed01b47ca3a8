"""Benchmarks: speed and memory against peers, and detection quality against Evidently.

Benchmarks are not tests (STYLE habit 11): they print a table and write
``docs/benchmarks.md`` / ``docs/benchmarks.json``; tests never assert a time.

``run_drift_speed`` and ``run_detection`` are imported lazily, so that importing
``drift_pipeline.lib.bench.data`` (e.g. in a spawned child) stays light.
"""

from typing import Any

__all__ = ["run_detection", "run_drift_speed"]


def __getattr__(name: str) -> Any:
    if name == "run_drift_speed":
        from drift_pipeline.lib.bench.drift_speed import run_drift_speed

        return run_drift_speed
    if name == "run_detection":
        from drift_pipeline.lib.bench.detection import run_detection

        return run_detection
    raise AttributeError(name)
