"""The per-feature drift table and its assessment: values, robustness, gating, reproducibility."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon

from drift_pipeline.lib.config import load_policy
from drift_pipeline.lib.drift import (
    ASSESSMENT_COLUMNS,
    DRIFT_COLUMNS,
    DriftInputError,
    assess_feature_drift,
    feature_drift,
    feature_drift_from_parquet,
)
from drift_pipeline.lib.profile import ReferenceProfile
from drift_pipeline.lib.stats import adjust_pvalues

CONFIG = Path(__file__).resolve().parents[2] / "config"
POLICY = load_policy(CONFIG)
SETTINGS = POLICY.data_drift
# Tolerances: KS statistic/p-value rel 1e-12, Wasserstein rel 1e-10, JS and chi-square rel 1e-12
# (see test_stats.py for why).


def _table(reference: pd.DataFrame, current: pd.DataFrame, schema: dict[str, str], **update) -> pd.DataFrame:
    settings = SETTINGS.model_copy(update=update)
    return feature_drift(ReferenceProfile.build(reference, schema, settings), current, settings)


def _row(table: pd.DataFrame, feature: str) -> pd.Series:
    return table.set_index("feature").loc[feature]


def test_table_shape_order_and_values_against_scipy():
    rng = np.random.default_rng(0)
    reference = pd.DataFrame(
        {
            "num": rng.normal(size=3000),
            "cat": rng.choice(["a", "b", "c"], 3000, p=[0.5, 0.3, 0.2]),
            "flag": rng.random(3000) < 0.4,
        }
    )
    current = pd.DataFrame(
        {
            "num": rng.normal(0.3, 1.2, size=800),
            "cat": rng.choice(["a", "b", "c", "d"], 800, p=[0.4, 0.3, 0.2, 0.1]),
            "flag": rng.random(800) < 0.5,
            "ignored": 1,
        }
    )
    schema = {"num": "numeric", "cat": "categorical", "flag": "boolean"}
    table = _table(reference, current, schema)
    assert list(table.columns) == DRIFT_COLUMNS
    assert list(table["feature"]) == ["num", "cat", "flag"]
    num = _row(table, "num")
    ks = sps.ks_2samp(reference["num"], current["num"])
    assert num["ks_statistic"] == pytest.approx(ks.statistic, rel=1e-12)
    assert num["ks_pvalue"] == pytest.approx(ks.pvalue, rel=1e-12, abs=1e-300)
    assert num["wasserstein"] == pytest.approx(sps.wasserstein_distance(reference["num"], current["num"]), rel=1e-10)
    assert num["wasserstein_normed"] == pytest.approx(num["wasserstein"] / reference["num"].std(ddof=0), rel=1e-12)
    assert num["p_value"] == num["ks_pvalue"]
    assert math.isnan(num["js_distance"]) and math.isnan(num["chi2_pvalue"]) and math.isnan(num["unseen_share"])
    assert num["psi_ci_low"] <= num["psi"] <= num["psi_ci_high"]
    assert 0 <= num["ks_threshold"] < 1
    cat = _row(table, "cat")
    ref_counts = [np.sum(reference["cat"] == v) for v in "abc"] + [0]
    cur_counts = [np.sum(current["cat"] == v) for v in "abc"] + [np.sum(current["cat"] == "d")]
    assert cat["js_distance"] == pytest.approx(jensenshannon(ref_counts, cur_counts, base=2), rel=1e-12)
    assert cat["chi2_pvalue"] == pytest.approx(sps.chi2_contingency([ref_counts, cur_counts]).pvalue, rel=1e-12)
    assert cat["unseen_share"] == pytest.approx(np.mean(current["cat"] == "d"), rel=1e-12)
    assert math.isnan(cat["ks_statistic"]) and math.isnan(cat["ks_threshold"])
    flag = _row(table, "flag")
    two = [[np.sum(~reference["flag"]), np.sum(reference["flag"])], [np.sum(~current["flag"]), np.sum(current["flag"])]]
    assert flag["chi2_pvalue"] == pytest.approx(sps.chi2_contingency(two).pvalue, rel=1e-12)
    # family: 3 primary tests + 3 null-rate tests, Bonferroni
    family = np.r_[table["p_value"], table["null_rate_pvalue"]]
    np.testing.assert_allclose(table["p_adjusted"], adjust_pvalues(family)[:3], rtol=1e-15)


def test_identical_inputs_give_identical_tables():
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"a": np.round(rng.normal(size=5000), 1), "b": rng.choice(list("xyz"), 5000)})
    current = pd.DataFrame({"a": np.round(rng.normal(size=700), 1), "b": rng.choice(list("xyz"), 700)})
    schema = {"a": "numeric", "b": "categorical"}
    first = _table(reference, current, schema)
    second = _table(reference.copy(), current.copy(), schema)
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    # a feature's interval and threshold do not depend on the other features
    alone = _table(reference[["a"]], current[["a"]], {"a": "numeric"})
    assert alone.loc[0, ["psi_ci_low", "psi_ci_high", "ks_threshold"]].tolist() == first.loc[
        0, ["psi_ci_low", "psi_ci_high", "ks_threshold"]
    ].tolist()


@pytest.mark.parametrize("correction", ["holm", "bh"])
def test_correction_is_taken_from_the_settings(correction):
    rng = np.random.default_rng(2)
    reference = pd.DataFrame({f"x{i}": rng.normal(size=500) for i in range(4)})
    current = pd.DataFrame({f"x{i}": rng.normal(0.1 * i, 1, size=300) for i in range(4)})
    table = _table(reference, current, dict.fromkeys(reference, "numeric"), correction=correction)
    family = np.r_[table["p_value"], table["null_rate_pvalue"]]
    np.testing.assert_allclose(table["p_adjusted"], adjust_pvalues(family, method=correction)[:4], rtol=1e-15)


# --------------------------------------------------------------------------- robustness


def test_constant_column():
    reference = pd.DataFrame({"c": np.full(200, 3.0)})
    same = _row(_table(reference, pd.DataFrame({"c": np.full(100, 3.0)}), {"c": "numeric"}), "c")
    assert same["psi"] == 0.0 and same["ks_statistic"] == 0.0 and same["wasserstein"] == 0.0
    assert math.isnan(same["wasserstein_normed"])  # zero reference spread: not defined
    moved = _row(_table(reference, pd.DataFrame({"c": np.full(100, 4.0)}), {"c": "numeric"}), "c")
    assert moved["ks_statistic"] == 1.0 and moved["wasserstein"] == 1.0 and moved["out_of_range_share"] == 1.0
    assert moved["psi"] > 1


def test_all_nan_columns():
    values = pd.DataFrame({"v": np.random.default_rng(3).normal(size=300)})
    empty = pd.DataFrame({"v": np.full(300, np.nan)})
    current_nan = _row(_table(values, empty.iloc[:200], {"v": "numeric"}), "v")
    assert current_nan["status"] == "ok" and current_nan["n_current"] == 0
    assert current_nan["null_rate_current"] == 1.0 and current_nan["null_rate_pvalue"] < 1e-50
    assert math.isnan(current_nan["ks_statistic"]) and math.isnan(current_nan["p_value"])
    reference_nan = _row(_table(empty, values, {"v": "numeric"}), "v")
    assert reference_nan["n_reference"] == 0 and math.isnan(reference_nan["psi"])
    both = _row(_table(empty, empty, {"v": "numeric"}), "v")
    assert both["null_rate_pvalue"] == 1.0


def test_infinities_are_values_outside_the_range():
    rng = np.random.default_rng(4)
    reference = pd.DataFrame({"v": rng.normal(size=1000)})
    current_values = rng.normal(size=500)
    current_values[:25] = np.inf
    current_values[25:30] = -np.inf
    row = _row(_table(reference, pd.DataFrame({"v": current_values}), {"v": "numeric"}), "v")
    finite = current_values[np.isfinite(current_values)]
    assert row["n_current"] == 500 and row["nonfinite_share"] == pytest.approx(30 / 500)
    assert row["out_of_range_share"] >= 30 / 500
    assert row["ks_statistic"] == pytest.approx(sps.ks_2samp(reference["v"], finite).statistic, rel=1e-12)
    assert row["wasserstein"] == pytest.approx(sps.wasserstein_distance(reference["v"], finite), rel=1e-10)
    assert np.isfinite(row["psi"])


@pytest.mark.parametrize("rows", [0, 1])
def test_empty_batch_and_single_row_are_insufficient_data(rows):
    rng = np.random.default_rng(5)
    reference = pd.DataFrame({"v": rng.normal(size=100), "c": rng.choice(["a", "b"], 100)})
    current = pd.DataFrame({"v": rng.normal(size=rows), "c": rng.choice(["a", "b"], rows)})
    table = _table(reference, current, {"v": "numeric", "c": "categorical"})
    assert (table["status"] == "insufficient_data").all()
    assert table[["psi", "ks_statistic", "chi2_pvalue", "p_adjusted", "null_rate_pvalue"]].isna().all().all()
    assessed = assess_feature_drift(table, POLICY)
    assert (assessed["severity"] == "INFO").all() and not assessed["significant"].any()
    assert assessed["gated_by"].str.startswith("insufficient data").all()


@pytest.mark.parametrize("kind", ["pareto", "lognormal"])
def test_heavy_tails(kind):
    rng = np.random.default_rng(6)
    if kind == "pareto":  # infinite variance
        ref, cur = rng.pareto(1.1, 5000) + 1, rng.pareto(0.9, 2000) + 1
    else:
        ref, cur = rng.lognormal(12, 2.0, 5000), rng.lognormal(12, 2.2, 2000)
    row = _row(_table(pd.DataFrame({"v": ref}), pd.DataFrame({"v": cur}), {"v": "numeric"}), "v")
    assert row["ks_statistic"] == pytest.approx(sps.ks_2samp(ref, cur).statistic, rel=1e-12)
    assert row["wasserstein"] == pytest.approx(sps.wasserstein_distance(ref, cur), rel=1e-10)
    assert all(np.isfinite(row[c]) for c in ("psi", "kl", "wasserstein_normed", "psi_ci_high"))


def test_ten_thousand_categories():
    rng = np.random.default_rng(7)
    categories = np.array([f"id{i:05d}" for i in range(10_000)])
    reference = pd.DataFrame({"k": rng.choice(categories, 40_000)})
    current = pd.DataFrame({"k": np.r_[rng.choice(categories, 2000), ["brand_new"] * 50]})
    row = _row(_table(reference, current, {"k": "categorical"}, bootstrap_resamples=20), "k")
    # unseen: "brand_new" plus the categories the 40,000 reference draws happened to miss
    assert row["unseen_share"] == pytest.approx(np.mean(~current["k"].isin(reference["k"])), rel=1e-12)
    assert row["unseen_share"] > 50 / 2050
    # bins: one per reference category plus one pooled "unseen" bin
    ref_counts = reference["k"].value_counts()
    cur_counts = current["k"].value_counts()
    r = np.r_[ref_counts.to_numpy(), 0]
    c = np.r_[cur_counts.reindex(ref_counts.index, fill_value=0).to_numpy(), cur_counts.drop(ref_counts.index, errors="ignore").sum()]
    assert row["js_distance"] == pytest.approx(jensenshannon(r, c, base=2), rel=1e-12)
    assert row["chi2_pvalue"] == pytest.approx(sps.chi2_contingency([r, c]).pvalue, rel=1e-9, abs=1e-300)


def test_booleans_are_categories_false_true_whatever_their_spelling():
    reference = pd.DataFrame({"f": [True, False] * 50})
    spelled = pd.DataFrame({"f": ["true", "False", "1", "0", "yes", "no"] * 10})
    as_ints = pd.DataFrame({"f": [1, 0] * 30})
    table_a = _table(reference, spelled, {"f": "boolean"})
    table_b = _table(reference, as_ints, {"f": "boolean"})
    assert table_a.loc[0, "unseen_share"] == 0.0 and table_b.loc[0, "unseen_share"] == 0.0
    assert table_a.loc[0, "chi2_pvalue"] == pytest.approx(table_b.loc[0, "chi2_pvalue"], rel=1e-12)
    with pytest.raises(DriftInputError, match="column 'f': expected boolean values.*'maybe'"):
        _table(reference, pd.DataFrame({"f": ["maybe"] * 40}), {"f": "boolean"})


def test_dtypes_are_coerced_per_declared_type():
    rng = np.random.default_rng(8)
    ints = rng.integers(0, 10, 500)
    reference = pd.DataFrame({"n": ints, "c": ints % 3, "s": rng.choice(["u", "v"], 500)})
    current = pd.DataFrame(
        {
            "n": (ints[:200] + 0.0).astype(float),  # int vs float
            "c": pd.Series(ints[:200] % 3, dtype=float).astype(str).str.replace(".0", ""),  # int vs "0"/"1"/"2"
            "s": pd.Categorical(rng.choice(["u", "v"], 200)),  # str vs pandas category
        }
    )
    table = _table(reference, current, {"n": "numeric", "c": "categorical", "s": "categorical"})
    assert table["unseen_share"].fillna(0).eq(0).all()
    assert _row(table, "n")["ks_statistic"] == pytest.approx(sps.ks_2samp(ints, ints[:200]).statistic, rel=1e-12)
    floats = pd.DataFrame({"n": ints[:200], "c": (ints[:200] % 3).astype(float), "s": ["u"] * 200})
    assert _table(reference, floats, {"n": "numeric", "c": "categorical", "s": "categorical"}).loc[1, "unseen_share"] == 0
    with pytest.raises(DriftInputError, match="column 'n': expected numeric values, found 'ten'"):
        _table(reference, current.assign(n=["ten"] * 200), {"n": "numeric"})
    with pytest.raises(DriftInputError, match="column 'n' is profiled but missing from the batch"):
        _table(reference, current.drop(columns="n"), {"n": "numeric"})


def test_profile_and_settings_must_agree():
    frame = pd.DataFrame({"v": np.arange(100.0)})
    profile = ReferenceProfile.build(frame, {"v": "numeric"}, SETTINGS)
    with pytest.raises(DriftInputError, match="psi_bins"):
        feature_drift(profile, frame, SETTINGS.model_copy(update={"psi_bins": 5}))


def test_parquet_streaming_equals_in_memory(tmp_path):
    rng = np.random.default_rng(9)
    reference = pd.DataFrame({"v": rng.normal(size=4000), "c": rng.choice(list("abc"), 4000)})
    current = pd.DataFrame({"v": rng.normal(0.2, 1, size=3000), "c": rng.choice(list("abcd"), 3000)})
    schema = {"v": "numeric", "c": "categorical"}
    profile = ReferenceProfile.build(reference, schema, SETTINGS)
    path = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pandas(current, preserve_index=False), path, row_group_size=400)
    streamed = feature_drift_from_parquet(profile, path, SETTINGS)
    direct = feature_drift(profile, current, SETTINGS)
    # merged cells: everything equal to 1e-12, Wasserstein within its (tiny) bound
    pd.testing.assert_frame_equal(streamed, direct, check_exact=False, rtol=1e-9, atol=0)
    only = feature_drift_from_parquet(profile, path, SETTINGS, columns=["c"])
    assert list(only["feature"]) == ["c"]


# --------------------------------------------------------------------------- assessment


def _assessed(reference, current, schema, model=None, **update):
    settings = SETTINGS.model_copy(update=update)
    policy = POLICY.model_copy(update={"data_drift": settings})
    table = feature_drift(ReferenceProfile.build(reference, schema, settings), current, settings)
    return assess_feature_drift(table, policy, model=model)


def test_a_tiny_shift_at_large_n_is_significant_but_never_alerts():
    rng = np.random.default_rng(10)
    reference = pd.DataFrame({"v": rng.normal(size=200_000)})
    current = pd.DataFrame({"v": rng.normal(0.05, 1, size=200_000)})
    row = _assessed(reference, current, {"v": "numeric"}, ks_permutations=0, bootstrap_resamples=0).iloc[0]
    assert row["p_adjusted"] < 1e-10 and bool(row["significant"])
    assert row["severity"] == "INFO"
    assert "effect too small" in row["gated_by"]


def test_a_noisy_psi_at_small_n_does_not_alert_without_significance():
    rng = np.random.default_rng(11)
    reference = pd.DataFrame({"v": rng.normal(size=2000)})
    current = pd.DataFrame({"v": rng.normal(size=35)})
    row = _assessed(reference, current, {"v": "numeric"}).iloc[0]
    assert row["psi"] >= 0.10  # ten bins and 35 values: PSI is mostly noise
    assert row["p_adjusted"] >= 0.05 and row["severity"] == "INFO"
    assert "not significant" in row["gated_by"]


def test_a_clear_shift_alerts_with_the_worst_band_and_explains_why():
    rng = np.random.default_rng(12)
    reference = pd.DataFrame({"v": rng.normal(size=5000), "c": rng.choice(list("ab"), 5000)})
    current = pd.DataFrame({"v": rng.normal(1.0, 1, size=1000), "c": rng.choice(list("ab"), 1000)})
    assessed = _assessed(reference, current, {"v": "numeric", "c": "categorical"})
    assert list(assessed.columns) == DRIFT_COLUMNS + ASSESSMENT_COLUMNS
    v = assessed.set_index("feature").loc["v"]
    assert v["severity"] == "CRITICAL" and bool(v["significant"])
    assert v["metric"] in {"psi", "kl", "wasserstein_normed"} and v["rule"].startswith("policy.bands.data.")
    assert v["gated_by"].startswith("p_adj=") and ">= 0.1" in v["gated_by"]
    assert "CRITICAL" in v["band"]
    assert assessed.set_index("feature").loc["c", "severity"] == "INFO"


def test_a_null_rate_spike_alerts_on_its_own_test():
    rng = np.random.default_rng(13)
    reference = pd.DataFrame({"v": rng.normal(size=3000)})
    values = rng.normal(size=1000)
    values[:300] = np.nan
    row = _assessed(reference, pd.DataFrame({"v": values}), {"v": "numeric"}).iloc[0]
    assert row["severity"] == "CRITICAL" and row["metric"] == "null_rate_increase"
    assert row["value"] == pytest.approx(0.3)
    assert "null_rate_increase" in row["gated_by"]


def _crafted(**values) -> pd.DataFrame:
    """One ok numeric row with chosen statistics (everything else not significant)."""
    row = dict.fromkeys(DRIFT_COLUMNS, np.nan)
    row.update(feature="priors_count", type="numeric", status="ok", n_reference=5000, n_current=500)
    row.update(null_rate_reference=0.0, null_rate_current=0.0, null_rate_pvalue=1.0, p_value=1.0)
    row.update(values)
    return pd.DataFrame([row], columns=DRIFT_COLUMNS)


def test_per_feature_overrides_apply():
    # psi 0.09: below the default WARNING (0.10), above compas' priors_count override (0.08)
    table = _crafted(psi=0.09, kl=0.04, wasserstein_normed=0.05, p_value=1e-8)
    compas = assess_feature_drift(table, POLICY, model="compas").iloc[0]
    flights = assess_feature_drift(table, POLICY, model="flights").iloc[0]
    assert (compas["severity"], compas["metric"]) == ("WARNING", "psi")
    assert compas["rule"] == "policy.overrides[compas.priors_count.psi]"
    assert compas["band"] == "WARNING >= 0.08, CRITICAL >= 0.2"
    assert compas["gated_by"] == "p_adj=2e-08 < 0.05 and psi 0.09 >= 0.08"
    assert (flights["severity"], flights["rule"]) == ("INFO", "policy.bands.data.psi")
    assert "effect too small" in flights["gated_by"]


def test_severity_is_the_worst_band_once_the_gate_opens():
    # gate opened by wasserstein_normed (WARNING); KL is CRITICAL and sets the severity
    table = _crafted(psi=0.05, kl=0.35, wasserstein_normed=0.2, p_value=1e-6)
    row = assess_feature_drift(table, POLICY).iloc[0]
    assert (row["severity"], row["metric"], row["value"]) == ("CRITICAL", "kl", 0.35)
    # KL alone (not in the gate) cannot open it
    closed = assess_feature_drift(_crafted(psi=0.05, kl=0.35, wasserstein_normed=0.1, p_value=1e-6), POLICY)
    assert closed.iloc[0]["severity"] == "INFO"
    # an open gate without significance stays INFO
    quiet = assess_feature_drift(_crafted(psi=0.5, kl=0.35, wasserstein_normed=0.5, p_value=0.2), POLICY)
    assert quiet.iloc[0]["severity"] == "INFO" and not quiet.iloc[0]["significant"]


def test_assessing_an_empty_table():
    empty = pd.DataFrame(columns=DRIFT_COLUMNS)
    assert list(assess_feature_drift(empty, POLICY).columns) == DRIFT_COLUMNS + ASSESSMENT_COLUMNS
