"""Reference profiles (build, save/load, fingerprint) and mergeable batch summaries."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_pipeline.lib.config import load_policy
from drift_pipeline.lib.drift import (
    DRIFT_COLUMNS,
    feature_drift,
    feature_drift_from_summary,
)
from drift_pipeline.lib.profile import (
    BatchSummary,
    DriftInputError,
    ReferenceProfile,
    summarize_parquet,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"
SETTINGS = load_policy(CONFIG).data_drift
SCHEMA = {"x": "numeric", "k": "numeric", "c": "categorical", "b": "boolean"}


def _frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(shift, 1.0, n)
    x[rng.random(n) < 0.03] = np.nan
    return pd.DataFrame(
        {
            "x": x,
            "k": rng.poisson(3, n).astype(float),
            "c": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
            "b": rng.random(n) < 0.3,
        }
    )


@pytest.fixture(scope="module")
def profile() -> ReferenceProfile:
    return ReferenceProfile.build(_frame(2000, seed=1), SCHEMA, SETTINGS)


def test_profile_holds_the_reference_statistics(profile):
    reference = _frame(2000, seed=1)
    x = profile.features["x"]
    finite = np.sort(reference["x"].dropna().to_numpy())
    np.testing.assert_array_equal(x.grid.expanded, finite)
    assert x.n_rows == 2000 and x.n_null == reference["x"].isna().sum()
    # tolerance 1e-12: the same reductions in numpy
    assert x.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert x.std == pytest.approx(finite.std(), rel=1e-12)
    assert (x.min, x.max) == (finite[0], finite[-1])
    np.testing.assert_array_equal(x.edges, np.unique(np.quantile(finite, np.arange(1, 10) / 10, method="inverted_cdf")))
    assert x.bin_counts.sum() == finite.size
    c = profile.features["c"]
    assert c.categories == ("blue", "green", "red")
    np.testing.assert_array_equal(c.counts, [np.sum(reference["c"] == v) for v in c.categories])
    b = profile.features["b"]
    assert b.categories == ("False", "True") and b.counts.sum() == 2000

    table = profile.summary_table()
    assert list(table.columns) == [
        "feature", "type", "n", "null_rate", "mean", "std", "min", "max", "n_categories", "top_category",
    ]  # fmt: skip
    assert list(table["feature"]) == list(SCHEMA)
    row = table.set_index("feature").loc["c"]
    assert row["n_categories"] == 3 and row["top_category"] == "red"


def test_save_load_roundtrip_is_byte_identical_and_fingerprinted(profile, tmp_path):
    first = profile.save(tmp_path / "a")
    second = ReferenceProfile.build(_frame(2000, seed=1), SCHEMA, SETTINGS).save(tmp_path / "b")
    for name in ("profile.json", "arrays.npz"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    loaded = ReferenceProfile.load(first)
    assert loaded.fingerprint == profile.fingerprint
    assert loaded.schema == profile.schema
    current = _frame(500, seed=2, shift=0.4)
    pd.testing.assert_frame_equal(feature_drift(loaded, current, SETTINGS), feature_drift(profile, current, SETTINGS))
    other = ReferenceProfile.build(_frame(2000, seed=3), SCHEMA, SETTINGS)
    assert other.fingerprint != profile.fingerprint


def test_a_tampered_profile_is_refused(profile, tmp_path):
    directory = profile.save(tmp_path / "p")
    text = (directory / "profile.json").read_text().replace('"n_rows": 2000', '"n_rows": 2001', 1)
    (directory / "profile.json").write_text(text)
    with pytest.raises(DriftInputError, match="fingerprint"):
        ReferenceProfile.load(directory)
    with pytest.raises(DriftInputError, match="no saved reference profile"):
        ReferenceProfile.load(tmp_path / "missing")


def test_schema_problems_name_the_column():
    frame = _frame(100, seed=1)
    with pytest.raises(DriftInputError, match="'missing'.*reference data"):
        ReferenceProfile.build(frame, {"missing": "numeric"}, SETTINGS)
    with pytest.raises(DriftInputError, match="'x'.*datetime"):
        ReferenceProfile.build(frame, {"x": "datetime"}, SETTINGS)
    with pytest.raises(DriftInputError, match="'c': expected numeric values, found 'red'"):
        ReferenceProfile.build(frame, {"c": "numeric"}, SETTINGS)


# --------------------------------------------------------------------------- merging

values = st.one_of(
    st.floats(-5, 5, allow_nan=False, width=16),  # few distinct values: ties with the reference
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1.0, 2.5]),
    st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    xs=st.lists(values, min_size=0, max_size=120),
    cats=st.lists(st.sampled_from(["a", "b", "c", "new", None]), min_size=120, max_size=120),
    cuts=st.lists(st.integers(0, 120), max_size=5),
)
def test_merged_chunk_summaries_equal_one_pass(xs, cats, cuts):
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {"v": np.r_[np.round(rng.normal(size=300), 1), [0.0, 1.0, 2.5]], "s": rng.choice(["a", "b", "c"], 303)}
    )
    prof = ReferenceProfile.build(reference, {"v": "numeric", "s": "categorical"}, SETTINGS)
    batch = pd.DataFrame({"v": np.array(xs, dtype=float), "s": cats[: len(xs)]})
    bounds = sorted({0, len(xs), *(c for c in cuts if c <= len(xs))})
    parts = [batch.iloc[a:b] for a, b in itertools.pairwise(bounds)] or [batch]
    merged = BatchSummary.from_frame(parts[0], prof)
    for part in parts[1:]:
        merged = merged.merge(BatchSummary.from_frame(part, prof))
    whole = BatchSummary.from_frame(batch, prof)
    assert merged.equals(whole)
    one = feature_drift_from_summary(prof, whole, SETTINGS.model_copy(update={"min_sample_size": 1}))
    many = feature_drift_from_summary(prof, merged, SETTINGS.model_copy(update={"min_sample_size": 1}))
    exact = [c for c in DRIFT_COLUMNS if c not in {"wasserstein", "wasserstein_normed"}]
    pd.testing.assert_frame_equal(one[exact], many[exact], check_exact=False, rtol=1e-12, atol=0)
    # Wasserstein of merged cells: within its computed error bound (0 when exact)
    from drift_pipeline.lib.drift import numeric_statistics

    stats = numeric_statistics(prof.features["v"], merged.features["v"], SETTINGS)
    if not math.isnan(one.loc[0, "wasserstein"]):
        assert abs(stats["wasserstein"] - one.loc[0, "wasserstein"]) <= stats["wasserstein_error_bound"] + 1e-9


def test_summaries_refuse_to_merge_across_profiles(profile):
    other = ReferenceProfile.build(_frame(300, seed=9), SCHEMA, SETTINGS)
    a = BatchSummary.from_frame(_frame(50, seed=1), profile)
    b = BatchSummary.from_frame(_frame(50, seed=1), other)
    with pytest.raises(DriftInputError, match="different reference profiles"):
        a.merge(b)


def test_parquet_is_summarised_row_group_by_row_group(profile, tmp_path):
    batch = _frame(5000, seed=4, shift=0.2)
    path = tmp_path / "batch.parquet"
    pq.write_table(pa.Table.from_pandas(batch, preserve_index=False), path, row_group_size=700)
    streamed = summarize_parquet(profile, path, batch_rows=600)
    assert streamed.equals(BatchSummary.from_frame(batch, profile))
    assert streamed.n_rows == 5000
    with pytest.raises(DriftInputError, match="file not found"):
        summarize_parquet(profile, tmp_path / "nope.parquet")
    pq.write_table(pa.Table.from_pandas(batch[["x"]], preserve_index=False), tmp_path / "narrow.parquet")
    with pytest.raises(DriftInputError, match="missing from the file"):
        summarize_parquet(profile, tmp_path / "narrow.parquet")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DriftInputError, match="not a readable parquet file"):
        summarize_parquet(profile, tmp_path / "bad.parquet")


def test_one_chunk_summary_keeps_values_and_merged_keeps_cells(profile):
    a = BatchSummary.from_frame(_frame(300, seed=5), profile).features["x"]
    b = BatchSummary.from_frame(_frame(300, seed=6), profile).features["x"]
    assert a.values is not None
    merged = a.merge(b)
    assert merged.values is None
    assert merged.cells.n == a.n_finite + b.n_finite
    # cells never outnumber 2K + 1 whatever the batch size
    assert merged.cells.ids.size <= 2 * profile.features["x"].grid.size + 1
