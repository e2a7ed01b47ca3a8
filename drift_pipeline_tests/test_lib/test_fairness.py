"""Fairness metrics against fairlearn (to 1e-12) and scikit-learn confusion matrices."""

import fairlearn.metrics as flm
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

from drift_pipeline.lib import fairness
from drift_pipeline.lib.fairness import (
    FOUR_FIFTHS,
    fairness_drift,
    fairness_report,
    four_fifths_rule,
    group_rates,
)

PAIRS = [
    (fairness.demographic_parity_difference, flm.demographic_parity_difference),
    (fairness.equal_opportunity_difference, flm.equal_opportunity_difference),
    (fairness.disparate_impact_ratio, flm.demographic_parity_ratio),
]


def _frame(seed: int, n: int = 600, shares=(0.45, 0.3, 0.2, 0.05)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    groups = rng.choice(["A", "B", "C", "D"], size=n, p=shares)
    bias = pd.Series(groups).map({"A": 0.0, "B": 0.1, "C": -0.1, "D": 0.2}).to_numpy()
    label = rng.random(n) < 0.45
    pred = rng.random(n) < 0.35 + bias + 0.3 * label
    sex = rng.choice(["F", "M"], size=n, p=[0.3, 0.7])
    return pd.DataFrame({"race": groups, "sex": sex, "label": label, "pred": pred})


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=["dp_difference", "eo_difference", "di_ratio"])
def test_metrics_equal_fairlearn(seed, ours, theirs):
    df = _frame(seed)
    expected = theirs(df["label"], df["pred"], sensitive_features=df["race"])
    assert ours(df["label"], df["pred"], sensitive_features=df["race"]) == pytest.approx(expected, abs=1e-12)
    # integer-coded inputs give the same value
    got = ours(df["label"].astype(int), df["pred"].astype(int), sensitive_features=df["race"])
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("ours", "theirs"), PAIRS, ids=["dp_difference", "eo_difference", "di_ratio"])
def test_small_groups_are_left_out_exactly_as_if_their_rows_were_absent(ours, theirs):
    df = _frame(7)
    sizes = df["race"].value_counts()
    assert sizes["D"] < 40 <= sizes.drop("D").min()  # only D is below the minimum
    big = df[df["race"] != "D"]
    expected = theirs(big["label"], big["pred"], sensitive_features=big["race"])
    got = ours(df["label"], df["pred"], sensitive_features=df["race"], min_group_size=40)
    assert got == pytest.approx(expected, abs=1e-12)


def test_report_values_ci_and_exclusions():
    df = _frame(3)
    report = fairness_report(
        df, protected=["race", "sex"], label="label", prediction="pred", min_group_size=40, n_resamples=200, seed=11
    )
    assert list(report.columns[:7]) == [
        "attribute", "metric", "value", "ci_low", "ci_high", "n_groups_included", "groups_excluded"
    ]
    assert len(report) == 6
    race = report.set_index(["attribute", "metric"]).loc["race"]
    assert race.loc["demographic_parity_difference", "groups_excluded"] == ["D"]
    assert race.loc["demographic_parity_difference", "n_groups_included"] == 3
    big = df[df["race"] != "D"]
    assert race.loc["demographic_parity_difference", "value"] == pytest.approx(
        flm.demographic_parity_difference(big["label"], big["pred"], sensitive_features=big["race"]), abs=1e-12
    )
    sex = report.set_index(["attribute", "metric"]).loc["sex"]
    assert sex.loc["disparate_impact_ratio", "value"] == pytest.approx(
        flm.demographic_parity_ratio(df["label"], df["pred"], sensitive_features=df["sex"]), abs=1e-12
    )
    assert sex.loc["disparate_impact_ratio", "groups_excluded"] == []
    for _, row in report.iterrows():
        assert row["ci_low"] <= row["ci_high"]
        assert row["ci_low"] - 0.2 < row["value"] < row["ci_high"] + 0.2


def test_bootstrap_is_reproducible_from_the_seed():
    df = _frame(4)
    kwargs = {"protected": ["race"], "label": "label", "prediction": "pred", "min_group_size": 30, "n_resamples": 100}
    first = fairness_report(df, seed=5, **kwargs)
    again = fairness_report(df, seed=5, **kwargs)
    other = fairness_report(df, seed=6, **kwargs)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first["ci_low"], other["ci_low"])
    assert fairness_report(df, seed=5, **{**kwargs, "n_resamples": 0})["ci_low"].isna().all()


