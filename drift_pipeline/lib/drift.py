"""Per-feature data-drift table and its verdict (SPEC §3.1, §4).

:func:`feature_drift` computes one row of statistics per profiled feature;
:func:`assess_feature_drift` turns the rows into severities with the policy. Score and
decision stay separate, so the same table can be re-assessed under another policy.

The decision for one feature:

1. Below ``min_sample_size`` rows on either side the status is ``insufficient_data``
   and the severity INFO. Value tests additionally need ``min_sample_size`` non-null
   values on each side (otherwise they are NaN and only the null-rate test applies).
2. The family is every (feature x test) of the partition: the primary value test (KS
   for numeric, chi-square for categorical / boolean) and the null-rate test of each
   feature, corrected together (Bonferroni by default; Holm or Benjamini-Hochberg).
3. A value shift is flagged only when its corrected p-value is below ``alpha`` AND
   one effect size of ``effect_size_gate`` (PSI, normalised Wasserstein, JS distance)
   is at or above its WARNING band: a large sample never alerts on its p-value alone
   and a small one never alerts on a noisy PSI alone. Its severity is then the worst
   band among PSI, KL, normalised Wasserstein and JS distance.
4. A null-rate rise is flagged when its corrected p-value is below ``alpha`` and the
   rise reaches the ``null_rate_increase`` WARNING band.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from drift_pipeline.lib.config import DataDriftSettings, Policy
from drift_pipeline.lib.policy import Severity, Verdict, judge
from drift_pipeline.lib.profile import (
    BatchSummary,
    CategoricalReference,
    CategoricalSummary,
    DriftInputError,
    FeatureSummary,
    NumericReference,
    NumericSummary,
    ReferenceProfile,
    batch_columns,
    map_columns,
    summarise_column,
    summarize_parquet,
)
from drift_pipeline.lib.stats import (
    adjust_pvalues,
    chi2_pvalue_from_counts,
    js_distance_from_counts,
    kl_from_counts,
    ks_numerator_from_cells,
    ks_numerator_from_sorted,
    ks_pvalue_from_numerator,
    ks_thresholds,
    multinomial_resamples,
    psi_bootstrap_ci,
    psi_from_counts,
    two_proportion_pvalue,
    wasserstein_from_cells,
    wasserstein_from_sorted,
)

__all__ = [
    "ASSESSMENT_COLUMNS",
    "DRIFT_COLUMNS",
    "DriftInputError",
    "assess_feature_drift",
    "feature_drift",
    "feature_drift_from_parquet",
    "feature_drift_from_summary",
    "numeric_statistics",
]

DRIFT_COLUMNS: list[str] = [
    "feature",
    "type",
    "status",
    "n_reference",
    "n_current",
    "psi",
    "psi_ci_low",
    "psi_ci_high",
    "ks_statistic",
    "ks_pvalue",
    "ks_threshold",
    "wasserstein",
    "wasserstein_normed",
    "kl",
    "js_distance",
    "chi2_pvalue",
    "null_rate_reference",
    "null_rate_current",
    "null_rate_pvalue",
    "unseen_share",
    "out_of_range_share",
    "nonfinite_share",
    "p_value",
    "p_adjusted",
]
ASSESSMENT_COLUMNS: list[str] = ["severity", "metric", "value", "band", "rule", "significant", "gated_by"]

# Metrics whose band sets the severity of a flagged value shift, in reporting order.
_VALUE_METRICS = ("psi", "kl", "wasserstein_normed", "js_distance")
_BOOTSTRAP_STREAM = 0xB007


def _rate(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


def _feature_seed(settings: DataDriftSettings, feature: str) -> list[int]:
    # per-feature stream, so a feature's interval does not depend on the other features
    return [settings.seed, zlib.crc32(feature.encode()), _BOOTSTRAP_STREAM]


@lru_cache(maxsize=4096)
def _reference_resamples(fingerprint: str, feature: str, n_resamples: int, seed: tuple[int, ...], counts: bytes) -> np.ndarray:
    """Bootstrap bin counts of the reference: fixed per baseline, so drawn once and reused."""
    out = multinomial_resamples(np.frombuffer(counts, dtype=np.int64), n_resamples=n_resamples, seed=[*seed, 0])
    out.setflags(write=False)
    return out


def _psi_block(
    ref_counts: np.ndarray, cur_counts: np.ndarray, feature: str, settings: DataDriftSettings, fingerprint: str
) -> dict:
    seed = _feature_seed(settings, feature)
    resamples = None
    if settings.bootstrap_resamples > 0 and ref_counts.sum() > 0:
        resamples = _reference_resamples(
            fingerprint, feature, settings.bootstrap_resamples, tuple(seed), np.ascontiguousarray(ref_counts, dtype=np.int64).tobytes()
        )
    low, high = psi_bootstrap_ci(
        ref_counts,
        cur_counts,
        epsilon=settings.psi_epsilon,
        n_resamples=settings.bootstrap_resamples,
        seed=seed,
        reference_resamples=resamples,
    )
    return {
        "psi": psi_from_counts(ref_counts, cur_counts, epsilon=settings.psi_epsilon),
        "psi_ci_low": low,
        "psi_ci_high": high,
        "kl": kl_from_counts(ref_counts, cur_counts, epsilon=settings.psi_epsilon),
    }


def numeric_statistics(
    ref: NumericReference, cur: NumericSummary, settings: DataDriftSettings, *, fingerprint: str = ""
) -> dict:
    """Value statistics of one numeric feature (everything but the KS threshold).

    A one-chunk summary is computed exactly from its sorted values
    (:func:`~drift_pipeline.lib.stats.ks_numerator_from_sorted`,
    :func:`~drift_pipeline.lib.stats.wasserstein_from_sorted`); a merged summary from
    its cells. Besides the table's columns, ``wasserstein_error_bound`` is 0 when the
    Wasserstein distance is exact, which it is except for merged summaries in the case
    described in :func:`~drift_pipeline.lib.stats.wasserstein_from_cells`.
    """
    grid = ref.grid
    if cur.values is not None:
        xs = cur.values
        counts_le = np.searchsorted(xs, ref.edges, side="right")
        cur_bins = np.diff(np.r_[0, counts_le, xs.size]).astype(np.int64)
        num, flt = ks_numerator_from_sorted(grid, xs)
        distance, bound = wasserstein_from_sorted(grid, xs), 0.0
        outside = int(np.searchsorted(xs, ref.min, side="left") + xs.size - np.searchsorted(xs, ref.max, side="right"))
    else:
        cells = cur.cells
        # bins are (e_{j-1}, e_j]: values up to edge j are those in cells with id <= its edge cell
        upto = np.r_[0, np.cumsum(cells.count)][np.searchsorted(cells.ids, ref.edge_cells, side="right")]
        cur_bins = np.diff(np.r_[0, upto, cells.n]).astype(np.int64)
        num, flt = ks_numerator_from_cells(grid, cells)
        distance, bound = wasserstein_from_cells(grid, cells)
        outside = int(cells.count[(cells.ids == 0) | (cells.ids == 2 * grid.size)].sum())
    if grid.size == 0:
        outside = cur.n_finite
    cur_bins[0] += cur.n_neginf
    cur_bins[-1] += cur.n_posinf
    out = _psi_block(ref.bin_counts, cur_bins, ref.name, settings, fingerprint)
    out["ks_statistic"], out["ks_pvalue"] = ks_pvalue_from_numerator(num, flt, grid.n, cur.n_finite)
    out["wasserstein"] = distance
    out["wasserstein_error_bound"] = bound
    out["wasserstein_normed"] = distance / ref.std if ref.std > 0 else math.nan
    infinite = cur.n_posinf + cur.n_neginf
    out["out_of_range_share"] = _rate(outside + infinite, cur.n_values)
    out["nonfinite_share"] = _rate(infinite, cur.n_values)
    out["p_value"] = out["ks_pvalue"]
    return out


def _categorical_statistics(
    ref: CategoricalReference, cur: CategoricalSummary, settings: DataDriftSettings, fingerprint: str
) -> dict:
    ref_counts = np.r_[ref.counts, 0]
    out = _psi_block(ref_counts, cur.counts, ref.name, settings, fingerprint)
    out["js_distance"] = js_distance_from_counts(ref_counts, cur.counts)
    out["chi2_pvalue"] = chi2_pvalue_from_counts(ref_counts, cur.counts)
    out["unseen_share"] = _rate(int(cur.counts[-1]), cur.n_values)
    out["p_value"] = out["chi2_pvalue"]
    return out


def feature_drift_from_summary(
    profile: ReferenceProfile,
    summary: BatchSummary,
    settings: DataDriftSettings,
    *,
    features: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The drift table of a (merged) batch summary; see :func:`feature_drift`."""
    if summary.profile_fingerprint != profile.fingerprint:
        raise DriftInputError("the batch summary was made against a different reference profile")
    names = list(profile.features) if features is None else list(features)
    for name in names:
        if name not in summary.features:
            raise DriftInputError(f"column {name!r} is not in the batch summary")
    return _drift_table(profile, settings, names, summary.features.__getitem__, rows=summary.n_rows)


