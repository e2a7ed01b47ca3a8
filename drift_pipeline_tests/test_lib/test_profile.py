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
# Columns that merged summaries reproduce exactly; Wasserstein is checked against its error bound.
EXACT = [c for c in DRIFT_COLUMNS if c not in {"wasserstein", "wasserstein_normed"}]


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
    pd.testing.assert_frame_equal(one[EXACT], many[EXACT], check_exact=False, rtol=1e-12, atol=0)
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


def test_merged_summaries_switch_to_fixed_size_cells_and_stop_growing(profile):
    from drift_pipeline.lib.stats import DenseCells

    grid = profile.features["x"].grid
    chunks = [_frame(400, seed=20 + i, shift=0.1) for i in range(40)]
    merged = BatchSummary.from_frame(chunks[0], profile)
    sizes = []
    for chunk in chunks[1:]:
        merged = merged.merge(BatchSummary.from_frame(chunk, profile))
        x = merged.features["x"]
        sizes.append(DenseCells.nbytes_for(grid) if x.dense is not None else x.merged_cells.nbytes)
    # 16,000 values against a 2,000-row reference: occupied cells would outgrow the fixed-size form
    assert merged.features["x"].dense is not None
    assert max(sizes) <= DenseCells.nbytes_for(grid)
    whole = BatchSummary.from_frame(pd.concat(chunks, ignore_index=True), profile)
    assert merged.equals(whole)
    # the statistics, the KS threshold included (ties are kept: min and max per gap), equal one
    # pass; Wasserstein lies within its computed error bound (gaps of >= 4 values where the ECDFs cross)
    one = feature_drift_from_summary(profile, whole, SETTINGS)
    many = feature_drift_from_summary(profile, merged, SETTINGS)
    pd.testing.assert_frame_equal(one[EXACT], many[EXACT], check_exact=False, rtol=1e-12, atol=0)
    from drift_pipeline.lib.drift import numeric_statistics

    stats = numeric_statistics(profile.features["x"], merged.features["x"], SETTINGS)
    assert 0 < stats["wasserstein_error_bound"] <= 0.01 * stats["wasserstein"]
    assert abs(stats["wasserstein"] - one.loc[0, "wasserstein"]) <= stats["wasserstein_error_bound"] + 1e-12


def test_merging_never_changes_its_inputs(profile):
    a = BatchSummary.from_frame(_frame(12_000, seed=30), profile)
    b = BatchSummary.from_frame(_frame(12_000, seed=31), profile)
    ab = a.merge(b)
    assert ab.features["x"].dense is not None
    before = ab.features["x"].cells
    ab.merge(a)  # functional merge: copies the fixed-size cells
    assert ab.features["x"].cells.equals(before)
    abc = ab.merge(a, reuse=True)  # streaming: takes over ab's buffers
    assert abc.features["x"].dense is ab.features["x"].dense
    assert abc.features["x"].n_rows == 36_000


def test_streamed_parquet_accumulates_in_fixed_size_cells(profile, tmp_path):
    batch = _frame(6000, seed=32, shift=0.3)
    path = tmp_path / "batch.parquet"
    pq.write_table(pa.Table.from_pandas(batch, preserve_index=False), path, row_group_size=1000)
    streamed = summarize_parquet(profile, path, batch_rows=700)
    assert streamed.features["x"].dense is not None  # chosen from the file's row count up front
    assert streamed.equals(BatchSummary.from_frame(batch, profile))
    one = feature_drift(profile, batch, SETTINGS)
    many = feature_drift_from_summary(profile, streamed, SETTINGS)
    pd.testing.assert_frame_equal(many[EXACT], one[EXACT], check_exact=False, rtol=1e-12, atol=0)
    np.testing.assert_allclose(many["wasserstein"], one["wasserstein"], rtol=1e-2)  # within its bound, see above


