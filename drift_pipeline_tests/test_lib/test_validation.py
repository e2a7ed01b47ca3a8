"""Great Expectations suites built from the schema and reference catch each kind of bad batch."""

from __future__ import annotations

import pandas as pd
import pytest

from drift_pipeline.lib.config import load_model_configs, load_policy
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline.lib.sources import coerce_to_schema, load_source, partition_window, reference_window, rows_in_window
from drift_pipeline.lib.validation import blocking_failure, validate_batch, validation_profile

CONFIG = PROJECT_ROOT / "config"
COMPAS = load_model_configs(CONFIG)["compas"]
POLICY = load_policy(CONFIG)
PARTITION = "2013-05-15"


@pytest.fixture(scope="module")
def frames():
    source = coerce_to_schema(load_source(COMPAS, PROJECT_ROOT), COMPAS)
    reference = rows_in_window(source, COMPAS.time_column, reference_window(COMPAS))
    batch = rows_in_window(source, COMPAS.time_column, partition_window(COMPAS, PARTITION))
    return validation_profile(COMPAS, reference), batch


def _outcomes(profile, batch, problems=None):
    result = validate_batch(COMPAS, batch, profile, POLICY.validation, partition_window(COMPAS, PARTITION), problems)
    return {o.name: o for o in result}


def test_clean_batch_passes_every_check(frames):
    profile, batch = frames
    outcomes = _outcomes(profile, batch)
    assert all(o.passed for o in outcomes.values()), {n: o.summary for n, o in outcomes.items()}
    assert blocking_failure(list(outcomes.values())) is None


def test_missing_column_is_critical_and_named(frames):
    profile, batch = frames
    outcomes = _outcomes(profile, batch.drop(columns=["priors_count"]))
    check = outcomes["production_batch_has_required_columns"]
    assert not check.passed and check.severity == "critical"
    assert "column 'priors_count' (feature, numeric) is missing" in check.summary
    assert "priors_count" in blocking_failure(list(outcomes.values()))


def test_empty_partition_blocks(frames):
    profile, batch = frames
    outcomes = _outcomes(profile, batch.iloc[:0])
    assert not outcomes["production_batch_row_count_in_bounds"].passed
    assert "row count outside [50, 2000]" in blocking_failure(list(outcomes.values()))


def test_timestamp_outside_window_blocks(frames):
    profile, batch = frames
    shifted = batch.assign(compas_screening_date=batch["compas_screening_date"] + pd.Timedelta(days=60))
    outcomes = _outcomes(profile, shifted)
    assert not outcomes["production_batch_timestamps_in_window"].passed


def test_domain_and_range_problems_only_warn(frames):
    profile, batch = frames
    odd = batch.assign(c_charge_degree="X", age=batch["age"] + 500)
    outcomes = _outcomes(profile, odd)
    check = outcomes["production_batch_values_match_reference"]
    assert not check.passed and check.severity == "warning"
    assert "c_charge_degree" in check.summary and "age" in check.summary
    assert blocking_failure(list(outcomes.values())) is None


def test_load_problems_fail_the_required_columns_check(frames):
    profile, batch = frames
    outcomes = _outcomes(profile, batch, problems=["column 'age' is declared numeric but holds 'x'"])
    assert "declared numeric" in outcomes["production_batch_has_required_columns"].summary
