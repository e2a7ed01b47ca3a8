"""Explanation drift: TreeSHAP by hand on stumps, against shap, additivity, surrogate fidelity."""

import numpy as np
import pandas as pd
import pytest
import shap
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from drift_pipeline.lib.explain import (
    _path_dependent_tree_shap,
    explanation_drift,
    shap_rank_correlation,
    tree_shap_values,
)
from drift_pipeline.lib.modeling import encode_features, fit_categories


@pytest.fixture(autouse=True)
def _one_openmp_thread():
    # Gradient boosting on a few hundred rows is slower with OpenMP threads than without
    # when the machine is busy (oversubscription): keep these small fits single-threaded.
    with threadpool_limits(limits=1):
        yield


def _stump_by_hand(model, X_train, X):
    """One split on column 1: φ_1(x) = f(x) − (n_L f_L + n_R f_R) / n, every other feature 0."""
    f_train = model.decision_function(X_train)
    leaf_values, counts = np.unique(f_train, return_counts=True)
    assert len(leaf_values) == 2, "the fitted tree should be a single split"
    expected = float((leaf_values * counts).sum() / counts.sum())
    phi = np.zeros(X.shape)
    phi[:, 1] = model.decision_function(X) - expected
    return phi, expected


def _stump(categorical: bool):
    rng = np.random.default_rng(0)
    n = 400
    if categorical:
        x0 = rng.integers(0, 5, n).astype(float)
        y = np.isin(x0, [1, 3])
    else:
        x0 = rng.normal(size=n)
        y = x0 > 0.2
    X = np.c_[rng.normal(size=n), x0]  # split feature second: sklearn reorders categoricals
    model = HistGradientBoostingClassifier(
        max_iter=1, max_leaf_nodes=2, learning_rate=1.0, categorical_features=[False, categorical], random_state=0
    ).fit(X, y)
    return model, X


@pytest.mark.parametrize("categorical", [False, True], ids=["numeric", "categorical"])
def test_shap_of_a_stump_matches_the_hand_computation(categorical):
    model, X = _stump(categorical)
    probe = X[:20].copy()
    probe[0, 1] = np.nan  # missing follows the learned default branch
    if categorical:
        probe[1, 1] = 4.0  # seen
        probe[2, 1] = 9.0  # never seen at fit: treated as missing
    values, expected = tree_shap_values(model, probe)
    hand, hand_expected = _stump_by_hand(model, X, probe)
    np.testing.assert_allclose(values, hand, atol=1e-12)
    assert expected == pytest.approx(hand_expected, abs=1e-12)


def _data(n=1500, seed=1):
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 6, n).astype(float)
    c[rng.random(n) < 0.05] = np.nan
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    x1[rng.random(n) < 0.05] = np.nan
    y = (np.isin(c, [1, 4, 5]) ^ (np.nan_to_num(x1) > 0.3)) | (x2 > 1)
    # the categorical column is not first: sklearn moves categoricals to the front internally
    return np.c_[x1, c, x2], y


def test_own_treeshap_equals_shap_on_a_numeric_model():
    X, y = _data()
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    explainer = shap.TreeExplainer(model)
    ours, expected = _path_dependent_tree_shap(model, X[:200])
    np.testing.assert_allclose(ours, explainer.shap_values(X[:200]), atol=1e-10)
    assert expected == pytest.approx(float(np.ravel(explainer.expected_value)[0]), abs=1e-10)


@pytest.mark.parametrize("estimator", [HistGradientBoostingClassifier, HistGradientBoostingRegressor])
def test_shap_values_add_up_to_the_output_with_categorical_splits(estimator):
    X, y = _data()
    model = estimator(max_iter=15, max_leaf_nodes=15, categorical_features=[False, True, False], random_state=0)
    model.fit(X, y.astype(float))
    probe = X[:300].copy()
    probe[:5, 1] = 8.0  # unseen category
    values, expected = tree_shap_values(model, probe)
    output = model.decision_function(probe) if hasattr(model, "decision_function") else model.predict(probe)
    np.testing.assert_allclose(values.sum(axis=1) + expected, output, atol=1e-10)