def _drift_table(
    profile: ReferenceProfile,
    settings: DataDriftSettings,
    names: list[str],
    summary_of: Callable[[str], FeatureSummary],
    *,
    rows: int,
) -> pd.DataFrame:
    """One row per feature; each column is summarised (``summary_of``) and scored in the same task,
    in threads for long columns, so a column's sorted values are used while still in cache."""
    if settings.psi_bins != profile.psi_bins:
        raise DriftInputError(
            f"the reference profile was built with psi_bins={profile.psi_bins} but the settings ask for "
            f"{settings.psi_bins}: rebuild the profile"
        )

    def feature_row(name: str) -> tuple[dict, FeatureSummary]:
        ref, cur = profile.features[name], summary_of(name)
        row = dict.fromkeys(DRIFT_COLUMNS, math.nan)
        row.update(feature=name, type=ref.type, n_reference=ref.n_values, n_current=cur.n_values)
        row["null_rate_reference"] = _rate(ref.n_null, ref.n_rows)
        row["null_rate_current"] = _rate(cur.n_null, cur.n_rows)
        enough_rows = min(ref.n_rows, cur.n_rows) >= settings.min_sample_size
        row["status"] = "ok" if enough_rows else "insufficient_data"
        if enough_rows:
            row["null_rate_pvalue"] = two_proportion_pvalue(ref.n_null, ref.n_rows, cur.n_null, cur.n_rows)
        if enough_rows and min(ref.n_values, cur.n_values) >= settings.min_sample_size:
            if isinstance(ref, NumericReference):
                stats = numeric_statistics(ref, cur, settings, fingerprint=profile.fingerprint)
                stats.pop("wasserstein_error_bound")
            else:
                stats = _categorical_statistics(ref, cur, settings, profile.fingerprint)
            row.update(stats)
        return row, cur

    results = map_columns(feature_row, names, rows=rows)
    table_rows = [row for row, _ in results]
    pending = [
        (index, profile.features[row["feature"]], cur)
        for index, (row, cur) in enumerate(results)
        if row["type"] == "numeric" and not math.isnan(row["ks_pvalue"]) and settings.ks_permutations > 0
    ]
    thresholds = ks_thresholds(
        [(ref.grid, cur.n_finite, lambda cur=cur: cur.cells) for _, ref, cur in pending],
        alpha=settings.alpha,
        n_permutations=settings.ks_permutations,
        seed=settings.seed,
    )
    for (index, _, _), threshold in zip(pending, thresholds):
        table_rows[index]["ks_threshold"] = threshold
    table = pd.DataFrame(table_rows, columns=DRIFT_COLUMNS)
    table["p_adjusted"] = _family_adjusted(table, settings.correction)[0]
    for column in ("n_reference", "n_current"):
        table[column] = table[column].astype(np.int64)
    return table


