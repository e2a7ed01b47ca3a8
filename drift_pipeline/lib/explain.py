"""Explanation drift (SPEC §3.4): has what drives the model's output changed?

Mean |SHAP| per feature is computed on a seeded sample of the reference and of the
batch, and the two importance vectors are compared by Spearman rank correlation
(1 = same ordering of features, lower = the model leans on different features).

Two explainers:

- a trained model artifact (a ``HistGradientBoostingClassifier`` fitted on the matrix of
  :func:`drift_pipeline.lib.modeling.encode_features`): SHAP of its raw (log-odds) output;
- a black-box deployed score (COMPAS ``decile_score``): a seeded
  ``HistGradientBoostingRegressor`` surrogate fitted on the reference features to the
  reference scores, explained instead. Its fidelity (R² on a held-out part of the
  reference and on the batch) is reported, since a surrogate that does not track the
  score explains nothing about it.

Why not always ``shap.TreeExplainer``: shap 0.51 reads a ``HistGradientBoosting*``
model's numeric thresholds only, on the raw input columns. With native categorical
features (``categorical_features``) it misses both that sklearn re-encodes categorical
columns and moves them to the front before the trees see them, and that a categorical
split routes by a category bitset, not ``num_threshold``: it returns silently wrong values
(SHAP values that do not even add up to the model output). So shap's explainer is used
when the fitted model has no categorical split, and otherwise :func:`tree_shap_values`,
the same path-dependent TreeSHAP algorithm (Lundberg et al. 2020, "From local
explanations to global understanding with explainable AI for trees", Algorithm 2)
vectorised over rows, with sklearn's own routing rule at categorical splits. The tests
check that both agree on numeric models and that SHAP values add up to the model output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shap
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import r2_score

from drift_pipeline.lib.modeling import encode_features, fit_categories

__all__ = [
    "ExplanationDrift",
    "ReferenceExplanation",
    "explain_reference",
    "explanation_drift",
    "mean_abs_shap",
    "shap_rank_correlation",
    "tree_shap_values",
]

_CATEGORICAL_TYPES = {"categorical", "boolean"}


@dataclass(frozen=True)
class ExplanationDrift:
    """Result of :func:`explanation_drift`."""

    importance: pd.DataFrame  # feature, reference_mean_abs_shap, current_mean_abs_shap
    spearman: float | None
    surrogate_fidelity: dict[str, float | None] | None  # r2_reference_holdout, r2_current
    explainer: str  # "model" or "surrogate"
    n_reference: int
    n_current: int


def shap_rank_correlation(ref_importance: Any, cur_importance: Any) -> float | None:
    """Spearman rank correlation of two importance vectors (``scipy.stats.spearmanr``).

    Pandas Series are aligned on their index (feature names) first. ``None`` when the
    correlation is undefined (fewer than two features, or a constant vector).
    """
    if isinstance(ref_importance, pd.Series) and isinstance(cur_importance, pd.Series):
        ref_importance, cur_importance = ref_importance.align(cur_importance, join="inner")
    ref = np.asarray(ref_importance, dtype="float64")
    cur = np.asarray(cur_importance, dtype="float64")
    if ref.shape != cur.shape:
        raise ValueError(f"importance vectors differ in length: {ref.shape} vs {cur.shape}")
    if len(ref) < 2 or np.ptp(ref) == 0 or np.ptp(cur) == 0:
        return None
    return float(spearmanr(ref, cur).statistic)


# --------------------------------------------------------------------------- TreeSHAP


def _predictor_routes(predictor: Any, X: np.ndarray, known_cats: np.ndarray | None, f_idx_map: np.ndarray | None):
    """Per node, a boolean row mask 'goes left', with sklearn's prediction rule.

    Missing values, negative categories and categories unknown at fit time follow
    ``missing_go_to_left``; numeric splits go left when ``x <= num_threshold``; categorical
    splits go left when the category's bit is set in the node's bitset.
    """
    bitsets = predictor.raw_left_cat_bitsets
    routes = {}
    for j, node in enumerate(predictor.nodes):
        if node["is_leaf"]:
            continue
        x = X[:, node["feature_idx"]]
        missing = np.isnan(x)
        if node["is_categorical"]:
            code = np.where(missing | (x < 0), 0, x).astype(np.int64)
            in_left = ((bitsets[node["bitset_idx"], code // 32] >> (code % 32)) & 1).astype(bool)
            known = ((known_cats[f_idx_map[node["feature_idx"]], code // 32] >> (code % 32)) & 1).astype(bool)
            missing = missing | (x < 0) | (~in_left & ~known)
            left = in_left
        else:
            left = x <= node["num_threshold"]
        routes[j] = np.where(missing, bool(node["missing_go_to_left"]), left)
    return routes


def _tree_shap_one(nodes: np.ndarray, routes: dict[int, np.ndarray], phi: np.ndarray) -> None:
    """Add one tree's path-dependent TreeSHAP values to ``phi`` (rows × features).

    The path holds, per element, a feature ``d``, its zero fraction ``z`` (cover share, the
    same for every row) and, per row, its one fraction ``o`` (0 or 1: does the row follow
    the path) and permutation weight ``w``. ``EXTEND`` and the leaf's unwound sums are
    vectorised over path elements as well as rows; since ``o`` is 0 or 1, the divisions by
    ``o`` of the published algorithm are divisions by 1 where they apply.
    """
    n = phi.shape[0]

    def extend(path, pz, po, pi):
        d, z, o, w = path
        depth = len(d)
        if depth == 0:
            return [pi], np.array([pz]), po[None, :], np.ones((1, n))
        old = np.vstack([w, np.zeros(n)])
        position = np.arange(depth + 1)
        new = pz * old * ((depth - position) / (depth + 1))[:, None]
        new[1:] += po * old[:-1] * (position[1:] / (depth + 1))[:, None]
        return [*d, pi], np.append(z, pz), np.vstack([o, po]), new

    def unwind(path, k):
        d, z, o, w = path
        last = len(d) - 1
        one = o[k] != 0
        carry = w[last].copy()
        w = w.copy()
        for j in range(last - 1, -1, -1):
            w_one = carry * (last + 1) / (j + 1)
            carry = np.where(one, w[j] - w_one * z[k] * (last - j) / (last + 1), carry)
            w[j] = np.where(one, w_one, w[j] * (last + 1) / (z[k] * (last - j)))
        keep = np.arange(last + 1) != k
        return [f for i, f in enumerate(d) if i != k], z[keep], o[keep], w[:last]

    def leaf(path, value):
        # Σ of the weights of the path unwound by each element i ≥ 1, for all i at once.
        d, z, o, w = path
        last = len(d) - 1
        zi, oi = z[1:, None], o[1:]
        coef = (last + 1) / (last - np.arange(last))
        total_zero = (coef[:, None] * w[:last]).sum(axis=0)[None, :] / zi
        carry = np.broadcast_to(w[last], oi.shape)
        total_one = np.zeros(oi.shape)
        for j in range(last - 1, -1, -1):
            tmp = carry * (last + 1) / (j + 1)
            total_one += tmp
            carry = w[j] - tmp * zi * (last - j) / (last + 1)
        phi[:, d[1:]] += (np.where(oi != 0, total_one, total_zero) * (oi - zi) * value).T

    def recurse(j, path, pz, po, pi):
        path = extend(path, pz, po, pi)
        node = nodes[j]
        if node["is_leaf"]:
            if len(path[0]) > 1:
                leaf(path, node["value"])
            return
        feature = int(node["feature_idx"])
        iz, io = 1.0, np.ones(n)
        if feature in path[0][1:]:
            k = path[0].index(feature, 1)
            iz, io = path[1][k], path[2][k]
            path = unwind(path, k)
        left, right = int(node["left"]), int(node["right"])
        goes_left = routes[j]
        recurse(left, path, iz * nodes[left]["count"] / node["count"], io * goes_left, feature)
        recurse(right, path, iz * nodes[right]["count"] / node["count"], io * ~goes_left, feature)

    recurse(0, ([], np.empty(0), np.empty((0, n)), np.empty((0, n))), 1.0, np.ones(n), -1)


def _has_categorical_split(model: Any) -> bool:
    return any(bool(p.nodes["is_categorical"].any()) for stage in model._predictors for p in stage)


def tree_shap_values(model: HistGradientBoostingClassifier | HistGradientBoostingRegressor, X: np.ndarray):
    """Exact path-dependent TreeSHAP of a fitted single-output ``HistGradientBoosting*`` model.

    Explains the raw output (log-odds for a binary classifier, the prediction for a
    squared-error regressor): ``values.sum(axis=1) + expected_value`` equals
    ``decision_function(X)`` (classifier) or ``predict(X)`` (regressor). Uses
    ``shap.TreeExplainer`` when the model has no categorical split, and this module's
    vectorised TreeSHAP otherwise (see the module docstring).

    Returns
    -------
    (values, expected_value) : (ndarray of shape (n_rows, n_features), float)
    """
    X = np.asarray(X, dtype="float64")
    if any(len(stage) != 1 for stage in model._predictors):
        raise ValueError("only binary classifiers and single-output regressors are supported")
    if len(X) == 0:
        return np.zeros(X.shape), float("nan")
    if not _has_categorical_split(model):
        explainer = shap.TreeExplainer(model)
        values = np.asarray(explainer.shap_values(X), dtype="float64").reshape(len(X), X.shape[1])
        return values, float(np.ravel(explainer.expected_value)[0])
    return _path_dependent_tree_shap(model, X)


def _path_dependent_tree_shap(model: Any, X: np.ndarray) -> tuple[np.ndarray, float]:
    """This module's TreeSHAP over every tree of ``model`` (any split kind); see :func:`tree_shap_values`."""
    # With categorical features, sklearn re-encodes them (OrdinalEncoder, unknown → NaN) and
    # moves them to the front before the trees see them: tree feature indices refer to that
    # order, so explain in it and map the columns back.
    order = np.arange(X.shape[1])
    if getattr(model, "_preprocessor", None) is not None:
        X = np.asarray(model._preprocessor.transform(X), dtype="float64")
        order = np.r_[np.flatnonzero(model.is_categorical_), np.flatnonzero(~model.is_categorical_)]
    known_cats, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
    phi = np.zeros(X.shape)
    expected = float(np.ravel(model._baseline_prediction)[0])
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        leaves = nodes["is_leaf"].astype(bool)
        # the tree's expected output under its own cover (training counts), as TreeSHAP uses
        expected += float((nodes["value"][leaves] * nodes["count"][leaves]).sum() / nodes["count"][0])
        if len(nodes) > 1:
            _tree_shap_one(nodes, _predictor_routes(predictor, X, known_cats, f_idx_map), phi)
    original = np.empty_like(phi)
    original[:, order] = phi
    return original, expected


