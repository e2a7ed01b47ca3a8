"""Model-drift metrics against scikit-learn, scipy and hand computations."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import entropy
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from drift_pipeline.lib.performance import (
    accuracy_drop,
    model_performance,
    output_entropy_change,
    prediction_distribution_shift,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_model_performance_equals_sklearn_on_the_labelled_rows(seed):
    rng = np.random.default_rng(seed)
    n = 400
    score = rng.random(n)
    truth = (rng.random(n) < score).astype(float)
    truth[rng.random(n) < 0.3] = np.nan  # labels not arrived yet
    pred = score > 0.5
    labelled = ~np.isnan(truth)

    result = model_performance(truth, score, pred, min_labelled=30)

    assert result["status"] == "ok"
    assert result["n_rows"] == n
    assert result["n_labelled"] == labelled.sum()
    y = truth[labelled].astype(int)
    assert result["accuracy"] == pytest.approx(accuracy_score(y, pred[labelled]), abs=1e-15)
    assert result["roc_auc"] == pytest.approx(roc_auc_score(y, score[labelled]), abs=1e-15)
    assert result["log_loss"] == pytest.approx(log_loss(y, score[labelled]), abs=1e-15)


def test_nullable_pandas_labels_are_pending_not_false():
    truth = pd.Series([1, 0, pd.NA, pd.NA], dtype="Int64")
    result = model_performance(truth, [0.9, 0.1, 0.9, 0.9], [True, False, False, False])
    # The two pending rows predicted False would make accuracy 0.5 if read as 0.
    assert result["accuracy"] == 1.0
    assert result["n_labelled"] == 2


@pytest.mark.parametrize(
    ("truth", "min_labelled"),
    [([np.nan] * 50, 1), ([None] * 50, 30), ([1.0] * 10 + [np.nan] * 40, 30)],
    ids=["no-labels", "none-values", "too-few-labels"],
)
def test_labels_pending_gives_none_never_a_number(truth, min_labelled):
    result = model_performance(truth, np.linspace(0, 1, 50), np.ones(50), min_labelled=min_labelled)
    assert result["status"] == "labels_pending"
    assert result["accuracy"] is None and result["roc_auc"] is None and result["log_loss"] is None


def test_a_batch_smaller_than_the_minimum_is_insufficient_data():
    result = model_performance([1, 0, 1], [0.9, 0.1, 0.2], [1, 0, 0], min_labelled=30)
    assert result["status"] == "insufficient_data"
    assert result["accuracy"] is None


def test_one_label_class_leaves_auc_undefined_but_accuracy_known():
    result = model_performance([1, 1, 1, 1], [0.9, 0.8, 0.3, 0.6], [1, 1, 0, 1])
    assert result["status"] == "ok"
    assert result["accuracy"] == 0.75
    assert result["roc_auc"] is None
    assert result["log_loss"] == pytest.approx(log_loss([1, 1, 1, 1], [0.9, 0.8, 0.3, 0.6], labels=[0, 1]))


def test_a_decile_score_ranks_for_auc_but_gives_no_log_loss():
    truth = [0, 0, 1, 1, 0, 1]
    deciles = [1, 3, 8, 10, 5, 4]
    result = model_performance(truth, deciles, [0, 0, 1, 1, 1, 0])
    assert result["roc_auc"] == pytest.approx(roc_auc_score(truth, deciles))
    assert result["log_loss"] is None


def test_accuracy_drop_is_positive_when_worse():
    assert accuracy_drop(0.80, 0.70) == pytest.approx(0.10)
    assert accuracy_drop(0.70, 0.80) == pytest.approx(-0.10)
    assert accuracy_drop(None, 0.8) is None
    assert accuracy_drop(0.8, None) is None


@pytest.mark.parametrize(
    ("reference", "current", "expected"),
    [
        ([0, 0, 1, 1], [0, 1, 1, 1], 0.25),  # ½ (|.5-.25| + |.5-.75|)
        (["a", "b"], ["a", "b", "a", "b"], 0.0),
        ([0, 0], [1, 1], 1.0),  # disjoint
        (["low", "low", "high", "high"], ["low", "medium", "medium", "high"], 0.5),  # unseen class
        ([True, False, None], [True, True, np.nan], 0.5),  # missing values dropped
    ],
)
def test_prediction_distribution_shift_by_hand(reference, current, expected):
    assert prediction_distribution_shift(reference, current) == pytest.approx(expected, abs=1e-15)


def test_prediction_distribution_shift_on_reference_quantile_bins():
    reference = np.arange(1, 11, dtype=float).repeat(10)  # deciles 1..10, 10 each
    current = np.array([1.0] * 50 + [10.0] * 50)
    # Reference quartile edges 3.0, 5.5, 8.0: bins x<3, 3<=x<5.5, 5.5<=x<8, x>=8.
    # Reference shares .2 .3 .2 .3; current .5 0 0 .5 → TV = ½(.3+.3+.2+.2) = 0.5.
    assert prediction_distribution_shift(reference, current, bins=4) == pytest.approx(0.5, abs=1e-15)
    assert prediction_distribution_shift(reference, reference, bins=10) == 0.0


def test_output_entropy_change_by_hand_and_base_free():
    reference = [0] * 50 + [1] * 50
    current = [0] * 25 + [1] * 75
    h_ref, h_cur = entropy([0.5, 0.5]), entropy([0.25, 0.75])
    expected = abs(h_cur - h_ref) / h_ref
    assert output_entropy_change(reference, current) == pytest.approx(expected, abs=1e-15)
    assert expected == pytest.approx(abs(entropy([0.25, 0.75], base=2) - 1.0), abs=1e-12)
    assert output_entropy_change(reference, reference) == 0.0


def test_output_entropy_change_from_a_constant_reference_uses_log_k():
    assert output_entropy_change([1] * 10, [0] * 5 + [1] * 5) == pytest.approx(1.0)
    # H(current) = log 3 over K = 3 classes: the largest change possible.
    assert output_entropy_change(["a"] * 9, ["a", "b", "c"]) == pytest.approx(1.0)
    assert output_entropy_change(["a"] * 9, ["a", "a", "a", "b"]) == pytest.approx(entropy([0.75, 0.25]) / math.log(2))
    assert output_entropy_change([1] * 10, [1] * 3) == 0.0