def _family_adjusted(table: pd.DataFrame, correction: str) -> tuple[np.ndarray, np.ndarray]:
    """Adjusted p-values of the primary tests and of the null-rate tests, corrected as one family."""
    family = np.r_[table["p_value"].to_numpy(dtype=float), table["null_rate_pvalue"].to_numpy(dtype=float)]
    adjusted = adjust_pvalues(family, method=correction)
    return adjusted[: len(table)], adjusted[len(table) :]


def feature_drift(profile: ReferenceProfile, current: pd.DataFrame, settings: DataDriftSettings) -> pd.DataFrame:
    """Per-feature drift statistics of a production batch against a reference profile.

    Parameters
    ----------
    profile : ReferenceProfile
        Built once per baseline version (``ReferenceProfile.build``).
    current : pandas.DataFrame
        The batch; must hold every profiled column (extra columns are ignored).
    settings : DataDriftSettings
        ``policy.data_drift``.

    Returns
    -------
    pandas.DataFrame
        One row per profiled feature in profile order, columns :data:`DRIFT_COLUMNS`
        (NaN where a statistic does not apply to the type or the sample is too small).
        ``p_value`` is the primary test (KS for numeric, chi-square otherwise) and
        ``p_adjusted`` its p-value corrected over the partition's family (every
        feature's primary and null-rate tests). ``ks_threshold`` is the
        permutation-calibrated critical value of ``ks_statistic`` at ``alpha``.
    """
    names = batch_columns(current, profile)
    return _drift_table(profile, settings, names, lambda name: summarise_column(profile, current, name), rows=len(current))


def feature_drift_from_parquet(
    profile: ReferenceProfile, path: Path, settings: DataDriftSettings, *, columns: Iterable[str] | None = None
) -> pd.DataFrame:
    """:func:`feature_drift` of a parquet file, streamed record batch by record batch.

    Memory is bounded by the reference profile and one record batch, not by the file.
    ``columns`` restricts the table to some profiled features.
    """
    names = list(profile.features) if columns is None else list(columns)
    summary = summarize_parquet(profile, Path(path), columns=names)
    return feature_drift_from_summary(profile, summary, settings, features=names)


