"""Group fairness per protected attribute (SPEC §3.3), with fairlearn's definitions.

For one attribute with groups ``a``:

- selection rate ``P(ŷ = 1 | A = a)``; TPR ``P(ŷ = 1 | Y = 1, A = a)``;
  FPR ``P(ŷ = 1 | Y = 0, A = a)``; FNR ``P(ŷ = 0 | Y = 1, A = a)``;
- ``demographic_parity_difference`` = max − min selection rate (0 is fair),
  as ``fairlearn.metrics.demographic_parity_difference``;
- ``equal_opportunity_difference`` = max − min TPR (0 is fair),
  as ``fairlearn.metrics.equal_opportunity_difference``;
- ``disparate_impact_ratio`` = min / max selection rate (1 is fair),
  as ``fairlearn.metrics.demographic_parity_ratio``.

Departures from fairlearn, all in cases fairlearn has no good answer for:

- groups with fewer than ``min_group_size`` rows are reported but left out of the three
  metrics (they never raise an alert), and the excluded groups are listed;
- with fewer than two groups left the metrics are ``None`` (fairlearn returns 0);
- a label that has not arrived (``NaN``) leaves its row out of TPR / FPR / FNR but not
  out of the selection rate, which needs no label; a group with no positive labels has
  an undefined TPR (fairlearn reports 0) and is left out of the equal-opportunity gap.

Everything is computed from one small table of counts per group and confusion cell, so
a bootstrap resample costs one ``np.bincount``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FAIRNESS_POLICY_METRICS",
    "FOUR_FIFTHS",
    "demographic_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "fairness_drift",
    "fairness_report",
    "four_fifths_rule",
    "group_rates",
]

# The EEOC's four-fifths rule (Uniform Guidelines on Employee Selection Procedures,
# 29 CFR 1607.4(D)) is defined by this ratio; it is a legal heuristic, not a policy band.
FOUR_FIFTHS = 4 / 5

# Which policy band judges each metric, and on what: the two differences are judged by
# their drift from the baseline, the ratio by its value (policy.yaml ``bands.fairness``).
FAIRNESS_POLICY_METRICS = {
    "demographic_parity_difference": ("demographic_parity_drift", "drift"),
    "equal_opportunity_difference": ("equal_opportunity_drift", "drift"),
    "disparate_impact_ratio": ("disparate_impact_ratio", "value"),
}
_METRICS = tuple(FAIRNESS_POLICY_METRICS)
_MISSING_GROUP = "(missing)"

# Confusion cells: 3 * prediction + label state, label state 0 / 1 / 2 = pending.
_N_CELLS = 6
_TN, _FN, _PENDING_NEG, _FP, _TP, _PENDING_POS = range(_N_CELLS)


def _binary(values: Any, name: str) -> np.ndarray:
    """0 / 1 / NaN floats from booleans, integers or nullable dtypes; anything else is an error."""
    series = pd.Series(values)
    out = pd.to_numeric(series.astype("object").where(series.notna(), np.nan), errors="coerce").to_numpy(
        dtype="float64"
    )
    bad = ~np.isnan(out) & (out != 0) & (out != 1)
    if bad.any() or (np.isnan(out) & series.notna().to_numpy()).any():
        raise ValueError(f"{name} must be binary (0/1 or boolean, missing allowed)")
    return out


class _Cells:
    """Per-row confusion cell and per-attribute group codes of one frame (prediction present)."""

    def __init__(self, y_true: Any, y_pred: Any, sensitive: dict[str, Any]):
        truth = _binary(y_true, "label")
        pred = _binary(y_pred, "prediction")
        keep = ~np.isnan(pred)
        label_state = np.where(np.isnan(truth), 2, np.nan_to_num(truth)).astype(int)
        self.cell = (3 * pred[keep] + label_state[keep]).astype(int)
        self.groups: dict[str, list[str]] = {}
        self.codes: dict[str, np.ndarray] = {}
        for attribute, values in sensitive.items():
            series = pd.Series(values).astype("object")
            names = series.where(series.notna(), _MISSING_GROUP).astype(str).to_numpy()[keep]
            codes, uniques = pd.factorize(names, sort=True)
            self.groups[attribute] = [str(u) for u in uniques]
            self.codes[attribute] = codes
        self.n = int(keep.sum())

    def counts(self, attribute: str, rows: np.ndarray | None = None) -> np.ndarray:
        """(groups, 6) counts, optionally over resampled ``rows``."""
        n_groups = len(self.groups[attribute])
        key = self.codes[attribute] * _N_CELLS + self.cell
        if rows is not None:
            key = key[rows]
        return np.bincount(key, minlength=n_groups * _N_CELLS).reshape(n_groups, _N_CELLS).astype("float64")


def _rates(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Group sizes and rates from (..., groups, 6) counts; undefined rates are NaN."""
    c = np.moveaxis(counts, -1, 0)
    n = c.sum(axis=0)
    positives = c[_TP] + c[_FN]
    negatives = c[_FP] + c[_TN]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "n": n,
            "selection_rate": (c[_FP] + c[_TP] + c[_PENDING_POS]) / n,
            "tpr": c[_TP] / positives,
            "fpr": c[_FP] / negatives,
            "fnr": c[_FN] / positives,
        }


