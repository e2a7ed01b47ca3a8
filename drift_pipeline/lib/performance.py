"""Model drift (SPEC §3.2): batch performance where labels exist, and label-free output shift.

Labels often arrive weeks after a decision (COMPAS: two years). A label that has not
arrived is ``NaN``; such rows are left out of every labelled metric, and when none (or
too few) remain the metrics are ``None`` with status ``labels_pending`` — never a number
computed on the wrong rows. The output-shift metrics need no labels at all.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

__all__ = [
    "accuracy_drop",
    "model_performance",
    "output_entropy_change",
    "prediction_distribution_shift",
]


def _as_float(values: Any) -> np.ndarray:
    """Booleans, integers, nullable pandas dtypes and ``None`` as a float array (missing → NaN)."""
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    return pd.to_numeric(series.astype("object").where(series.notna(), np.nan), errors="coerce").to_numpy(
        dtype="float64"
    )


def model_performance(y_true: Any, y_score: Any, y_pred: Any, *, min_labelled: int = 1) -> dict[str, Any]:
    """Accuracy, ROC AUC and log loss of one batch on the rows whose label has arrived.

    Parameters
    ----------
    y_true : array-like of {0, 1, True, False, NaN}
        Observed outcome; ``NaN`` / ``None`` / ``pd.NA`` means the label has not arrived yet.
    y_score : array-like of float, or None
        The model's score. ROC AUC uses it as a ranking, so any monotone score works
        (a COMPAS decile too). Log loss needs a probability and is ``None`` when any
        score lies outside [0, 1]. ``None`` when the model has no score.
    y_pred : array-like of {0, 1, True, False}
        The decision. Rows whose prediction is missing are left out of accuracy.
    min_labelled : int, keyword-only
        Fewest labelled rows that give a verdict; pass ``policy.data_drift.min_sample_size``.

    Returns
    -------
    dict
        ``accuracy``, ``roc_auc``, ``log_loss`` (float or None), ``n_rows``, ``n_labelled``
        and ``status``:

        - ``insufficient_data``: the batch itself has fewer than ``min_labelled`` rows;
        - ``labels_pending``: enough rows, but fewer than ``min_labelled`` labels arrived;
        - ``ok``: metrics computed. ``roc_auc`` and ``log_loss`` can still be ``None`` when
          only one class is present (AUC undefined) or scores are not probabilities.
    """
    truth = _as_float(y_true)
    pred = _as_float(y_pred)
    score = None if y_score is None else _as_float(y_score)
    n_rows = len(pred)
    if len(truth) != n_rows or (score is not None and len(score) != n_rows):
        raise ValueError("y_true, y_score and y_pred must have the same length")
    labelled = ~np.isnan(truth)
    n_labelled = int(labelled.sum())
    result: dict[str, Any] = {
        "accuracy": None,
        "roc_auc": None,
        "log_loss": None,
        "n_rows": n_rows,
        "n_labelled": n_labelled,
    }
    if n_rows < min_labelled:
        return {**result, "status": "insufficient_data"}
    if n_labelled < min_labelled or n_labelled == 0:
        return {**result, "status": "labels_pending"}

    rows = labelled & ~np.isnan(pred)
    if rows.any():
        result["accuracy"] = float(accuracy_score(truth[rows].astype(bool), pred[rows].astype(bool)))
    if score is not None:
        rows = labelled & np.isfinite(score)
        y, s = truth[rows].astype(int), score[rows]
        if len(np.unique(y)) == 2:
            result["roc_auc"] = float(roc_auc_score(y, s))
        if len(y) and s.min() >= 0.0 and s.max() <= 1.0:
            result["log_loss"] = float(log_loss(y, s, labels=[0, 1]))
    return {**result, "status": "ok"}


def accuracy_drop(reference_acc: float | None, current_acc: float | None) -> float | None:
    """Absolute accuracy drop ``reference − current`` (positive = worse); ``None`` if either is missing."""
    if reference_acc is None or current_acc is None:
        return None
    return float(reference_acc) - float(current_acc)


def _category_shares(reference: Any, current: Any, bins: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Shares of ``reference`` and ``current`` over a common set of cells (missing values dropped).

    ``bins=None``: one cell per distinct value (predicted classes). ``bins=k``: quantile
    bins with interior edges at the reference's ``1/k … (k−1)/k`` quantiles; repeated
    edges (discrete scores such as COMPAS deciles) are merged, and each bin is
    left-closed (``edge_i <= x < edge_{i+1}``), so values beyond the reference range fall
    in the outer bins.
    """
    ref = pd.Series(reference).dropna()
    cur = pd.Series(current).dropna()
    if bins is None:
        cells = sorted(set(ref.tolist()) | set(cur.tolist()), key=str)
        index = {c: i for i, c in enumerate(cells)}
        ref_cells = ref.map(index).to_numpy(dtype=int)
        cur_cells = cur.map(index).to_numpy(dtype=int)
        n_cells = len(cells)
    else:
        if bins < 1:
            raise ValueError(f"bins must be a positive integer, got {bins}")
        ref_values = ref.to_numpy(dtype="float64")
        edges = np.unique(np.quantile(ref_values, np.arange(1, bins) / bins)) if len(ref_values) else np.empty(0)
        ref_cells = np.searchsorted(edges, ref_values, side="right")
        cur_cells = np.searchsorted(edges, cur.to_numpy(dtype="float64"), side="right")
        n_cells = len(edges) + 1
    ref_counts = np.bincount(ref_cells, minlength=n_cells).astype("float64")
    cur_counts = np.bincount(cur_cells, minlength=n_cells).astype("float64")
    if ref_counts.sum() == 0 or cur_counts.sum() == 0:
        raise ValueError("reference and current need at least one non-missing value each")
    return ref_counts / ref_counts.sum(), cur_counts / cur_counts.sum()


def prediction_distribution_shift(reference: Any, current: Any, *, bins: int | None = None) -> float:
    """Total variation distance between the reference and current output distributions.

    ``TV = ½ Σ_i |p_i − q_i|`` over predicted classes (``bins=None``, the default) or over
    score bins fitted on the reference (``bins=10`` gives reference deciles; see
    ``_category_shares``). 0 = same distribution, 1 = disjoint. A class present in only
    one of the two samples counts with share 0 in the other.
    """
    p, q = _category_shares(reference, current, bins)
    return float(0.5 * np.abs(p - q).sum())


def _entropy(shares: np.ndarray) -> float:
    nonzero = shares[shares > 0]
    return float(-(nonzero * np.log(nonzero)).sum())


def output_entropy_change(reference: Any, current: Any, *, bins: int | None = None) -> float:
    """Relative change of the Shannon entropy of the predicted-class distribution.

    ``|H(current) − H(reference)| / H(reference)``, entropies in nats over the classes (or
    reference-fitted score bins, as in :func:`prediction_distribution_shift`) seen in
    either sample. The ratio does not depend on the log base. Direction is dropped: a
    model that becomes more certain (collapses onto one class) and one that becomes
    less certain are both changes to review.

    Normalisation when the reference is constant (``H(reference) = 0``): the denominator
    becomes ``log K``, the largest entropy possible over the ``K`` classes seen, so the
    result stays in [0, 1] (``K = 1`` gives 0: nothing changed).
    """
    p, q = _category_shares(reference, current, bins)
    h_ref, h_cur = _entropy(p), _entropy(q)
    denominator = h_ref if h_ref > 0 else math.log(len(p)) if len(p) > 1 else 1.0
    return float(abs(h_cur - h_ref) / denominator)
