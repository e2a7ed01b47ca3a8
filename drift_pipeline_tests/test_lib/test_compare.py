"""The logic of ``drift-pipeline compare``: inputs, schema, outputs and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from drift_pipeline.lib.compare import (
    JSON_FIELDS,
    CompareError,
    infer_schema,
    load_schema,
    render_compare,
    render_compare_table,
    run_compare,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "row_id": np.arange(3000),
            "age": rng.normal(40, 10, 3000),
            "grade": rng.choice(list("ABC"), 3000),
            "member": rng.random(3000) < 0.3,
            "when": pd.date_range("2024-01-01", periods=3000, freq="h"),
        }
    )
    current = pd.DataFrame(
        {
            "row_id": np.arange(1000),
            "age": rng.normal(48, 10, 1000),
            "grade": rng.choice(list("ABCD"), 1000),
            "member": rng.random(1000) < 0.3,
            "when": pd.date_range("2024-06-01", periods=1000, freq="h"),
        }
    )
    current.loc[:99, "age"] = np.nan
    # CSV has no datetime dtype (its dates would be text, i.e. categorical): keep them out of it
    reference.drop(columns="when").to_csv(tmp_path / "reference.csv", index=False)
    current.to_parquet(tmp_path / "current.parquet")
    return tmp_path / "reference.csv", tmp_path / "current.parquet"


def test_compare_with_inferred_schema_writes_valid_json_and_html(files, tmp_path):
    reference, current = files
    result = run_compare(reference, current, json_out=tmp_path / "out" / "d.json", html_out=tmp_path / "d.html",
                         config_dir=CONFIG)  # fmt: skip
    assert result.schema_inferred
    inferred = yaml.safe_load(result.schema_yaml)
    assert {"name": "member", "role": "feature", "type": "boolean"} in inferred
    assert list(result.table["feature"]) == ["row_id", "age", "grade", "member"]
    assert result.table.set_index("feature").loc["age", "severity"] == "CRITICAL"

    document = json.loads((tmp_path / "out" / "d.json").read_text())  # strict JSON: no NaN
    assert document["worst_severity"] == "CRITICAL"
    record = {f["feature"]: f for f in document["features"]}
    assert set(JSON_FIELDS) <= set(record["grade"])
    assert record["grade"]["ks_statistic"] is None and record["grade"]["js_distance"] > 0
    assert record["age"]["null_rate_current"] == pytest.approx(0.1)
    assert "NaN" not in (tmp_path / "out" / "d.json").read_text()

    page = (tmp_path / "d.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page and "http" not in page
    assert "CRITICAL" in page and "grade" in page

    text = render_compare_table(result)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["feature", "type", "n_ref"] and len(lines) == 2 + 4
    assert "CRITICAL" in text
    printed = render_compare(result)
    assert printed.startswith("# Inferred schema") and "JSON written to" in printed


def test_inference_reads_dtypes_only():
    frame = pd.DataFrame(
        {
            "b": [True, False],
            "i": [1, 2],
            "f": [0.5, 1.5],
            "s": ["x", "y"],
            "maybe": pd.Series([True, None], dtype=object),
            "t": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        }
    )
    kinds = {s["name"]: (s["role"], s["type"]) for s in infer_schema(frame)}
    assert kinds == {
        "b": ("feature", "boolean"),
        "i": ("feature", "numeric"),  # integers are numbers: never guessed to be categories
        "f": ("feature", "numeric"),
        "s": ("feature", "categorical"),
        "maybe": ("feature", "boolean"),
        "t": ("timestamp", "datetime"),
    }


def test_compare_with_a_schema_file(files, tmp_path):
    reference, current = files
    schema = tmp_path / "schema.yaml"
    schema.write_text(
        "- {name: row_id, role: id, type: categorical}\n"
        "- {name: age, role: feature, type: numeric}\n"
        "- {name: grade, role: protected, type: categorical}\n"
    )
    result = run_compare(reference, current, schema_path=schema, config_dir=CONFIG)
    assert not result.schema_inferred
    assert list(result.table["feature"]) == ["age", "grade"]  # ids are not compared
    # a model config file is accepted as a schema file too
    model = run_compare(reference, current, schema_path=tmp_path / "schema.yaml", config_dir=CONFIG)
    assert list(model.table["feature"]) == ["age", "grade"]
    assert [s["name"] for s in load_schema(CONFIG / "models" / "flights.yaml")][:3] == [
        "flight_id", "sched_departure", "carrier",
    ]  # fmt: skip


def test_bad_input_names_the_file_or_column(files, tmp_path):
    reference, current = files
    with pytest.raises(CompareError, match="nope.csv: file not found"):
        run_compare(tmp_path / "nope.csv", current, config_dir=CONFIG)
    broken = tmp_path / "broken.parquet"
    broken.write_text("this is not parquet")
    with pytest.raises(CompareError, match="broken.parquet: cannot be read"):
        run_compare(reference, broken, config_dir=CONFIG)
    (tmp_path / "page.html").write_text("<p>not a table</p>")
    with pytest.raises(CompareError, match="page.html: unknown file type"):
        run_compare(reference, tmp_path / "page.html", config_dir=CONFIG)
    schema = tmp_path / "schema.yaml"
    schema.write_text("- {name: salary, role: feature, type: numeric}\n")
    with pytest.raises(CompareError, match="reference.csv: missing column.*'salary'"):
        run_compare(reference, current, schema_path=schema, config_dir=CONFIG)
    schema.write_text("- {name: age, role: feature, type: numerical}\n")
    with pytest.raises(CompareError, match="schema entry 0"):
        run_compare(reference, current, schema_path=schema, config_dir=CONFIG)
    schema.write_text("- {name: grade, role: feature, type: numeric}\n")
    with pytest.raises(CompareError, match="column 'grade': expected numeric values"):
        run_compare(reference, current, schema_path=schema, config_dir=CONFIG)
    with pytest.raises(CompareError, match="schema file not found"):
        run_compare(reference, current, schema_path=tmp_path / "none.yaml", config_dir=CONFIG)
    with pytest.raises(CompareError, match="policy.yaml"):
        run_compare(reference, current, config_dir=tmp_path / "no-config")