def _metric(rates: dict[str, np.ndarray], included: np.ndarray, metric: str) -> np.ndarray:
    """One metric over the included groups, along the last axis; NaN when < 2 groups qualify."""
    source = rates["tpr"] if metric == "equal_opportunity_difference" else rates["selection_rate"]
    values = np.where(included, source, np.nan)
    enough = (~np.isnan(values)).sum(axis=-1) >= 2
    with np.errstate(all="ignore"):
        high = np.nanmax(np.where(enough[..., None], values, 0.0), axis=-1)
        low = np.nanmin(np.where(enough[..., None], values, 0.0), axis=-1)
        value = low / high if metric == "disparate_impact_ratio" else high - low
    return np.where(enough, value, np.nan)


def _single_metric(y_true: Any, y_pred: Any, sensitive_features: Any, min_group_size: int, metric: str) -> float | None:
    cells = _Cells(y_true, y_pred, {"a": sensitive_features})
    counts = cells.counts("a")
    value = float(_metric(_rates(counts), counts.sum(axis=1) >= min_group_size, metric))
    return None if np.isnan(value) else value


def demographic_parity_difference(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, min_group_size: int = 1
) -> float | None:
    """``max_a P(ŷ=1 | A=a) − min_a P(ŷ=1 | A=a)`` over groups of at least ``min_group_size`` rows."""
    return _single_metric(y_true, y_pred, sensitive_features, min_group_size, "demographic_parity_difference")


def equal_opportunity_difference(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, min_group_size: int = 1
) -> float | None:
    """``max_a TPR_a − min_a TPR_a`` over groups of at least ``min_group_size`` rows with a positive label."""
    return _single_metric(y_true, y_pred, sensitive_features, min_group_size, "equal_opportunity_difference")


def disparate_impact_ratio(
    y_true: Any, y_pred: Any, *, sensitive_features: Any, min_group_size: int = 1
) -> float | None:
    """``min_a P(ŷ=1 | A=a) / max_a P(ŷ=1 | A=a)`` (fairlearn's ``demographic_parity_ratio``)."""
    return _single_metric(y_true, y_pred, sensitive_features, min_group_size, "disparate_impact_ratio")


def four_fifths_rule(ratio: float | None) -> tuple[bool | None, str]:
    """The EEOC four-fifths rule as a heuristic: ``(ratio >= 4/5, explanation)``.

    Reported next to the disparate impact ratio, never used as a verdict: the policy band
    decides alerts, and the rule itself is a rule of thumb for adverse impact in hiring
    (29 CFR 1607.4(D)), not a statistical test.
    """
    caveat = "a screening heuristic (EEOC Uniform Guidelines, 29 CFR 1607.4(D)), not a legal or statistical verdict"
    if ratio is None or not np.isfinite(ratio):
        return None, f"Four-fifths rule not assessed (ratio undefined); {caveat}."
    met = bool(ratio >= FOUR_FIFTHS)
    verb = "meets" if met else "does not meet"
    return met, (
        f"The lowest group selection rate is {ratio:.1%} of the highest, which {verb} the "
        f"four-fifths rule (>= 80%); {caveat}."
    )


def _frame_cells(frame: pd.DataFrame, protected: list[str], label: str, prediction: str) -> _Cells:
    missing = [c for c in [*protected, label, prediction] if c not in frame.columns]
    if missing:
        raise ValueError(f"fairness needs columns that are not in the frame: {missing}")
    return _Cells(frame[label], frame[prediction], {a: frame[a] for a in protected})