def test_group_rates_match_sklearn_confusion_matrices():
    df = _frame(2)
    rates = group_rates(df, protected=["race"], label="label", prediction="pred", min_group_size=40)
    for _, row in rates.iterrows():
        part = df[df["race"] == row["group"]]
        tn, fp, fn, tp = confusion_matrix(part["label"], part["pred"], labels=[False, True]).ravel()
        assert (row["tn"], row["fp"], row["fn"], row["tp"], row["n"]) == (tn, fp, fn, tp, len(part))
        assert row["tpr"] == pytest.approx(tp / (tp + fn), abs=1e-15)
        assert row["fpr"] == pytest.approx(fp / (fp + tn), abs=1e-15)
        assert row["fnr"] == pytest.approx(fn / (fn + tp), abs=1e-15)
        assert row["selection_rate"] == pytest.approx(part["pred"].mean(), abs=1e-15)
        assert row["included"] == (len(part) >= 40)
    assert rates.loc[rates["group"] == "D", "included"].item() is False


def test_pending_labels_keep_selection_rates_but_not_tpr():
    df = _frame(5).astype({"label": "float"})
    df.loc[df.index % 3 == 0, "label"] = np.nan
    rates = group_rates(df, protected=["race"], label="label", prediction="pred", min_group_size=1)
    a = df[df["race"] == "A"]
    row = rates.set_index("group").loc["A"]
    assert row["selection_rate"] == pytest.approx(a["pred"].mean(), abs=1e-15)
    assert row["n_labelled"] == a["label"].notna().sum()
    labelled = a[a["label"].notna()]
    assert row["tpr"] == pytest.approx(labelled.loc[labelled["label"] == 1, "pred"].mean(), abs=1e-15)

    df["label"] = np.nan
    report = fairness_report(
        df, protected=["race"], label="label", prediction="pred", min_group_size=1, n_resamples=20, seed=0
    ).set_index("metric")
    assert pd.isna(report.loc["equal_opportunity_difference", "value"])
    assert "labels pending" in report.loc["equal_opportunity_difference", "note"]
    assert report.loc["demographic_parity_difference", "value"] == pytest.approx(
        flm.demographic_parity_difference(np.zeros(len(df)), df["pred"], sensitive_features=df["race"]), abs=1e-12
    )


def test_fewer_than_two_qualifying_groups_gives_no_value():
    df = _frame(1)
    report = fairness_report(
        df, protected=["race"], label="label", prediction="pred", min_group_size=10_000, n_resamples=10, seed=0
    )
    assert report["value"].isna().all()
    assert report["n_groups_included"].eq(0).all()
    assert sorted(report.iloc[0]["groups_excluded"]) == ["A", "B", "C", "D"]
    assert report["note"].str.contains("Fewer than two groups").all()


@pytest.mark.parametrize(("ratio", "met"), [(FOUR_FIFTHS, True), (0.81, True), (0.7999, False), (None, None)])
def test_four_fifths_rule_is_a_heuristic(ratio, met):
    got, text = four_fifths_rule(ratio)
    assert got is met
    assert "heuristic" in text and "not a legal or statistical verdict" in text


def test_drift_versus_baseline_is_absolute_change_judged_on_the_right_quantity():
    current = pd.DataFrame(
        {
            "attribute": ["race"] * 3,
            "metric": ["demographic_parity_difference", "equal_opportunity_difference", "disparate_impact_ratio"],
            "value": [0.10, None, 0.70],
        }
    )
    baseline = current.assign(value=[0.25, 0.05, 0.90])
    drift = fairness_drift(current, baseline).set_index("metric")
    assert drift.loc["demographic_parity_difference", "drift"] == pytest.approx(0.15)
    assert pd.isna(drift.loc["equal_opportunity_difference", "drift"])
    assert drift.loc["disparate_impact_ratio", "drift"] == pytest.approx(0.20)
    assert drift.loc["demographic_parity_difference", "policy_metric"] == "demographic_parity_drift"
    assert drift.loc["demographic_parity_difference", "policy_value"] == pytest.approx(0.15)
    assert drift.loc["disparate_impact_ratio", "policy_value"] == pytest.approx(0.70)


def test_non_binary_predictions_are_rejected():
    with pytest.raises(ValueError, match="binary"):
        fairness.demographic_parity_difference([0, 1], [0.3, 0.7], sensitive_features=["a", "b"])
