"""Drift statistics between a reference sample and a current sample (SPEC §3.1).

Every public statistic has the scikit-learn / fairlearn shape
``name(reference, current, *, option=...) -> float``; the name says the direction
(``*_distance`` and ``*_divergence`` are 0 for identical samples, ``*_pvalue`` is small
under drift). The functions compute; ``drift_pipeline.lib.policy`` decides.

Numeric statistics are built on two small representations that make the reference
reusable and the current sample mergeable (SPEC §9):

* :class:`ReferenceGrid` holds the reference's distinct sorted finite values and their
  multiplicities (and derived cumulative arrays). It is computed once per baseline.
* :class:`EcdfCells` summarises current values against that grid. Cell ``2i + 1`` counts
  values equal to reference value ``d_i``; cell ``2i`` holds values strictly between
  ``d_{i-1}`` and ``d_i`` (cell ``0`` below the reference minimum, cell ``2K`` above its
  maximum) with their count, sum, min and max. Only occupied cells are stored, so a
  summary is at most ``min(batch size, 2K + 1)`` cells and two summaries merge by
  adding cells.
* :class:`DenseCells` holds every cell of the grid in fixed arrays and absorbs chunks in
  place: the streaming form, whose memory is set by the reference (``32`` bytes per
  distinct reference value) and never grows with the batch.

From these the KS statistic and PSI are exact; Wasserstein-1 is exact except in one
documented case (:func:`wasserstein_from_cells`), where it is bracketed with a computed
error bound.

Conventions used throughout:

* Nulls (NaN, None) are never values: value tests ignore them, and the null rate has
  its own two-proportion test (:func:`null_rate_pvalue`).
* ``±inf`` are values: they fall in the outer PSI bins (which are open to ``±inf``) and
  count as out of range, but the KS test and the Wasserstein distance, which need
  finite values, use the finite values only.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import pandas as pd
from scipy import special
from scipy import stats as sps
from scipy.stats._stats_py import _attempt_exact_2kssamp  # the exact path of ks_2samp

__all__ = [
    "DenseCells",
    "EcdfCells",
    "ReferenceGrid",
    "adjust_pvalues",
    "bootstrap_ci",
    "chi2_pvalue",
    "chi2_pvalue_from_counts",
    "jensen_shannon_distance",
    "js_distance_from_counts",
    "kl_divergence",
    "kl_from_counts",
    "ks_2samp_test",
    "ks_null_distribution",
    "ks_numerator_from_cells",
    "ks_numerator_from_sorted",
    "ks_permutation_pvalue",
    "ks_permutation_threshold",
    "ks_pvalue",
    "ks_pvalue_from_numerator",
    "ks_statistic",
    "ks_threshold_from_cells",
    "ks_thresholds",
    "ks_thresholds_from_cells",
    "multinomial_resamples",
    "nonfinite_share",
    "normalized_wasserstein_distance",
    "null_rate_pvalue",
    "out_of_range_share",
    "pooled_tie_blocks",
    "population_stability_index",
    "psi_bootstrap_ci",
    "psi_from_counts",
    "quantile_bin_edges",
    "two_proportion_pvalue",
    "unseen_category_share",
    "wasserstein_distance",
    "wasserstein_from_cells",
    "wasserstein_from_sorted",
]

# ks_2samp(method="auto") is exact up to this sample size, asymptotic above (scipy 1.17).
_SCIPY_KS_MAX_EXACT_N = 10_000

# Above this size of the smaller sample the permutation null would need more than
# B x 16384 simulated positions; the threshold then falls back to the asymptotic
# Kolmogorov quantile (exact for continuous data as n grows, conservative under ties).
_MAX_PERMUTATION_WALK = 16_384

_INT32_MAX = int(np.iinfo(np.int32).max)

# Long vectorised loops run in chunks of this many elements, so that temporaries are
# reused from cache instead of being freshly mapped (page faults dominate otherwise).
_CHUNK = 1 << 16


# --------------------------------------------------------------------------- helpers


def _as_float_array(values: object) -> np.ndarray:
    """Values as float64 with nulls as NaN (accepts lists, arrays, pandas objects)."""
    if isinstance(values, (pd.Series, pd.Index)):
        return pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64).ravel()


def _finite_sorted(values: object) -> np.ndarray:
    x = _as_float_array(values)
    return np.sort(x[np.isfinite(x)])


def _nonnull(values: object) -> np.ndarray:
    x = _as_float_array(values)
    return x[~np.isnan(x)]


def _category_counts(reference: object, current: object) -> tuple[np.ndarray, np.ndarray]:
    """Counts over the reference categories (sorted) plus a final "unseen" bin; nulls ignored."""
    ref = pd.Series(np.asarray(reference, dtype=object)).dropna()
    cur = pd.Series(np.asarray(current, dtype=object)).dropna()
    categories = pd.Index(sorted(pd.unique(ref), key=str))
    ref_codes = categories.get_indexer(ref)
    cur_codes = categories.get_indexer(cur)
    k = len(categories)
    ref_counts = np.bincount(ref_codes, minlength=k + 1)
    cur_counts = np.bincount(np.where(cur_codes < 0, k, cur_codes), minlength=k + 1)
    return ref_counts.astype(np.int64), cur_counts.astype(np.int64)


def _interval(samples: np.ndarray, confidence: float, method: str, estimate: float) -> tuple[float, float]:
    """Percentile or basic (reverse-percentile) bootstrap interval of finite resampled values."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return (math.nan, math.nan)
    tail = (1.0 - confidence) / 2.0
    low, high = (float(q) for q in np.quantile(samples, [tail, 1.0 - tail]))
    if method == "percentile":
        return (low, high)
    if method == "basic":
        return (2.0 * estimate - high, 2.0 * estimate - low)
    raise ValueError(f"unknown bootstrap interval {method!r}: expected 'percentile' or 'basic'")


# --------------------------------------------------------------------------- binning, PSI, KL


def quantile_bin_edges(reference: object, *, n_bins: int = 10) -> np.ndarray:
    """Interior PSI bin edges: the reference's empirical quantiles at ``j / n_bins``.

    Edges are the inverted-CDF quantiles ``Q(p) = min{x : F_ref(x) >= p}`` of the
    finite reference values (so every edge is an observed reference value), with
    duplicates removed for tied data. Bins are right-closed,
    ``(-inf, e_1], (e_1, e_2], ..., (e_k, +inf)``, so the outer bins are open to
    ``±inf`` and at most ``n_bins`` bins result.

    Parameters
    ----------
    reference : array-like of float
        Reference values; NaN and ``±inf`` are ignored for fitting.
    n_bins : int, default 10
        Number of quantile bins before de-duplication.

    Returns
    -------
    numpy.ndarray
        Sorted, unique interior edges (empty when there are no finite values).
    """
    return ReferenceGrid.from_values(_finite_sorted(reference)).quantile_edges(n_bins)


def _bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1).astype(np.int64)


def _floored_proportions(counts: np.ndarray, epsilon: float) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.maximum(counts / total, epsilon)


def psi_from_counts(reference_counts: object, current_counts: object, *, epsilon: float = 1e-4) -> float:
    """Population stability index from bin counts.

    ``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)`` where ``r_i`` and ``c_i`` are the
    reference and current proportions of bin ``i``, each floored at ``epsilon`` so that
    an empty bin contributes a large but finite term. Proportions are *not*
    renormalised after flooring (the usual industry convention, also Evidently's);
    every term is non-negative, so PSI >= 0. Works row-wise on 2-D count arrays.

    Parameters
    ----------
    reference_counts, current_counts : array-like of int
        Counts over the same bins (last axis).
    epsilon : float, default 1e-4
        Floor for proportions (policy ``data_drift.psi_epsilon``).

    Returns
    -------
    float
        PSI (NaN when either side has no values).

    References
    ----------
    Yurdakul, B. (2018). Statistical properties of population stability index.
    Western Michigan University dissertation 3208.
    """
    r = _floored_proportions(reference_counts, epsilon)
    c = _floored_proportions(current_counts, epsilon)
    value = np.sum((c - r) * np.log(c / r), axis=-1)
    return float(value) if np.ndim(value) == 0 else value