def test_shap_treeexplainer_is_wrong_on_categorical_splits_which_is_why_we_reimplement():
    # If this starts failing, shap has learned HGB categorical splits: use it everywhere.
    X, y = _data()
    model = HistGradientBoostingClassifier(max_iter=20, categorical_features=[False, True, False], random_state=0)
    model.fit(X, y)
    explainer = shap.TreeExplainer(model)
    gap = explainer.shap_values(X[:200]).sum(axis=1) + explainer.expected_value - model.decision_function(X[:200])
    assert np.abs(gap).max() > 0.1


def test_rank_correlation_is_scipy_spearman_aligned_by_feature():
    ref = pd.Series([0.5, 0.3, 0.1, 0.05], index=["a", "b", "c", "d"])
    cur = pd.Series([0.04, 0.2, 0.6, 0.1], index=["d", "c", "a", "b"])
    aligned = cur.loc[ref.index]
    assert shap_rank_correlation(ref, cur) == pytest.approx(spearmanr(ref, aligned).statistic, abs=1e-15)
    assert shap_rank_correlation([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert shap_rank_correlation([1, 1, 1], [1, 2, 3]) is None
    assert shap_rank_correlation([1.0], [2.0]) is None


FEATURES = {"age": "numeric", "priors_count": "numeric", "c_charge_degree": "categorical", "sex": "categorical"}


def _compas_like(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 70, n).astype(float),
            "priors_count": rng.poisson(2 + shift, n).astype(float),
            "c_charge_degree": rng.choice(["F", "M"], n, p=[0.65, 0.35]),
            "sex": rng.choice(["Female", "Male"], n, p=[0.2, 0.8]),
        }
    )
    score = 8 - 0.1 * (frame["age"] - 18) + 0.6 * frame["priors_count"] + (frame["c_charge_degree"] == "F")
    frame["decile_score"] = np.clip(np.round(score + rng.normal(0, 0.5, n)), 1, 10)
    return frame


def test_surrogate_explanation_reports_fidelity_and_is_reproducible():
    reference, current = _compas_like(1000, 0), _compas_like(300, 1, shift=3.0)
    kwargs = {"features": FEATURES, "score_column": "decile_score", "sample_size": 150, "seed": 42,
                  "surrogate_params": {"max_iter": 40}}
    result = explanation_drift(None, reference, current, **kwargs)

    assert result.explainer == "surrogate"
    assert set(result.surrogate_fidelity) == {"r2_reference_holdout", "r2_current"}
    assert result.surrogate_fidelity["r2_reference_holdout"] > 0.8  # the score is a smooth function + noise
    assert result.surrogate_fidelity["r2_current"] is not None
    assert list(result.importance.columns) == ["feature", "reference_mean_abs_shap", "current_mean_abs_shap"]
    assert list(result.importance["feature"]) == list(FEATURES)
    assert (result.n_reference, result.n_current) == (150, 150)
    assert result.spearman == pytest.approx(
        spearmanr(result.importance["reference_mean_abs_shap"], result.importance["current_mean_abs_shap"]).statistic
    )
    # sex does not enter the score: the surrogate should find it least important
    assert result.importance.set_index("feature")["reference_mean_abs_shap"].idxmin() == "sex"

    again = explanation_drift(None, reference, current, **kwargs)
    pd.testing.assert_frame_equal(result.importance, again.importance)
    assert again.surrogate_fidelity == result.surrogate_fidelity


def test_model_artifact_explanation_with_identical_batches_correlates_perfectly():
    reference = _compas_like(600, 3)
    categories = fit_categories(reference, FEATURES)
    y = reference["decile_score"] >= 5
    mask = [kind == "categorical" for kind in FEATURES.values()]
    model = HistGradientBoostingClassifier(max_iter=30, categorical_features=mask, random_state=0)
    model.fit(encode_features(reference, FEATURES, categories), y)

    result = explanation_drift(
        model, reference, reference.copy(), features=FEATURES, score_column=None, sample_size=1000, seed=0
    )
    assert result.explainer == "model"
    assert result.surrogate_fidelity is None
    assert result.spearman == pytest.approx(1.0)
    np.testing.assert_allclose(result.importance["reference_mean_abs_shap"], result.importance["current_mean_abs_shap"])


def test_without_a_model_a_score_column_is_required():
    with pytest.raises(ValueError, match="score_column"):
        explanation_drift(None, _compas_like(50, 0), _compas_like(50, 1), features=FEATURES, score_column=None,
                          sample_size=10, seed=0)
