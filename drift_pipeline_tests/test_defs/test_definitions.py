"""All definitions load, each model has its own keyed graph, and a new model is only a YAML file."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import dagster as dg
import pytest

from drift_pipeline.defs.models import build_definitions
from drift_pipeline.lib.project import PROJECT_ROOT

EXPECTED = {"production_batch", "feature_drift", "drift_alerts", "drift_report", "reference_dataset",
            "reference_profile"}


@pytest.fixture(scope="module")
def definitions():
    from drift_pipeline.definitions import defs

    return defs()


def test_code_location_loads_both_models(definitions):
    keys = {tuple(k.path) for k in definitions.resolve_all_asset_keys()}
    for model in ("flights", "compas"):
        assert {(model, a) for a in EXPECTED} <= keys
    assert ("flights", "model_artifact") in keys and ("compas", "model_artifact") not in keys
    checks = {(tuple(k.asset_key.path), k.name) for k in definitions.resolve_asset_graph().asset_check_keys}
    assert (("compas", "production_batch"), "production_batch_has_required_columns") in checks
    for model in ("flights", "compas"):
        definitions.resolve_job_def(f"{model}_monitoring_job")
        definitions.resolve_job_def(f"{model}_baseline_job")


def test_every_asset_has_a_one_line_description(definitions):
    for spec in definitions.resolve_all_asset_specs():
        assert spec.description and "\n" not in spec.description.strip(), spec.key


def test_partitions_match_the_contract(definitions):
    flights = definitions.get_assets_def(dg.AssetKey(["flights", "production_batch"])).partitions_def
    compas = definitions.get_assets_def(dg.AssetKey(["compas", "production_batch"])).partitions_def
    assert (flights.get_first_partition_key(), flights.get_last_partition_key()) == ("2013-02-01", "2013-12-31")
    assert (compas.get_first_partition_key(), compas.get_last_partition_key()) == ("2013-04-01", "2014-03-31")
    assert len(flights.get_partition_keys()) + len(compas.get_partition_keys()) == 334 + 365


@pytest.mark.slow
def test_dagster_cli_validates_the_workspace():
    result = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def test_a_third_model_is_one_yaml_file(tmp_path):
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    data = tmp_path / "loans.csv"
    data.write_text("day,amount,purpose,score,approved,repaid\n2020-01-01,100,car,0.3,false,true\n")
    (config / "models" / "loans.yaml").write_text(textwrap.dedent(f"""
        name: loans
        description: A third model added without code.
        risk_level: low
        source: {{kind: file, path: {data}}}
        time_column: day
        partitioning: {{start: 2020-02-01, end: 2020-02-29}}
        reference: {{start: 2020-01-01, end: 2020-01-31}}
        model: {{kind: external, version: v1, score_column: score}}
        schema:
          - {{name: day, role: timestamp, type: datetime}}
          - {{name: amount, role: feature, type: numeric}}
          - {{name: purpose, role: feature, type: categorical}}
          - {{name: score, role: score, type: numeric}}
          - {{name: approved, role: prediction, type: boolean}}
          - {{name: repaid, role: label, type: boolean}}
    """))
    definitions = build_definitions(config_dir=config, var=tmp_path / "var")
    keys = {tuple(k.path) for k in definitions.resolve_all_asset_keys()}
    assert {("loans", a) for a in EXPECTED} <= keys
    definitions.resolve_job_def("loans_monitoring_job")