def test_text_categories_are_counted_like_their_canonical_spelling():
    reference = pd.DataFrame({"c": ["1", "2", "x", "x", None, "2"]})
    prof = ReferenceProfile.build(reference, {"c": "categorical"}, SETTINGS)
    values = ["1", 1, 1.0, "2", 2, "x", "new", None, np.nan, "x", "True"]
    direct = BatchSummary.from_frame(pd.DataFrame({"c": pd.Series(values, dtype=object)}), prof).features["c"]
    # the Categorical dtype takes the canonicalising path for every value
    as_category = pd.DataFrame({"c": pd.Categorical([str(v) if isinstance(v, str) else v for v in values])})
    canonical = BatchSummary.from_frame(as_category, prof).features["c"]
    assert direct.equals(canonical)
    assert prof.features["c"].categories == ("1", "2", "x")
    assert direct.counts.tolist() == [3, 2, 2, 2]  # "1" x3, "2" x2, "x" x2, unseen: "new" and "True"
    assert direct.n_null == 2
    strings = pd.DataFrame({"c": pd.array(["1", "x", None, "zzz"], dtype="string")})
    summary = BatchSummary.from_frame(strings, prof).features["c"]
    assert summary.counts.tolist() == [1, 0, 1, 1] and summary.n_null == 1


def test_threads_never_change_a_number(monkeypatch):
    rng = np.random.default_rng(33)
    n = 60_000  # above the size at which columns are summarised in parallel
    reference = pd.DataFrame({f"v{i}": rng.normal(size=n) for i in range(4)} | {"c": rng.choice(list("abc"), n)})
    batch = pd.DataFrame({f"v{i}": rng.normal(0.01 * i, 1, size=n) for i in range(4)} | {"c": rng.choice(list("abcd"), n)})
    schema = {**{f"v{i}": "numeric" for i in range(4)}, "c": "categorical"}
    prof = ReferenceProfile.build(reference, schema, SETTINGS)
    monkeypatch.setenv("DRIFT_PIPELINE_THREADS", "1")
    serial = feature_drift(prof, batch, SETTINGS)
    monkeypatch.setenv("DRIFT_PIPELINE_THREADS", "4")
    pd.testing.assert_frame_equal(feature_drift(prof, batch, SETTINGS), serial, check_exact=True)
    monkeypatch.setenv("DRIFT_PIPELINE_THREADS", "many")
    with pytest.raises(DriftInputError, match="DRIFT_PIPELINE_THREADS='many': expected a positive integer"):
        feature_drift(prof, batch, SETTINGS)


def test_streaming_asks_only_for_profiled_columns(profile, tmp_path):
    path = tmp_path / "batch.parquet"
    pq.write_table(pa.Table.from_pandas(_frame(100, seed=3), preserve_index=False), path)
    with pytest.raises(DriftInputError, match=r"columns not in the reference profile: \['nope'\]"):
        summarize_parquet(profile, path, columns=["x", "nope"])


def test_booleans_and_numbers_in_one_categorical_column_stay_apart():
    # Python hashes True like 1 and False like 0: they must still be different categories
    reference = pd.DataFrame({"c": pd.Series([1, True, "a", 0, False, 1.0, None], dtype=object)})
    prof = ReferenceProfile.build(reference, {"c": "categorical"}, SETTINGS)
    ref = prof.features["c"]
    assert dict(zip(ref.categories, ref.counts.tolist())) == {"0": 1, "1": 2, "False": 1, "True": 1, "a": 1}
    assert ref.n_null == 1
    batch = pd.DataFrame({"c": pd.Series([True, True, 1, "1", np.True_, 0.0, "b", None], dtype=object)})
    summary = BatchSummary.from_frame(batch, prof).features["c"]
    counts = dict(zip([*ref.categories, "<unseen>"], summary.counts.tolist()))
    assert counts == {"0": 1, "1": 2, "False": 0, "True": 3, "a": 0, "<unseen>": 1}
    assert summary.n_null == 1