def kl_from_counts(reference_counts: object, current_counts: object, *, epsilon: float = 1e-4) -> float:
    """Kullback-Leibler divergence ``KL(current || reference)`` from bin counts.

    ``KL = sum_i c_i * ln(c_i / r_i)`` (natural log) on the same floored, not
    renormalised proportions as :func:`psi_from_counts`; so ``PSI = KL(c||r) + KL(r||c)``
    on the same bins. The direction measures how surprising the current batch is under
    the reference. Non-negative up to ``O(epsilon)`` when bins are empty.

    Parameters
    ----------
    reference_counts, current_counts : array-like of int
        Counts over the same bins.
    epsilon : float, default 1e-4
        Floor for proportions.

    Returns
    -------
    float
    """
    r = _floored_proportions(reference_counts, epsilon)
    c = _floored_proportions(current_counts, epsilon)
    return float(np.sum(c * np.log(c / r)))


def _binned_counts(reference: object, current: object, n_bins: int, categorical: bool) -> tuple[np.ndarray, np.ndarray]:
    if categorical:
        return _category_counts(reference, current)
    ref = _nonnull(reference)
    cur = _nonnull(current)
    edges = quantile_bin_edges(ref, n_bins=n_bins)
    return _bin_counts(ref, edges), _bin_counts(cur, edges)


def population_stability_index(
    reference: object, current: object, *, n_bins: int = 10, epsilon: float = 1e-4, categorical: bool = False
) -> float:
    """Population stability index of ``current`` against ``reference``.

    Numeric: :func:`quantile_bin_edges` bins fitted on the reference (``±inf`` fall in
    the outer bins). Categorical: one bin per reference category plus one "unseen" bin
    for categories absent from the reference. Nulls are ignored. See
    :func:`psi_from_counts` for the formula and the ``epsilon`` floor.

    Parameters
    ----------
    reference, current : array-like
    n_bins : int, default 10
        Quantile bins (numeric only).
    epsilon : float, default 1e-4
        Floor for empty-bin proportions.
    categorical : bool, default False
        Treat values as categories.

    Returns
    -------
    float
        0 for identical binned distributions; 0.10 and 0.25 are the customary
        WARNING / CRITICAL levels.
    """
    ref_counts, cur_counts = _binned_counts(reference, current, n_bins, categorical)
    return psi_from_counts(ref_counts, cur_counts, epsilon=epsilon)


def kl_divergence(
    reference: object, current: object, *, n_bins: int = 10, epsilon: float = 1e-4, categorical: bool = False
) -> float:
    """``KL(current || reference)`` on the PSI bins (see :func:`kl_from_counts`).

    Parameters
    ----------
    reference, current : array-like
    n_bins : int, default 10
    epsilon : float, default 1e-4
    categorical : bool, default False

    Returns
    -------
    float
    """
    ref_counts, cur_counts = _binned_counts(reference, current, n_bins, categorical)
    return kl_from_counts(ref_counts, cur_counts, epsilon=epsilon)


# --------------------------------------------------------------------------- categorical tests


def js_distance_from_counts(reference_counts: object, current_counts: object) -> float:
    """Jensen-Shannon distance (base 2) between two count vectors over the same bins.

    ``JS = sqrt( (KL(p || m) + KL(q || m)) / 2 )`` with ``m = (p + q) / 2`` and
    logarithms in base 2, so ``0 <= JS <= 1``. Equal to
    ``scipy.spatial.distance.jensenshannon(p, q, base=2)``; zero bins need no floor.

    Returns
    -------
    float
        NaN when either side has no values.
    """
    p = np.asarray(reference_counts, dtype=np.float64)
    q = np.asarray(current_counts, dtype=np.float64)
    if p.sum() <= 0 or q.sum() <= 0:
        return math.nan
    p = p / p.sum()
    q = q / q.sum()
    m = (p + q) / 2.0
    js = (np.sum(special.rel_entr(p, m)) + np.sum(special.rel_entr(q, m))) / np.log(2.0)
    return float(np.sqrt(max(js, 0.0) / 2.0))


def jensen_shannon_distance(reference: object, current: object) -> float:
    """Jensen-Shannon distance (base 2) between the category distributions.

    Bins are the reference categories plus one "unseen" bin; nulls are ignored. See
    :func:`js_distance_from_counts`.

    Returns
    -------
    float
        In ``[0, 1]``.
    """
    return js_distance_from_counts(*_category_counts(reference, current))


def chi2_pvalue_from_counts(reference_counts: object, current_counts: object) -> float:
    """P-value of Pearson's chi-square test of homogeneity on a 2 x k count table.

    Bins empty in both samples are dropped. With one degree of freedom Yates'
    continuity correction is applied, as ``scipy.stats.chi2_contingency`` does by
    default, so the result equals ``chi2_contingency([ref, cur]).pvalue``.

    Returns
    -------
    float
        1.0 when only one bin is occupied; NaN when a side is empty.
    """
    table = np.vstack([np.asarray(reference_counts, dtype=np.float64), np.asarray(current_counts, dtype=np.float64)])
    table = table[:, table.sum(axis=0) > 0]
    rows = table.sum(axis=1)
    if (rows <= 0).any():
        return math.nan
    dof = table.shape[1] - 1
    if dof <= 0:
        return 1.0
    expected = np.outer(rows, table.sum(axis=0)) / table.sum()
    observed = table
    if dof == 1:
        diff = expected - observed
        observed = observed + np.minimum(0.5, np.abs(diff)) * np.sign(diff)
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    return float(special.chdtrc(dof, statistic))


def chi2_pvalue(reference: object, current: object) -> float:
    """Chi-square homogeneity p-value of the category counts (reference categories + unseen).

    Returns
    -------
    float
    """
    return chi2_pvalue_from_counts(*_category_counts(reference, current))


def unseen_category_share(reference: object, current: object) -> float:
    """Share of the current non-null values whose category never occurs in the reference.

    Returns
    -------
    float
        In ``[0, 1]``; NaN when the current sample has no values.
    """
    _, cur_counts = _category_counts(reference, current)
    total = cur_counts.sum()
    return float(cur_counts[-1] / total) if total else math.nan


def out_of_range_share(reference: object, current: object) -> float:
    """Share of current non-null values outside ``[min, max]`` of the finite reference values.

    ``±inf`` are out of range.

    Returns
    -------
    float
        NaN when either side has no usable values.
    """
    ref = _finite_sorted(reference)
    cur = _nonnull(current)
    if ref.size == 0 or cur.size == 0:
        return math.nan
    return float(np.mean((cur < ref[0]) | (cur > ref[-1])))


def nonfinite_share(reference: object, current: object) -> float:
    """Share of current non-null values that are ``±inf``.

    ``reference`` is accepted for the common signature and not used.

    Returns
    -------
    float
    """
    cur = _nonnull(current)
    return float(np.mean(np.isinf(cur))) if cur.size else math.nan