def mean_abs_shap(values: np.ndarray, features: list[str]) -> pd.Series:
    """Mean |SHAP| per feature (a global importance), indexed by feature name."""
    return pd.Series(np.abs(values).mean(axis=0) if len(values) else np.nan, index=features, dtype="float64")


# --------------------------------------------------------------------------- drift


def _sample(frame: pd.DataFrame, size: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= size:
        return frame
    return frame.iloc[np.sort(rng.choice(len(frame), size=size, replace=False))]


def _fidelity(surrogate: Any, frame: pd.DataFrame, features: dict[str, str], categories: dict[str, list[str]],
              score_column: str) -> float | None:
    """R² of the surrogate against the deployed score on ``frame`` (None with fewer than two scored rows)."""
    frame = frame.loc[pd.to_numeric(frame[score_column], errors="coerce").notna()]
    if len(frame) < 2:
        return None
    predicted = surrogate.predict(encode_features(frame, features, categories))
    return float(r2_score(frame[score_column].to_numpy(dtype="float64"), predicted))


def _fit_surrogate(
    reference: pd.DataFrame,
    features: dict[str, str],
    categories: dict[str, list[str]],
    score_column: str,
    seed: int,
    holdout_fraction: float,
    rng: np.random.Generator,
    params: dict[str, Any],
) -> tuple[HistGradientBoostingRegressor, float | None]:
    scored = reference.loc[pd.to_numeric(reference[score_column], errors="coerce").notna()]
    n_holdout = round(len(scored) * holdout_fraction)
    if len(scored) - n_holdout < 2 or n_holdout < 2:
        raise ValueError(f"the reference has {len(scored)} scored rows: too few to fit and check a surrogate")
    order = rng.permutation(len(scored))
    train, holdout = scored.iloc[np.sort(order[n_holdout:])], scored.iloc[np.sort(order[:n_holdout])]
    surrogate = HistGradientBoostingRegressor(
        random_state=seed, categorical_features=[kind in _CATEGORICAL_TYPES for kind in features.values()], **params
    )
    surrogate.fit(encode_features(train, features, categories), train[score_column].to_numpy(dtype="float64"))
    return surrogate, _fidelity(surrogate, holdout, features, categories, score_column)


@dataclass(frozen=True)
class ReferenceExplanation:
    """The explainer and the reference's importances, computed once per baseline and reused.

    Fitting the surrogate and explaining the reference sample dominate the cost, so a
    backfill computes this once and compares every partition's batch against it.
    """

    estimator: Any
    features: dict[str, str]
    categories: dict[str, list[str]]
    importance: pd.Series
    score_column: str | None
    holdout_fidelity: float | None
    explainer: str
    n_reference: int
    seed: int

    def compare(self, current: pd.DataFrame, *, sample_size: int) -> ExplanationDrift:
        """Explain a seeded sample of ``current`` and correlate its importances with the reference's."""
        rng = np.random.default_rng([self.seed, 1])
        cur_sample = _sample(current, sample_size, rng)
        names = list(self.features)
        cur_values, _ = tree_shap_values(self.estimator, encode_features(cur_sample, self.features, self.categories))
        cur_importance = mean_abs_shap(cur_values, names)
        fidelity = None
        if self.explainer == "surrogate":
            fidelity = {
                "r2_reference_holdout": self.holdout_fidelity,
                "r2_current": _fidelity(self.estimator, current, self.features, self.categories, self.score_column),
            }
        importance = pd.DataFrame(
            {
                "feature": names,
                "reference_mean_abs_shap": self.importance.to_numpy(),
                "current_mean_abs_shap": cur_importance.to_numpy(),
            }
        )
        return ExplanationDrift(
            importance=importance,
            spearman=shap_rank_correlation(self.importance, cur_importance) if len(cur_sample) else None,
            surrogate_fidelity=fidelity,
            explainer=self.explainer,
            n_reference=self.n_reference,
            n_current=len(cur_sample),
        )


def explain_reference(
    model_or_None: Any,
    reference: pd.DataFrame,
    *,
    features: dict[str, str],
    score_column: str | None,
    sample_size: int,
    seed: int,
    categories: dict[str, list[str]] | None = None,
    holdout_fraction: float = 0.25,
    surrogate_params: dict[str, Any] | None = None,
) -> ReferenceExplanation:
    """Choose the explainer (the model artifact, or a seeded surrogate of the score) and explain the reference.

    Parameters are those of :func:`explanation_drift`.
    """
    rng = np.random.default_rng(seed)
    holdout = None
    estimator = getattr(model_or_None, "estimator", model_or_None)
    if model_or_None is not None and hasattr(model_or_None, "categories"):
        categories = model_or_None.categories
        if list(model_or_None.feature_types) != list(features):
            raise ValueError("features must list the model artifact's features in its order")
    if categories is None:
        categories = fit_categories(reference, features)
    explainer = "model"
    if estimator is None:
        if score_column is None:
            raise ValueError("without a model artifact, score_column names the score a surrogate explains")
        estimator, holdout = _fit_surrogate(
            reference, features, categories, score_column, seed, holdout_fraction, rng, surrogate_params or {}
        )
        explainer = "surrogate"
    ref_sample = _sample(reference, sample_size, rng)
    ref_values, _ = tree_shap_values(estimator, encode_features(ref_sample, features, categories))
    return ReferenceExplanation(
        estimator=estimator, features=dict(features), categories=categories,
        importance=mean_abs_shap(ref_values, list(features)), score_column=score_column,
        holdout_fidelity=holdout, explainer=explainer, n_reference=len(ref_sample), seed=seed,
    )


def explanation_drift(
    model_or_None: Any,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    features: dict[str, str],
    score_column: str | None,
    sample_size: int,
    seed: int,
    categories: dict[str, list[str]] | None = None,
    holdout_fraction: float = 0.25,
    surrogate_params: dict[str, Any] | None = None,
) -> ExplanationDrift:
    """Mean |SHAP| per feature on seeded samples of ``reference`` and ``current``, and their rank correlation.

    Parameters
    ----------
    model_or_None : TrainedModel, HistGradientBoostingClassifier or None
        The model artifact. A :class:`~drift_pipeline.lib.modeling.TrainedModel` brings its
        own category lists; a bare estimator uses ``categories`` or, failing that, those of
        the reference (what training on the reference window with ``fit_categories`` gives).
        ``None``: explain a surrogate of ``score_column`` instead.
    features : dict
        Feature name → declared type, in the model's column order.
    score_column : str or None
        The deployed score a surrogate is fitted to (needed when ``model_or_None`` is None).
    sample_size : int
        Rows explained per side (all rows when fewer).
    seed : int
        Seeds the samples, the surrogate's train / hold-out split and the surrogate itself.
    holdout_fraction : float
        Share of the scored reference rows held out to measure the surrogate's fidelity.
    surrogate_params : dict, optional
        Extra ``HistGradientBoostingRegressor`` hyperparameters for the surrogate
        (default: scikit-learn's defaults).
    """
    reference_explanation = explain_reference(
        model_or_None, reference, features=features, score_column=score_column, sample_size=sample_size, seed=seed,
        categories=categories, holdout_fraction=holdout_fraction, surrogate_params=surrogate_params,
    )
    return reference_explanation.compare(current, sample_size=sample_size)
