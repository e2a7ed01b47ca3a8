"""The command line: clear one-line errors, never a stack trace; the read-only audit commands."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from drift_pipeline.cli import main
from drift_pipeline.lib.audit import AlertIn, AuditStore


def _run(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "drift_pipeline.cli", *args], capture_output=True, text=True,
                          timeout=300, env=env, check=False)


def test_missing_file_is_one_clear_line(tmp_path):
    result = _run("compare", "--reference", str(tmp_path / "nope.csv"), "--current", str(tmp_path / "nope.csv"))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "nope.csv" in result.stderr
    assert "Traceback" not in result.stderr


def test_compare_prints_table_and_writes_json(tmp_path, capsys):
    rng = np.random.default_rng(3)
    pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(list("ab"), 2000)}).to_csv(tmp_path / "r.csv",
                                                                                       index=False)
    pd.DataFrame({"x": rng.normal(1.0, size=2000), "c": rng.choice(list("ab"), 2000)}).to_csv(tmp_path / "c.csv",
                                                                                            index=False)
    code = main(["compare", "--reference", str(tmp_path / "r.csv"), "--current", str(tmp_path / "c.csv"),
                 "--json", str(tmp_path / "out.json")])
    assert code == 0
    out = capsys.readouterr().out
    assert "x" in out and "CRITICAL" in out
    rows = {r["feature"]: r for r in json.loads((tmp_path / "out.json").read_text())["features"]}
    assert rows["x"]["severity"] == "CRITICAL" and rows["c"]["ks_statistic"] is None


def test_audit_commands_verify_trace_and_list(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("DRIFT_PIPELINE_AUDIT_URL", url)
    store = AuditStore(url)
    store.migrate()
    ids = store.record_alerts([AlertIn(
        model="m", partition="2013-05-01", family="data", metric="psi", feature="age", value=0.4,
        severity="CRITICAL", band="WARNING >= 0.1, CRITICAL >= 0.25", rule="policy.bands.data.psi",
        message="m 2013-05-01: psi(age)=0.4", run_id="r1", data_fingerprint="f" * 64, config_hash="c" * 16,
        baseline_version="2013-01-31-v1", code_version="0.1.0+abc", input_files=["data/x.csv"],
    )]).ids
    assert main(["audit", "verify"]) == 0
    assert "OK: 1 records" in capsys.readouterr().out
    assert main(["audit", "trace", str(ids[0])]) == 0
    trace = json.loads(capsys.readouterr().out)
    assert trace["input_files"] == ["data/x.csv"] and trace["config_hash"] == "c" * 16
    assert main(["audit", "alerts", "--model", "m", "--severity", "CRITICAL", "--json"]) == 0
    assert [a["id"] for a in json.loads(capsys.readouterr().out)] == list(ids)
    assert main(["audit", "trace", "999"]) == 2


@pytest.mark.parametrize("argv", [["demo", "--models", "nosuchmodel"], ["report", "nosuchmodel", "2013-05-01"]])
def test_unknown_model_is_a_clear_error(argv, capsys):
    assert main(argv) == 2
    assert "unknown model" in capsys.readouterr().err