def two_proportion_pvalue(count_a: int, n_a: int, count_b: int, n_b: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test.

    ``z = (p_a - p_b) / sqrt(p (1 - p) (1/n_a + 1/n_b))`` with the pooled
    ``p = (count_a + count_b) / (n_a + n_b)``; the p-value is ``2 * (1 - Phi(|z|))``.
    Equals ``statsmodels.stats.proportion.proportions_ztest`` (its default pooled
    variance). When ``p`` is 0 or 1 both proportions are equal and the p-value is 1.

    Returns
    -------
    float
        NaN when a sample is empty.
    """
    if n_a <= 0 or n_b <= 0:
        return math.nan
    pooled = (count_a + count_b) / (n_a + n_b)
    variance = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)
    if variance <= 0.0:
        return 1.0
    z = (count_a / n_a - count_b / n_b) / math.sqrt(variance)
    return float(special.erfc(abs(z) / math.sqrt(2.0)))


def null_rate_pvalue(reference: object, current: object) -> float:
    """Two-proportion test of the null rates of two samples (see :func:`two_proportion_pvalue`).

    Value tests ignore nulls, so a rise in nulls needs this test of its own.

    Returns
    -------
    float
    """
    ref = pd.Series(np.asarray(reference, dtype=object))
    cur = pd.Series(np.asarray(current, dtype=object))
    return two_proportion_pvalue(int(ref.isna().sum()), len(ref), int(cur.isna().sum()), len(cur))


# --------------------------------------------------------------------------- multiple testing


def adjust_pvalues(pvalues: Sequence[float] | np.ndarray, *, method: str = "bonferroni") -> np.ndarray:
    """Family-wise (Bonferroni, Holm) or false-discovery-rate (Benjamini-Hochberg) adjustment.

    With ``k`` finite p-values sorted ascending ``p_(1) <= ... <= p_(k)``:

    * ``bonferroni``: ``min(1, k p_i)``;
    * ``holm``: ``max_{j <= i} min(1, (k - j + 1) p_(j))`` (Holm 1979);
    * ``bh``: ``min_{j >= i} min(1, k p_(j) / j)`` (Benjamini & Hochberg 1995).

    NaN entries (tests not applicable) are left NaN and do not count in ``k``.

    Parameters
    ----------
    pvalues : sequence of float
    method : {"bonferroni", "holm", "bh"}

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    mask = np.isfinite(p)
    q = p[mask]
    k = q.size
    if k == 0:
        return out
    if method == "bonferroni":
        adjusted = np.minimum(1.0, q * k)
    elif method in ("holm", "bh"):
        order = np.argsort(q, kind="stable")
        ranked = q[order]
        if method == "holm":
            steps = np.maximum.accumulate((k - np.arange(k)) * ranked)
        else:
            steps = np.minimum.accumulate((k / np.arange(1, k + 1) * ranked)[::-1])[::-1]
        adjusted = np.empty(k)
        adjusted[order] = np.minimum(1.0, steps)
    else:
        raise ValueError(f"unknown correction {method!r}: expected 'bonferroni', 'holm' or 'bh'")
    out[mask] = adjusted
    return out


# --------------------------------------------------------------------------- bootstrap


def bootstrap_ci(
    stat_fn: Callable[[np.ndarray, np.ndarray], float],
    reference: object,
    current: object,
    *,
    n_resamples: int,
    confidence: float = 0.95,
    seed: int | Sequence[int],
    method: str = "percentile",
) -> tuple[float, float]:
    """Seeded two-sample bootstrap confidence interval of a statistic.

    Both samples are resampled with replacement, independently, ``n_resamples``
    times. ``method="percentile"`` gives the ``(1 -/+ confidence) / 2`` quantiles of the
    resampled statistic; ``method="basic"`` reflects them about the estimate,
    ``(2 t - q_high, 2 t - q_low)``, which corrects a resampling bias such as the upward
    bias of divergences near 0 (Davison & Hinkley 1997, §5.2). Non-finite resampled
    values are dropped.

    Parameters
    ----------
    stat_fn : callable
        ``stat_fn(reference, current) -> float``.
    reference, current : array-like
    n_resamples : int
    confidence : float, default 0.95
    seed : int or sequence of int
        Seed of a local ``numpy.random.default_rng``.
    method : {"percentile", "basic"}, default "percentile"

    Returns
    -------
    (float, float)
        NaN bounds when ``n_resamples`` is 0 or a sample is empty.
    """
    ref = np.asarray(reference)
    cur = np.asarray(current)
    if n_resamples <= 0 or ref.size == 0 or cur.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples)
    for b in range(n_resamples):
        values[b] = stat_fn(ref[rng.integers(0, ref.size, ref.size)], cur[rng.integers(0, cur.size, cur.size)])
    return _interval(values, confidence, method, float(stat_fn(ref, cur)))


def multinomial_resamples(counts: object, *, n_resamples: int, seed: int | Sequence[int]) -> np.ndarray:
    """Bin counts of ``n_resamples`` bootstrap resamples of the rows behind ``counts``.

    Resampling ``n`` rows with replacement and counting them per bin is exactly
    ``Multinomial(n, counts / n)``, so the counts are drawn directly, ``O(bins)`` per
    resample instead of ``O(rows)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_resamples, bins)``.
    """
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    rng = np.random.default_rng(seed)
    return rng.multinomial(total, counts / total, size=n_resamples)


def _child_seed(seed: int | Sequence[int], stream: int) -> list[int]:
    return [*np.atleast_1d(np.asarray(seed, dtype=np.int64)).tolist(), stream]


def psi_bootstrap_ci(
    reference_counts: object,
    current_counts: object,
    *,
    epsilon: float = 1e-4,
    n_resamples: int,
    confidence: float = 0.95,
    seed: int | Sequence[int],
    reference_resamples: np.ndarray | None = None,
) -> tuple[float, float]:
    """Bootstrap confidence interval of PSI from bin counts, bins held fixed.

    Both samples are resampled (:func:`multinomial_resamples`, the same bootstrap as
    :func:`bootstrap_ci` on the raw rows with the baseline's bins fixed). The interval
    is the *basic* bootstrap interval clipped at 0: plug-in PSI is biased upward by
    sampling noise (about ``(bins - 1)(1/n + 1/m)``) and resampling adds that bias
    again, so the percentile interval would lie entirely above the estimate (and
    above 0) when there is no drift; the basic interval subtracts it. With little
    drift the interval can therefore end below the point estimate.

    Parameters
    ----------
    reference_counts, current_counts : array-like of int
    epsilon : float, default 1e-4
    n_resamples : int
    confidence : float, default 0.95
    seed : int or sequence of int
        The reference resamples use stream ``[*seed, 0]``, the current ones ``[*seed, 1]``.
    reference_resamples : numpy.ndarray, optional
        Precomputed ``multinomial_resamples(reference_counts, seed=[*seed, 0])`` (the
        reference is fixed per baseline, so callers may cache them); same result.

    Returns
    -------
    (float, float)
    """
    ref = np.asarray(reference_counts, dtype=np.int64)
    cur = np.asarray(current_counts, dtype=np.int64)
    if n_resamples <= 0 or ref.sum() == 0 or cur.sum() == 0:
        return (math.nan, math.nan)
    if reference_resamples is None:
        reference_resamples = multinomial_resamples(ref, n_resamples=n_resamples, seed=_child_seed(seed, 0))
    current_resamples = multinomial_resamples(cur, n_resamples=n_resamples, seed=_child_seed(seed, 1))
    samples = psi_from_counts(reference_resamples, current_resamples, epsilon=epsilon)
    estimate = psi_from_counts(ref, cur, epsilon=epsilon)
    low, high = _interval(samples, confidence, "basic", estimate)
    return (max(low, 0.0), max(high, 0.0))


# --------------------------------------------------------------------------- ECDF grid and cells


@dataclass(frozen=True, eq=False)
class ReferenceGrid:
    """Distinct sorted finite reference values with multiplicities (the exact reference ECDF).

    Derived arrays are computed on first use and kept for every later partition.
    """

    values: np.ndarray  # float64, strictly increasing
    counts: np.ndarray  # int64, >= 1

    @classmethod
    def from_values(cls, finite_sorted: np.ndarray) -> ReferenceGrid:
        """Grid of already-sorted finite values."""
        x = np.asarray(finite_sorted, dtype=np.float64)
        if x.size == 0:
            return cls(np.empty(0), np.empty(0, dtype=np.int64))
        starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
        counts = np.diff(np.r_[starts, x.size]).astype(np.int64)
        return cls(x[starts], counts)

    @property
    def size(self) -> int:
        return int(self.values.size)

    @cached_property
    def n(self) -> int:
        return int(self.counts.sum())

    @cached_property
    def cumulative(self) -> np.ndarray:
        """``[0, A_0, ..., A_{K-1}]``: number of reference values ``<= d_k`` (shifted by one)."""
        return np.r_[0, np.cumsum(self.counts)].astype(np.int64)

    @cached_property
    def prefix_integral(self) -> np.ndarray:
        """``H_k = integral of F_ref from d_0 to d_k``."""
        if self.size == 0:
            return np.empty(0)
        steps = self.cumulative[1:-1] * np.diff(self.values)
        return np.r_[0.0, np.cumsum(steps)] / self.n

    @cached_property
    def index_of_rank(self) -> np.ndarray:
        """``index_of_rank[t]`` = first ``k`` with ``A_k > t`` (the grid index of order statistic ``t``)."""
        return np.repeat(np.arange(self.size, dtype=np.int32), self.counts)

    @cached_property
    def expanded(self) -> np.ndarray:
        """All finite reference values, sorted (a view of ``values`` when there are no ties)."""
        if self.size == self.n:
            return self.values
        return np.repeat(self.values, self.counts)

    def quantile_edges(self, n_bins: int) -> np.ndarray:
        """Inverted-CDF quantiles at ``j / n_bins``, de-duplicated (see :func:`quantile_bin_edges`)."""
        if self.size == 0:
            return np.empty(0)
        j = np.arange(1, n_bins, dtype=np.int64)
        # smallest k with A_k / n >= j / n_bins, in integers
        idx = np.searchsorted(self.cumulative[1:] * n_bins, j * self.n, side="left")
        return np.unique(self.values[idx])