def group_rates(
    frame: pd.DataFrame, *, protected: list[str], label: str, prediction: str, min_group_size: int
) -> pd.DataFrame:
    """One row per attribute × group: size, confusion counts, rates, and whether it is included.

    Columns: ``attribute, group, n, n_labelled, tp, fp, tn, fn, selection_rate, tpr, fpr,
    fnr, included`` (``included`` is ``n >= min_group_size``). Rates are NaN when their
    denominator is empty. Rows whose prediction is missing are left out.
    """
    cells = _frame_cells(frame, protected, label, prediction)
    rows = []
    for attribute in protected:
        counts = cells.counts(attribute)
        rates = _rates(counts)
        for g, group in enumerate(cells.groups[attribute]):
            c = counts[g]
            rows.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "n": int(rates["n"][g]),
                    "n_labelled": int(c[[_TN, _FN, _FP, _TP]].sum()),
                    "tp": int(c[_TP]),
                    "fp": int(c[_FP]),
                    "tn": int(c[_TN]),
                    "fn": int(c[_FN]),
                    "selection_rate": float(rates["selection_rate"][g]),
                    "tpr": float(rates["tpr"][g]),
                    "fpr": float(rates["fpr"][g]),
                    "fnr": float(rates["fnr"][g]),
                    "included": bool(rates["n"][g] >= min_group_size),
                }
            )
    return pd.DataFrame(rows)


def fairness_report(
    frame: pd.DataFrame,
    *,
    protected: list[str],
    label: str,
    prediction: str,
    min_group_size: int,
    n_resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per attribute × metric, with a seeded percentile-bootstrap confidence interval.

    The bootstrap resamples rows with replacement (``numpy.random.default_rng(seed)``; the
    same resampled rows serve every attribute) and recomputes each metric on the groups
    included in the full sample; ``ci_low`` / ``ci_high`` are the ``(1 ± confidence) / 2``
    percentiles of the resampled values (resamples where the metric is undefined are
    dropped). ``n_resamples=0`` gives no interval.

    Columns: ``attribute, metric, value, ci_low, ci_high, n_groups_included,
    groups_excluded`` (list of group names below ``min_group_size``),
    ``four_fifths_rule_met`` and ``note`` (the four-fifths heuristic on the ratio row; why a
    value is missing on the others). A metric that cannot be computed is NaN, never 0.
    """
    cells = _frame_cells(frame, protected, label, prediction)
    rng = np.random.default_rng(seed)
    resampled = [rng.integers(0, cells.n, cells.n) for _ in range(n_resamples)] if cells.n else []
    tail = 100 * (1 - confidence) / 2
    rows = []
    for attribute in protected:
        counts = cells.counts(attribute)
        included = counts.sum(axis=1) >= min_group_size
        rates = _rates(counts)
        boot_rates = _rates(np.stack([cells.counts(attribute, r) for r in resampled])) if resampled else None
        excluded = [g for g, keep in zip(cells.groups[attribute], included) if not keep]
        for metric in _METRICS:
            value = float(_metric(rates, included, metric))
            ci_low = ci_high = None
            if boot_rates is not None:
                draws = _metric(boot_rates, included, metric)
                draws = draws[~np.isnan(draws)]
                if len(draws):
                    ci_low, ci_high = (float(v) for v in np.percentile(draws, [tail, 100 - tail]))
            met, note = None, ""
            if metric == "disparate_impact_ratio":
                met, note = four_fifths_rule(None if np.isnan(value) else value)
            if np.isnan(value):
                note = _why_undefined(metric, rates, included) + (f" {note}" if note else "")
            rows.append(
                {
                    "attribute": attribute,
                    "metric": metric,
                    "value": value,
                    "ci_low": ci_low,
                    "ci_high": ci_high,
                    "n_groups_included": int(included.sum()),
                    "groups_excluded": excluded,
                    "four_fifths_rule_met": met,
                    "note": note,
                }
            )
    return pd.DataFrame(rows)


def _why_undefined(metric: str, rates: dict[str, np.ndarray], included: np.ndarray) -> str:
    if included.sum() < 2:
        return "Fewer than two groups reach the minimum group size."
    if metric == "equal_opportunity_difference":
        return "Fewer than two included groups have an arrived positive label (labels pending?)."
    return "Selection rates are undefined (no selections in any included group)."


def fairness_drift(current: pd.DataFrame, baseline: pd.DataFrame) -> pd.DataFrame:
    """``current`` report with each metric's baseline value and absolute drift.

    Adds ``baseline_value``, ``drift = |value − baseline_value|`` (NaN when either is
    missing), ``policy_metric`` (the band that judges it) and ``policy_value`` (the number
    the band is applied to: the drift for the differences, the value for the ratio).
    """
    base = baseline[["attribute", "metric", "value"]].rename(columns={"value": "baseline_value"})
    out = current.merge(base, on=["attribute", "metric"], how="left")
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    out["baseline_value"] = pd.to_numeric(out["baseline_value"], errors="coerce")
    out["drift"] = (out["value"] - out["baseline_value"]).abs()
    out["policy_metric"] = [FAIRNESS_POLICY_METRICS[m][0] for m in out["metric"]]
    out["policy_value"] = [row[FAIRNESS_POLICY_METRICS[row["metric"]][1]] for _, row in out.iterrows()]
    return out