# --------------------------------------------------------------------------- assessment


def _fmt(value: float) -> str:
    return f"{value:.3g}"


def _assess_row(row: pd.Series, p_null_adjusted: float, policy: Policy, model: str | None) -> dict:
    settings = policy.data_drift
    alpha = settings.alpha
    feature = str(row["feature"])

    def verdict(metric: str, value: float) -> Verdict:
        return judge(policy, "data", metric, None if pd.isna(value) else float(value), feature=feature, model=model)

    def warning(metric: str) -> str:
        return str(policy.band("data", metric, feature=feature, model=model).warning)

    gate = [verdict(metric, row[metric]) for metric in settings.effect_size_gate]
    # what to show when nothing is flagged: the largest effect size of the gate
    lead = max(gate, key=lambda v: (v.severity, -math.inf if v.value is None else v.value))
    if row["status"] != "ok":
        return _result(lead, Severity.INFO, False, f"insufficient data: fewer than {settings.min_sample_size} rows")

    p_adjusted = row["p_adjusted"]
    value_significant = bool(p_adjusted < alpha)  # False for NaN
    null_rise = row["null_rate_current"] - row["null_rate_reference"]
    null_verdict = verdict("null_rate_increase", null_rise)
    null_significant = bool(p_null_adjusted < alpha)

    flagged: list[Verdict] = []
    reasons: list[str] = []
    open_gate = [v for v in gate if v.severity >= Severity.WARNING]
    if value_significant and open_gate:
        flagged += [verdict(metric, row[metric]) for metric in _VALUE_METRICS]
        effect = max(open_gate, key=lambda v: v.severity)
        reasons.append(
            f"p_adj={p_adjusted:.2g} < {alpha:g} and {effect.metric} {_fmt(effect.value)} {warning(effect.metric)}"
        )
    if null_significant and null_verdict.severity >= Severity.WARNING:
        flagged.append(null_verdict)
        reasons.append(
            f"null-rate p_adj={p_null_adjusted:.2g} < {alpha:g} and null_rate_increase {_fmt(null_rise)} "
            f"{warning('null_rate_increase')}"
        )
    if flagged:
        worst = max(flagged, key=lambda v: v.severity)
        return _result(worst, worst.severity, True, "; ".join(reasons))

    effects = ", ".join(f"{v.metric} {_fmt(v.value)}" for v in gate if v.value is not None)
    if pd.isna(p_adjusted):
        why = f"value tests: fewer than {settings.min_sample_size} non-null values"
    elif value_significant:
        why = f"p_adj={p_adjusted:.2g} < {alpha:g} but {effects} below WARNING: effect too small"
    else:
        why = f"p_adj={p_adjusted:.2g} >= {alpha:g}: not significant ({effects})"
    if null_significant:
        why += f"; null rate {null_rise:+.3g} significant but below WARNING"
    return _result(lead, Severity.INFO, value_significant or null_significant, why)


def _result(verdict: Verdict, severity: Severity, significant: bool, gated_by: str) -> dict:
    return {
        "severity": str(severity),
        "metric": verdict.metric,
        "value": math.nan if verdict.value is None else verdict.value,
        "band": verdict.band,
        "rule": verdict.rule,
        "significant": significant,
        "gated_by": gated_by,
    }


def assess_feature_drift(table: pd.DataFrame, policy: Policy, model: str | None = None) -> pd.DataFrame:
    """Add severity columns to a :func:`feature_drift` table with the policy's bands.

    The family correction is recomputed from the raw p-values with
    ``policy.data_drift.correction`` so the null-rate tests have adjusted p-values too;
    per-feature overrides apply through :func:`drift_pipeline.lib.policy.judge`.

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with :data:`ASSESSMENT_COLUMNS` appended: ``severity``
        (INFO / WARNING / CRITICAL), the ``metric`` that drove it with its ``value``,
        ``band`` and ``rule``, whether any test was ``significant``, and ``gated_by``,
        a short explanation of the decision.
    """
    out = table.copy()
    if out.empty:
        for column in ASSESSMENT_COLUMNS:
            out[column] = pd.Series(dtype=bool if column == "significant" else object)
        return out
    primary, null = _family_adjusted(out, policy.data_drift.correction)
    out["p_adjusted"] = primary
    results = [_assess_row(row, null[i], policy, model) for i, (_, row) in enumerate(out.iterrows())]
    assessed = pd.DataFrame(results, index=out.index, columns=ASSESSMENT_COLUMNS)
    return pd.concat([out, assessed], axis=1)