@dataclass(eq=False)
class EcdfCells:
    """Current values summarised against a :class:`ReferenceGrid` (see module docstring).

    ``values``/``starts`` keep the sorted chunk when the cells come from one chunk, which
    makes :func:`wasserstein_from_cells` exact in every case; merging drops them.
    """

    ids: np.ndarray  # int64, strictly increasing cell ids in [0, 2K]
    count: np.ndarray  # int64
    total: np.ndarray  # float64 sum of values in the cell
    low: np.ndarray  # float64 min
    high: np.ndarray  # float64 max
    values: np.ndarray | None = field(default=None, repr=False)
    starts: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def empty(cls) -> EcdfCells:
        z = np.empty(0)
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), z, z, z)

    @classmethod
    def from_sorted(cls, grid: ReferenceGrid, xs: np.ndarray) -> EcdfCells:
        """Cells of sorted finite values ``xs``."""
        if xs.size == 0:
            return cls.empty()
        k = grid.size
        i = np.searchsorted(grid.values, xs, side="left")
        if k:
            equal = grid.values[np.minimum(i, k - 1)] == xs
            cell = 2 * i.astype(np.int64) + equal
        else:
            cell = np.zeros(xs.size, dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, cell[1:] != cell[:-1]])
        ends = np.r_[starts[1:], xs.size]
        return cls(
            ids=cell[starts],
            count=(ends - starts).astype(np.int64),
            total=np.add.reduceat(xs, starts),
            low=xs[starts],
            high=xs[ends - 1],
            values=xs,
            starts=starts,
        )

    @property
    def n(self) -> int:
        return int(self.count.sum())

    def merge(self, other: EcdfCells) -> EcdfCells:
        """Cells of the union of both samples (sums added in this-then-other order)."""
        if other.ids.size == 0:
            return EcdfCells(self.ids, self.count, self.total, self.low, self.high)
        if self.ids.size == 0:
            return EcdfCells(other.ids, other.count, other.total, other.low, other.high)
        ids = np.concatenate([self.ids, other.ids])
        order = np.argsort(ids, kind="stable")
        ids = ids[order]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])

        def pooled(a: np.ndarray, b: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
            return ufunc.reduceat(np.concatenate([a, b])[order], starts)

        return EcdfCells(
            ids=ids[starts],
            count=pooled(self.count, other.count, np.add),
            total=pooled(self.total, other.total, np.add),
            low=pooled(self.low, other.low, np.minimum),
            high=pooled(self.high, other.high, np.maximum),
        )

    @property
    def nbytes(self) -> int:
        """Bytes of the five per-cell arrays (what a merged summary keeps)."""
        return sum(a.nbytes for a in (self.ids, self.count, self.total, self.low, self.high))

    def equals(self, other: EcdfCells) -> bool:
        """Same cells, counts, minima and maxima (sums compared to 1e-12 relative)."""
        return (
            np.array_equal(self.ids, other.ids)
            and np.array_equal(self.count, other.count)
            and np.array_equal(self.low, other.low)
            and np.array_equal(self.high, other.high)
            and np.allclose(self.total, other.total, rtol=1e-12, atol=0.0)
        )


@dataclass(eq=False)
class DenseCells:
    """Every cell of a :class:`ReferenceGrid` in fixed arrays, updated in place.

    The streaming form of :class:`EcdfCells`: ``count`` has one entry per cell id
    ``0 .. 2K``; ``total``, ``low`` and ``high`` one per gap cell ``2i`` (the values of
    point cell ``2i + 1`` all equal ``d_i``). Memory is set by the reference, 32 bytes
    per distinct reference value (``count`` is int32 and widens to int64 only if a batch
    ever holds more than 2^31 - 1 finite values), whatever the batch size; adding a
    chunk's cells costs ``O(chunk)``. :meth:`cells` returns exactly the cells that
    merging every chunk's :class:`EcdfCells` would give (sums up to rounding order).
    """

    count: np.ndarray
    total: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n: int = 0

    @classmethod
    def zeros(cls, grid: ReferenceGrid) -> DenseCells:
        k = grid.size
        return cls(np.zeros(2 * k + 1, np.int32), np.zeros(k + 1), np.full(k + 1, np.inf), np.full(k + 1, -np.inf))

    @staticmethod
    def nbytes_for(grid: ReferenceGrid) -> int:
        """Bytes of a :class:`DenseCells` over ``grid`` (before any widening)."""
        return (2 * grid.size + 1) * 4 + 3 * (grid.size + 1) * 8

    @classmethod
    def of(cls, grid: ReferenceGrid, cells: EcdfCells) -> DenseCells:
        """The fixed-size form of ``cells``."""
        return cls.zeros(grid).add(cells)

    def _make_room(self, extra: int, *, wide: bool = False) -> None:
        """Widen ``count`` to int64 before ``extra`` more values (or int64 counts) could overflow it."""
        if self.count.dtype == np.int32 and (wide or self.n + extra > _INT32_MAX):
            self.count = self.count.astype(np.int64)

    def add(self, cells: EcdfCells) -> DenseCells:
        """Add a chunk's cells in place; returns ``self``."""
        if cells.ids.size == 0:
            return self
        m = cells.n
        self._make_room(m)
        self.count[cells.ids] += cells.count.astype(self.count.dtype)  # ids are unique
        gap = (cells.ids & 1) == 0
        g = cells.ids[gap] >> 1
        self.total[g] += cells.total[gap]
        self.low[g] = np.minimum(self.low[g], cells.low[gap])
        self.high[g] = np.maximum(self.high[g], cells.high[gap])
        self.n += m
        return self

    def add_dense(self, other: DenseCells) -> DenseCells:
        """Add another :class:`DenseCells` over the same grid in place; returns ``self``."""
        self._make_room(other.n, wide=other.count.dtype == np.int64)
        self.count += other.count.astype(self.count.dtype, copy=False)
        self.total += other.total
        np.minimum(self.low, other.low, out=self.low)
        np.maximum(self.high, other.high, out=self.high)
        self.n += other.n
        return self

    def copy(self) -> DenseCells:
        return DenseCells(self.count.copy(), self.total.copy(), self.low.copy(), self.high.copy(), self.n)

    def cells(self, grid: ReferenceGrid) -> EcdfCells:
        """The occupied cells as :class:`EcdfCells` (no kept values)."""
        ids = np.flatnonzero(self.count).astype(np.int64)
        count = self.count[ids].astype(np.int64)
        k = ids >> 1
        gap = (ids & 1) == 0
        value = grid.values[np.minimum(k, grid.size - 1)] if grid.size else np.zeros(ids.size)
        return EcdfCells(
            ids=ids,
            count=count,
            total=np.where(gap, self.total[k], count * value),
            low=np.where(gap, self.low[k], value),
            high=np.where(gap, self.high[k], value),
        )


def ks_numerator_from_cells(grid: ReferenceGrid, cells: EcdfCells) -> tuple[int, float]:
    """Exact two-sample KS statistic from a grid and cells.

    ``D = sup_x |F_ref(x) - F_cur(x)|``. ``F_cur - F_ref`` can only peak at the right end
    of an occupied cell, ``F_ref - F_cur`` only just before one (or after the last, where
    it is 0), so ``O(cells)`` candidates suffice.

    Returns
    -------
    (int, float)
        ``D * n * m`` as an exact integer (for lattice-exact comparisons) and ``D`` as
        the float ``ks_2samp`` computes (``a / n - b / m`` at the maximising point).
    """
    n, m = grid.n, cells.n
    if n == 0 or m == 0:
        return 0, math.nan
    k_idx = cells.ids >> 1
    ref_lt = grid.cumulative[k_idx]
    ref_le = grid.cumulative[k_idx + (cells.ids & 1)]
    cur_le = np.cumsum(cells.count)
    cur_lt = cur_le - cells.count
    above = cur_le * n - ref_le * m
    below = ref_lt * m - cur_lt * n
    num = max(0, int(above.max()), int(below.max()))
    flt = max(0.0, float(np.max(cur_le / m - ref_le / n)), float(np.max(ref_lt / n - cur_lt / m)))
    return num, flt


def _ks_candidates(grid: ReferenceGrid, xs: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """Exact KS candidates at current points ``xs[idx]`` (``idx`` increasing).

    Returns ``(above, below, f_above, f_below, cur_le, cur_lt, ref_le, ref_lt)``:
    ``above`` = (F_cur - F_ref) n m at the point, ``below`` = (F_ref - F_cur) n m just
    before it, their float versions, and the counts behind them.
    """
    n, m = grid.n, xs.size
    x = xs[idx]
    # one search: grid values are distinct, so "< x" stops one short of "<= x" exactly when x is one of them
    pos = np.searchsorted(grid.values, x, side="right")
    on_grid = (pos > 0) & (grid.values[np.maximum(pos - 1, 0)] == x)
    ref_le = grid.cumulative[pos]
    ref_lt = grid.cumulative[pos - on_grid]
    # current ranks: the index itself unless the value is tied with a neighbour
    cur_le = idx + 1
    tied = xs[np.minimum(idx + 1, m - 1)] == x
    tied &= idx + 1 < m
    cur_le[tied] = np.searchsorted(xs, x[tied], side="right")
    cur_lt = idx.copy()
    tied = (xs[np.maximum(idx - 1, 0)] == x) & (idx > 0)
    cur_lt[tied] = np.searchsorted(xs, x[tied], side="left")
    above = cur_le * n - ref_le * m
    below = ref_lt * m - cur_lt * n
    return above, below, cur_le / m - ref_le / n, ref_lt / n - cur_lt / m, cur_le, cur_lt, ref_le, ref_lt


def ks_numerator_from_sorted(grid: ReferenceGrid, xs: np.ndarray, *, block: int = 128) -> tuple[int, float]:
    """Exact KS statistic of sorted finite current values against a grid, without ranking every value.

    ``F_cur - F_ref`` peaks at a current value and ``F_ref - F_cur`` just before one, so
    the candidates are the current values. Every ``block``-th value is ranked exactly;
    between two ranked values ``a < b`` monotonicity bounds every candidate by
    ``F_cur(b) - F_ref(a)`` and ``F_ref(b-) - F_cur(a-)``, and only stretches whose bound
    beats the best exact candidate are ranked in full. Exact (a bound is never below the
    stretch's maximum); typically a few percent of the values are ranked.

    Returns
    -------
    (int, float)
        As :func:`ks_numerator_from_cells`.
    """
    n, m = grid.n, xs.size
    if n == 0 or m == 0:
        return 0, math.nan
    if m <= 64 * block:
        parts = [_ks_candidates(grid, xs, np.arange(m))]
    else:
        points = np.arange(0, m, block)
        if points[-1] != m - 1:
            points = np.r_[points, m - 1]
        coarse = _ks_candidates(grid, xs, points)
        above, below, _, _, cur_le, cur_lt, ref_le, ref_lt = coarse
        best = max(0, int(above.max()), int(below.max()))
        bound_above = cur_le[1:] * n - ref_le[:-1] * m
        bound_below = ref_lt[1:] * m - cur_lt[:-1] * n
        stretches = np.flatnonzero((bound_above > best) | (bound_below > best))
        lengths = points[stretches + 1] - points[stretches] - 1
        inner = np.repeat(points[stretches] + 1 - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(lengths.sum())
        parts = [coarse, _ks_candidates(grid, xs, inner)]
    above, below, f_above, f_below = (np.concatenate([part[k] for part in parts]) for k in range(4))
    num = max(0, int(above.max()), int(below.max()))
    flt = 0.0
    if num > 0:
        flt = max(float(f_above[above == num].max(initial=0.0)), float(f_below[below == num].max(initial=0.0)))
    return num, flt


def wasserstein_from_sorted(grid: ReferenceGrid, xs: np.ndarray) -> float:
    """Exact Wasserstein-1 distance of sorted finite current values against a grid.

    Uses the quantile form ``W1 = integral_0^1 |Q_ref(u) - Q_cur(u)| du``: the levels
    where either empirical quantile function steps are ``i / n`` and ``j / m``, whose
    merged order is known in closed form, so the integral is a weighted sum over
    ``n + m`` segments (``mean |ref - cur|`` of the sorted samples when ``n == m``).

    Returns
    -------
    float
    """
    ref = grid.expanded
    n, m = ref.size, xs.size
    if n == 0 or m == 0:
        return math.nan
    if n == m:  # mean |ref - cur| of the sorted samples, in cache-sized blocks
        work = np.empty(min(n, _CHUNK))
        total = 0.0
        for lo in range(0, n, _CHUNK):
            part = work[: min(_CHUNK, n - lo)]
            np.subtract(ref[lo : lo + part.size], xs[lo : lo + part.size], out=part)
            total += float(np.abs(part, out=part).sum())
        return total / n
    # Levels in units of 1 / (n m): the reference steps at i m, the current at j n.
    # A segment ending at reference step i starts at the later of (i - 1) m and the last
    # current step below it; symmetrically for current steps (ties: reference first,
    # leaving a zero-width current segment). Chunked so temporaries stay cache-sized.
    total = 0.0
    for lo in range(0, n, _CHUNK):
        i = np.arange(lo + 1, min(lo + _CHUNK, n) + 1, dtype=np.int64)
        before = (i * m + n - 1) // n - 1  # current steps strictly below i m
        widths = i * m - np.maximum((i - 1) * m, before * n)
        total += float(np.sum(widths * np.abs(ref[i - 1] - xs[before])))
    for lo in range(0, m, _CHUNK):
        j = np.arange(lo + 1, min(lo + _CHUNK, m) + 1, dtype=np.int64)
        upto = (j * n) // m  # reference steps at or below j n
        widths = j * n - np.maximum((j - 1) * n, upto * m)
        total += float(np.sum(widths * np.abs(ref[np.minimum(upto, n - 1)] - xs[j - 1])))
    return total / (n * m)


def ks_pvalue_from_numerator(d_num: int, d_float: float, n: int, m: int) -> tuple[float, float]:
    """KS statistic and p-value exactly as ``scipy.stats.ks_2samp(method="auto")``.

    Exact distribution (Hodges 1958, scipy's implementation) when ``max(n, m) <= 10000``,
    otherwise ``kstwo.sf(D, round(n m / (n + m)))``. In the exact branch scipy reports
    ``D`` rounded to the lattice ``h / lcm(n, m)``, and so does this function.

    Returns
    -------
    (float, float)
        ``(statistic, pvalue)``.
    """
    if n == 0 or m == 0:
        return math.nan, math.nan
    g = math.gcd(n, m)
    if max(n, m) <= _SCIPY_KS_MAX_EXACT_N:
        lcm = (n // g) * m
        h = d_num // g
        d = h * 1.0 / lcm
        if h == 0:
            return d, 1.0
        success, d, prob = _attempt_exact_2kssamp(n, m, g, d, "two-sided")
        if success:
            return float(d), float(np.clip(prob, 0.0, 1.0))
        d_float = d
    big, small = sorted([float(n), float(m)], reverse=True)
    en = big * small / (big + small)
    prob = sps.kstwo.sf(d_float, np.round(en))
    return float(d_float), float(np.clip(prob, 0.0, 1.0))


def wasserstein_from_cells(grid: ReferenceGrid, cells: EcdfCells) -> tuple[float, float]:
    """Wasserstein-1 distance ``integral |F_ref(x) - F_cur(x)| dx`` from a grid and cells.

    Between occupied cells ``F_cur`` is constant, and the integral of
    ``|F_ref - q|`` over any run of reference values follows from the prefix integral
    of ``F_ref`` split where ``F_ref`` crosses ``q`` (``O(1)`` per run). Inside a gap
    cell ``F_ref`` is constant ``a``; the integral is exact from the cell's count and
    sum whenever ``F_cur`` stays on one side of ``a`` inside the cell, exact from
    (min, sum, max) for three values, and exact from the kept sorted values when the
    cells come from a single chunk. Otherwise (only after merging, and only in a gap
    between two consecutive distinct reference values that holds >= 4 current values
    across which the two ECDFs cross) the cell's contribution lies in a computed
    interval ``[|signed integral|, upper]``; the midpoint is used and half the width is
    added to the returned error bound. Each such term is at most
    ``(max - min) * count / (2 m)`` of that cell.

    Returns
    -------
    (float, float)
        ``(distance, error_bound)``; the bound is 0 when the value is exact.
    """
    n, m = grid.n, cells.n
    if n == 0 or m == 0:
        return math.nan, math.nan
    ids = cells.ids
    k_idx = ids >> 1
    cur_le = np.cumsum(cells.count)
    total = bound = 0.0
    # In blocks of cells, so the many temporaries stay cache-sized. Run j lies between
    # cells j - 1 and j (run 0 before the first cell); the last run, after the last cell,
    # reaches the reference maximum.
    for lo in range(0, ids.size, _CHUNK):
        hi = min(lo + _CHUNK, ids.size)
        if lo:
            start, level = k_idx[lo - 1 : hi - 1], cur_le[lo - 1 : hi - 1]
        else:
            start, level = np.r_[0, k_idx[: hi - 1]], np.r_[0, cur_le[: hi - 1]]
        total += _run_integrals(grid, start, (ids[lo:hi] - 1) // 2, level, m)
        part, width = _gap_integrals(grid, cells, lo, hi, cur_le[lo:hi], m)
        total += part
        bound += width
    total += _run_integrals(grid, k_idx[-1:], np.array([grid.size - 1]), cur_le[-1:], m)
    return total, bound


def _run_integrals(grid: ReferenceGrid, s: np.ndarray, e: np.ndarray, Q: np.ndarray, m: int) -> float:
    """Sum over runs of reference values ``d_s .. d_e`` of the integral of ``|F_ref - Q / m|``."""
    keep = e >= s
    s, e, Q = s[keep], e[keep], Q[keep]
    if s.size == 0:
        return 0.0
    d, H, n = grid.values, grid.prefix_integral, grid.n
    T = (Q * n + m - 1) // m  # F_ref >= Q/m  <=>  A_k >= T
    first = np.where(T > 0, grid.index_of_rank[np.maximum(T - 1, 0)], 0)
    t = np.clip(first, s, e)
    q = Q / m
    runs = q * (d[t] - d[s]) - (H[t] - H[s]) + (H[e] - H[t]) - q * (d[e] - d[t])
    return float(runs.sum())


def _gap_integrals(
    grid: ReferenceGrid, cells: EcdfCells, lo: int, hi: int, cur_le: np.ndarray, m: int
) -> tuple[float, float]:
    """Integral of ``|F_ref - F_cur|`` over the gap cells among cells ``lo:hi``, and its error bound."""
    ids = cells.ids[lo:hi]
    gap = (ids & 1) == 0
    if not gap.any():
        return 0.0, 0.0
    d, K, n = grid.values, grid.size, grid.n
    gi = ids[gap] >> 1
    cnt = cells.count[lo:hi][gap]
    low, high, ssum = cells.low[lo:hi][gap], cells.high[lo:hi][gap], cells.total[lo:hi][gap]
    le = cur_le[gap]
    lt = le - cnt
    a_num = grid.cumulative[gi]
    a = a_num / n
    b_lo, b_hi = lt / m, le / m
    left = np.where(gi > 0, d[np.maximum(gi - 1, 0)], low)
    right = np.where(gi < K, d[np.minimum(gi, K - 1)], high)
    total = float(np.sum(np.abs(a - b_lo) * (low - left) + np.abs(a - b_hi) * (right - high)))

    width = high - low
    signed = (a - b_lo) * width - (cnt * high - ssum) / m
    one_sided = (a_num * m <= (lt + 1) * n) | (a_num * m >= (le - 1) * n) | (width == 0)
    total += float(np.abs(signed[one_sided]).sum())

    three = ~one_sided & (cnt == 3)
    if three.any():
        mid = np.clip(ssum[three] - low[three] - high[three], low[three], high[three])
        a3, b3 = a[three], b_lo[three]
        total += float(np.sum(np.abs(a3 - b3 - 1 / m) * (mid - low[three]) + np.abs(a3 - b3 - 2 / m) * (high[three] - mid)))

    crossing = ~one_sided & (cnt >= 4)
    if not crossing.any():
        return total, 0.0
    if cells.values is not None:
        # exact: sum over consecutive sorted values of |a - F_cur| * spacing
        first_value = cells.starts[lo:hi][gap][crossing]
        counts = cnt[crossing]
        seg = np.repeat(np.arange(counts.size), counts - 1)
        offset = np.arange(seg.size) - np.repeat(np.cumsum(counts - 1) - (counts - 1), counts - 1)
        pos = first_value[seg] + offset
        spacing = cells.values[pos + 1] - cells.values[pos]
        level = b_lo[crossing][seg] + (offset + 1) / m
        total += float(np.sum(np.abs(a[crossing][seg] - level) * spacing))
        return total, 0.0
    sgn = signed[crossing]
    pos_max = (a[crossing] - b_lo[crossing] - 1 / m) * width[crossing]
    neg_max = (b_hi[crossing] - 1 / m - a[crossing]) * width[crossing]
    lower = np.abs(sgn)
    upper = np.maximum(np.minimum(2 * pos_max - sgn, 2 * neg_max + sgn), lower)
    return total + float(np.sum((lower + upper) / 2)), float(np.sum((upper - lower) / 2))


def pooled_tie_blocks(grid: ReferenceGrid, cells: EcdfCells) -> np.ndarray:
    """Cumulative sizes of the pooled sample's tie blocks, in value order.

    Reference value ``d_i`` and the current values equal to it form one block. The
    values inside a gap cell are one block when min == max and otherwise are taken
    as distinct; if some of them were in fact tied, the permutation null is evaluated
    at more points than necessary, which can only raise the threshold (conservative).

    Returns
    -------
    numpy.ndarray of int64
        ``T_1 < T_2 < ... < T_B = n + m``.
    """
    K = grid.size
    sizes = grid.counts.copy()
    point = (cells.ids & 1) == 1
    np.add.at(sizes, cells.ids[point] >> 1, cells.count[point])
    gap = ~point
    tied = cells.low[gap] == cells.high[gap]
    n_blocks = np.where(tied, 1, cells.count[gap])
    keys = np.concatenate([2 * np.arange(K, dtype=np.int64) + 1, np.repeat(cells.ids[gap], n_blocks)])
    block_sizes = np.concatenate([sizes, np.repeat(np.where(tied, cells.count[gap], 1), n_blocks)])
    order = np.argsort(keys, kind="stable")
    return np.cumsum(block_sizes[order])


# --------------------------------------------------------------------------- permutation null of KS
#
# Under H0 the permutation null of D depends on the data only through the sizes and the
# pooled tie structure: a permutation is a uniformly random choice of which w of the
# N = o + w pooled (sorted) positions hold the "walk" sample. Positions are simulated
# once per (o, bucket(w), B, seed) and reused for every later partition: each replicate
# is a uniformly random set of bucket(w) positions among o + bucket(w), stored as the
# number of the o others before each walk item, in position order (a boolean mask and
# its nonzero indices: no sort). A query for w < bucket(w) keeps a uniformly random
# w-subset of each replicate's walk items (drawn from a generator keyed by o, w, B and
# the seed); with the o others they are again a uniformly random arrangement of o + w
# items, exactly, and their counts stay in order. A query costs O(B * bucket) array work,
# and its result depends only on (o, w, B, seed), never on which queries came before (so
# backfills reproduce the original runs). With ties, D is the same walk evaluated only
# at the ends of the pooled tie blocks; features that share (n, m) share one pass.


_BANK: OrderedDict[tuple[int, int, int, int], np.ndarray] = OrderedDict()
_BANK_LOCK = threading.Lock()
_BANK_MAX_BYTES = 256 * 2**20
_POSITIONS: OrderedDict[tuple[int, int, int, int], np.ndarray] = OrderedDict()
_POSITIONS_MAX = 8


def _bucket(w: int) -> int:
    """Smallest of 16, 20, 24, 28, 32, 40, ... (2^k times 1, 1.25, 1.5, 1.75) that is >= w."""
    size = 16
    while True:
        for factor in (4, 5, 6, 7):
            if size * factor // 4 >= w:
                return size * factor // 4
        size *= 2


def _position_dtype(limit: int) -> type:
    return np.int16 if limit < 2**15 else np.int32 if limit < 2**31 else np.int64


def _position_bank(other: int, bucket: int, n_permutations: int, seed: int) -> np.ndarray:
    """(B, bucket): per replicate, the number of others before each walk item, in position order."""
    key = (other, bucket, n_permutations, seed)
    with _BANK_LOCK:
        if key in _BANK:
            _BANK.move_to_end(key)
            return _BANK[key]
    rng = np.random.default_rng([seed, other, bucket, n_permutations, 0x4B53])
    N = other + bucket
    bank = np.empty((n_permutations, bucket), dtype=_position_dtype(N))
    ranks = np.arange(bucket)
    for rows in _row_chunks(n_permutations, N // 8):
        occupied = np.zeros((rows.stop - rows.start, N), dtype=bool)
        for row in occupied:
            row[rng.choice(N, bucket, replace=False, shuffle=False)] = True
        # flatnonzero lists each row's walk positions in increasing order; the j-th (0-based)
        # has j walk items before it, so the others before it are its position minus j
        flat = np.flatnonzero(occupied).reshape(occupied.shape[0], bucket)
        flat -= (np.arange(occupied.shape[0]) * N)[:, None]
        bank[rows] = flat - ranks
    bank.setflags(write=False)
    with _BANK_LOCK:
        _BANK[key] = bank
        while len(_BANK) > 1 and sum(x.nbytes for x in _BANK.values()) > _BANK_MAX_BYTES:
            _BANK.popitem(last=False)
    return bank


def _walk_positions(other: int, walk: int, n_permutations: int, seed: int) -> np.ndarray:
    """(B, walk) sorted 1-based positions of the walk sample among ``other + walk`` pooled items."""
    key = (other, walk, n_permutations, seed)
    with _BANK_LOCK:
        if key in _POSITIONS:
            _POSITIONS.move_to_end(key)
            return _POSITIONS[key]
    bucket = _bucket(walk)
    bank = _position_bank(other, bucket, n_permutations, seed)
    if walk < bucket:
        rng = np.random.default_rng([seed, other, walk, n_permutations, 0x5B5E])
        keep = np.ones(bank.shape, dtype=bool)
        for row in keep:
            row[rng.choice(bucket, bucket - walk, replace=False, shuffle=False)] = False
        positions = bank[keep].reshape(n_permutations, walk)  # row by row, order kept (a new array)
        positions = positions.astype(_position_dtype(other + walk + 1), copy=False)
    else:
        positions = bank.astype(_position_dtype(other + walk + 1))  # the bank is shared: copy
    positions += np.arange(1, walk + 1, dtype=positions.dtype)
    positions.setflags(write=False)
    with _BANK_LOCK:
        _POSITIONS[key] = positions
        while len(_POSITIONS) > _POSITIONS_MAX:
            _POSITIONS.popitem(last=False)
    return positions


def _row_chunks(n_rows: int, width: int) -> list[slice]:
    """Row slices of a (n_rows, width) computation whose temporaries stay near ``_CHUNK`` elements."""
    step = max(1, _CHUNK // max(width, 1))
    return [slice(first, min(first + step, n_rows)) for first in range(0, n_rows, step)]


@lru_cache(maxsize=1024)
def _continuous_null(other: int, walk: int, n_permutations: int, seed: int) -> np.ndarray:
    """Null of ``D * o * w`` without ties: the walk peaks at or just before a walk item."""
    positions = _walk_positions(other, walk, n_permutations, seed)
    j = np.arange(1, walk + 1, dtype=np.int64)
    out = np.empty(n_permutations, dtype=np.int64)
    for rows in _row_chunks(n_permutations, walk):
        others_before = positions[rows] - j
        below = (j * other - others_before * walk).max(axis=1)
        above = (others_before * walk - (j - 1) * other).max(axis=1)
        out[rows] = np.maximum(np.maximum(below, above), 0)
    out.setflags(write=False)
    return out


def _many_blocks_null(blocks: np.ndarray, other: int, walk: int, n_permutations: int, seed: int) -> np.ndarray:
    """Null for one feature with many tie blocks, ``O(B * w)``.

    Between consecutive walk items the count C is fixed and the scaled difference
    ``(i - C) w - C o`` increases with the pooled position ``i``, so only the last block
    end before and the first block end after each walk item matter.
    """
    N = other + walk
    p = _walk_positions(other, walk, n_permutations, seed)
    is_end = np.zeros(N + 1, dtype=bool)
    is_end[0] = True
    is_end[blocks] = True
    index = np.arange(N + 1)
    prev_end = np.maximum.accumulate(np.where(is_end, index, 0))
    next_end = np.minimum.accumulate(np.where(is_end, index, N)[::-1])[::-1]
    j = np.arange(1, walk + 1)
    out = np.empty(n_permutations, dtype=np.int64)
    for rows in _row_chunks(n_permutations, walk):
        hi = prev_end[p[rows] - 1]
        lo = next_end[p[rows]]
        above = ((hi - (j - 1)) * walk - (j - 1) * other).max(axis=1)
        below = (j * other - (lo - j) * walk).max(axis=1)
        out[rows] = np.maximum(np.maximum(above, below), 0)
    return out


def _shared_blocks_null(
    members: list[np.ndarray], other: int, walk: int, n_permutations: int, seed: int
) -> list[np.ndarray]:
    """Nulls for several features with few tie blocks and the same sizes, in one pass.

    The walk items are counted once at every block end of every feature (the union of
    the block ends); each feature then reads its own ends.
    """
    N = other + walk
    B = n_permutations
    union = np.unique(np.concatenate(members))
    index_type = np.int32 if B * union.size < 2**31 else np.int64
    # block_of[i] = union block holding pooled position i (1-based; index 0 unused)
    block_of = np.r_[0, np.repeat(np.arange(union.size), np.diff(np.r_[0, union]))].astype(index_type)
    positions = _walk_positions(other, walk, B, seed)
    counts = np.empty((B, union.size), dtype=np.int64)
    for rows in _row_chunks(B, walk):
        ids = block_of[positions[rows]]
        ids += (np.arange(ids.shape[0], dtype=index_type) * union.size)[:, None]
        counts[rows] = np.bincount(ids.ravel(), minlength=ids.shape[0] * union.size).reshape(-1, union.size)
    value_type = np.int32 if N * max(walk, other) < 2**31 else np.int64
    walk_upto = np.cumsum(counts, axis=1, dtype=value_type)
    out = []
    for blocks in members:
        c = walk_upto[:, np.searchsorted(union, blocks)]
        # (T - C) w - C o = T w - C N
        c *= value_type(N)
        np.subtract((blocks * walk).astype(value_type), c, out=c)
        out.append(np.abs(c).max(axis=1).astype(np.int64))
    return out


def ks_thresholds_from_cells(
    pairs: Sequence[tuple[ReferenceGrid, EcdfCells]], *, alpha: float, n_permutations: int, seed: int
) -> list[float]:
    """Permutation-calibrated KS thresholds for several features at once (see :func:`ks_thresholds`).

    Returns
    -------
    list of float
    """
    features = [(grid, cells.n, lambda cells=cells: cells) for grid, cells in pairs]
    return ks_thresholds(features, alpha=alpha, n_permutations=n_permutations, seed=seed)


def ks_thresholds(
    features: Sequence[tuple[ReferenceGrid, int, Callable[[], EcdfCells]]],
    *,
    alpha: float,
    n_permutations: int,
    seed: int,
) -> list[float]:
    """Permutation-calibrated KS thresholds for several features at once.

    Each feature is ``(grid, m, cells)``: its reference grid, the number of finite
    current values and a function giving the current cells, which is called only when
    the threshold is simulated (smaller sample at most 16384 values), so a large batch
    never materialises its cells here. Features with the same sizes share the simulated
    positions and one counting pass. Each threshold is the one
    :func:`ks_permutation_threshold` defines.

    Returns
    -------
    list of float
        NaN for a feature with an empty sample or when ``n_permutations`` is 0.
    """
    out = [math.nan] * len(features)
    if n_permutations <= 0:
        return out
    rank = math.floor(alpha * (n_permutations + 1) + 1e-9)
    groups: dict[tuple[int, int], list[int]] = {}
    for index, (grid, m, _) in enumerate(features):
        if grid.n and m:
            groups.setdefault((grid.n, m), []).append(index)
    for (n, m), indices in groups.items():
        if rank < 1:
            for index in indices:
                out[index] = 1.0  # D <= 1 always: the test can never reject at this B
            continue
        if min(n, m) > _MAX_PERMUTATION_WALK:
            big, small = sorted([float(n), float(m)], reverse=True)
            asymptotic = float(sps.kstwo.isf(alpha, np.round(big * small / (big + small))))
            for index in indices:
                out[index] = asymptotic
            continue
        # The walk is the current sample while it is small enough, so the cached
        # positions are keyed by the reference size, which is fixed per baseline.
        other, walk = (n, m) if m <= _MAX_PERMUTATION_WALK else (m, n)
        nulls: dict[int, np.ndarray] = {}
        few: list[int] = []
        for index in indices:
            grid, _, cells = features[index]
            blocks = pooled_tie_blocks(grid, cells())
            if blocks.size == n + m:
                nulls[index] = _continuous_null(other, walk, n_permutations, seed)
            elif blocks.size > walk:
                nulls[index] = _many_blocks_null(blocks, other, walk, n_permutations, seed)
            else:
                few.append(index)
                nulls[index] = blocks
        if few:
            shared = _shared_blocks_null([nulls[i] for i in few], other, walk, n_permutations, seed)
            nulls.update(zip(few, shared))
        for index, null in nulls.items():
            out[index] = float(np.partition(null, n_permutations - rank)[n_permutations - rank] / (n * m))
    return out


def ks_threshold_from_cells(
    grid: ReferenceGrid, cells: EcdfCells, *, alpha: float, n_permutations: int, seed: int
) -> float:
    """Permutation-calibrated KS threshold of one feature (see :func:`ks_permutation_threshold`)."""
    return ks_thresholds_from_cells([(grid, cells)], alpha=alpha, n_permutations=n_permutations, seed=seed)[0]


def _null_numerators(grid: ReferenceGrid, cells: EcdfCells, n_permutations: int, seed: int) -> np.ndarray | None:
    """Permutation null of ``D * n * m`` for one feature (None above the simulation size limit)."""
    n, m = grid.n, cells.n
    if min(n, m) > _MAX_PERMUTATION_WALK or n == 0 or m == 0 or n_permutations <= 0:
        return None
    other, walk = (n, m) if m <= _MAX_PERMUTATION_WALK else (m, n)
    blocks = pooled_tie_blocks(grid, cells)
    if blocks.size == n + m:
        return _continuous_null(other, walk, n_permutations, seed)
    if blocks.size > walk:
        return _many_blocks_null(blocks, other, walk, n_permutations, seed)
    return _shared_blocks_null([blocks], other, walk, n_permutations, seed)[0]



def _grid_and_cells(reference: object, current: object) -> tuple[ReferenceGrid, EcdfCells]:
    grid = ReferenceGrid.from_values(_finite_sorted(reference))
    return grid, EcdfCells.from_sorted(grid, _finite_sorted(current))


def ks_statistic(reference: object, current: object) -> float:
    """Two-sample Kolmogorov-Smirnov statistic ``D = sup_x |F_ref(x) - F_cur(x)|``.

    Computed from the sorted reference and a ``searchsorted`` of the sorted current
    sample (``O(m log n)`` once the reference is sorted); equal to
    ``scipy.stats.ks_2samp(reference, current).statistic`` on the finite values.

    Returns
    -------
    float
        In ``[0, 1]``; NaN when a sample has no finite values.
    """
    return ks_2samp_test(reference, current)[0]


def ks_pvalue(reference: object, current: object) -> float:
    """P-value of the two-sample KS test, equal to ``scipy.stats.ks_2samp(...).pvalue``.

    Returns
    -------
    float
    """
    return ks_2samp_test(reference, current)[1]


def ks_2samp_test(reference: object, current: object) -> tuple[float, float]:
    """``(statistic, pvalue)`` of the two-sample KS test on the finite values (scipy's "auto" method).

    Returns
    -------
    (float, float)
    """
    grid, cells = _grid_and_cells(reference, current)
    num, flt = ks_numerator_from_cells(grid, cells)
    return ks_pvalue_from_numerator(num, flt, grid.n, cells.n)


def ks_null_distribution(
    reference: object, current: object, *, n_permutations: int = 1000, seed: int = 0
) -> np.ndarray:
    """Permutation null distribution of the KS statistic (``n_permutations`` draws).

    Each draw is ``D`` between two random parts of sizes ``n`` and ``m`` of the pooled
    finite values (a uniformly random relabelling; ties kept). See the module notes on
    how the draws are shared across calls with the same sizes.

    Returns
    -------
    numpy.ndarray
        Sorted null values of ``D``; empty when the smaller sample exceeds 16384 values.
    """
    grid, cells = _grid_and_cells(reference, current)
    null = _null_numerators(grid, cells, n_permutations, seed)
    if null is None:
        return np.empty(0)
    return np.sort(null) / (grid.n * cells.n)


def ks_permutation_threshold(
    reference: object, current: object, *, alpha: float = 0.05, n_permutations: int = 1000, seed: int = 0
) -> float:
    """Permutation-calibrated critical value of the KS statistic.

    The ``r``-th largest of ``B`` permutation-null draws, ``r = floor(alpha (B + 1))``,
    i.e. the ``(1 - alpha)`` quantile of the null. ``D > threshold`` holds exactly when
    the permutation p-value ``(k + 1) / (B + 1) <= alpha`` (``k`` = null draws ``>= D``),
    so the test has level ``alpha`` whatever the tie structure (Phipson & Smyth 2010).
    Above 16384 values in the smaller sample the asymptotic Kolmogorov quantile
    ``kstwo.isf(alpha, round(n m / (n + m)))`` is returned instead.

    Parameters
    ----------
    reference, current : array-like of float
    alpha : float, default 0.05
    n_permutations : int, default 1000
    seed : int, default 0

    Returns
    -------
    float
    """
    grid, cells = _grid_and_cells(reference, current)
    return ks_threshold_from_cells(grid, cells, alpha=alpha, n_permutations=n_permutations, seed=seed)


def ks_permutation_pvalue(
    reference: object, current: object, *, n_permutations: int = 1000, seed: int = 0
) -> float:
    """Permutation p-value ``(k + 1) / (B + 1)`` of the KS statistic, ``k`` = null draws ``>= D``.

    Returns
    -------
    float
    """
    grid, cells = _grid_and_cells(reference, current)
    num, _ = ks_numerator_from_cells(grid, cells)
    null = _null_numerators(grid, cells, n_permutations, seed)
    if null is None:
        return math.nan
    return float((np.count_nonzero(null >= num) + 1) / (n_permutations + 1))


def wasserstein_distance(reference: object, current: object) -> float:
    """Wasserstein-1 distance ``integral |F_ref(x) - F_cur(x)| dx`` of the finite values.

    Equal to ``scipy.stats.wasserstein_distance(reference, current)``; computed from
    the sorted reference in ``O(m log n)`` (see :func:`wasserstein_from_cells`).

    Returns
    -------
    float
        In the units of the data; NaN when a sample has no finite values.
    """
    return wasserstein_from_cells(*_grid_and_cells(reference, current))[0]


def normalized_wasserstein_distance(reference: object, current: object) -> float:
    """Wasserstein-1 distance divided by the reference standard deviation (ddof = 0).

    Unit-free, so one band serves every feature. NaN when the reference is constant.

    Returns
    -------
    float
    """
    ref = _finite_sorted(reference)
    std = float(np.std(ref)) if ref.size else math.nan
    if not std > 0:
        return math.nan
    return wasserstein_distance(ref, current) / std
