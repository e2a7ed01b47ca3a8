"""Drift statistics against independent references: scipy, statsmodels and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps
from scipy.spatial.distance import jensenshannon
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportions_ztest

from drift_pipeline.lib import stats as S

# Tolerances used below (stated once):
# * KS statistic and p-value: rel 1e-12 (the implementation reproduces scipy's
#   arithmetic; in practice the values are bit-identical).
# * Wasserstein-1: rel 1e-10 (different but exact summation order from scipy's).
# * JS distance, chi-square and z-test p-values: rel 1e-12.
TIGHT = 1e-12
W1_REL = 1e-10


def _samples(kind: str, n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.normal(size=n), rng.normal(0.15, 1.1, size=m)
    if kind == "ties":
        return rng.integers(0, 6, n).astype(float), rng.integers(0, 7, m).astype(float)
    if kind == "rounded":
        return np.round(rng.normal(size=n), 1), np.round(rng.normal(0.1, 1.0, size=m), 1)
    if kind == "mixed":  # discrete reference, continuous batch: values between reference values
        return rng.integers(0, 4, n).astype(float), rng.uniform(-1, 5, m)
    if kind == "pareto":
        return rng.pareto(1.2, n) + 1.0, rng.pareto(1.0, m) + 1.0
    if kind == "lognormal":
        return rng.lognormal(10, 1.0, n), rng.lognormal(10, 1.3, m)
    raise ValueError(kind)


KINDS = ["normal", "ties", "rounded", "mixed", "pareto", "lognormal"]
# (n, m): scipy's exact branch (max <= 10000), n == m, and its asymptotic branch
SIZES = [(1, 1), (7, 3), (40, 40), (300, 1000), (2500, 11000), (12000, 900)]


def _paths(reference: np.ndarray, current: np.ndarray):
    """Both implementations: cells (streaming) and sorted values (one chunk, with pruning forced on)."""
    grid = S.ReferenceGrid.from_values(np.sort(reference[np.isfinite(reference)]))
    xs = np.sort(current[np.isfinite(current)])
    cells = S.EcdfCells.from_sorted(grid, xs)
    return grid, xs, cells


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("n", "m"), SIZES)
def test_ks_equals_scipy_ks_2samp(kind, n, m):
    reference, current = _samples(kind, n, m, seed=n * 31 + m)
    expected = sps.ks_2samp(reference, current)
    grid, xs, cells = _paths(reference, current)
    for num, flt in (
        S.ks_numerator_from_cells(grid, cells),
        S.ks_numerator_from_sorted(grid, xs, block=4),  # small blocks: pruning exercised
        S.ks_numerator_from_sorted(grid, xs),
    ):
        statistic, pvalue = S.ks_pvalue_from_numerator(num, flt, grid.n, cells.n)
        assert statistic == pytest.approx(expected.statistic, rel=TIGHT, abs=0)
        assert pvalue == pytest.approx(expected.pvalue, rel=TIGHT, abs=1e-300)
    assert S.ks_statistic(reference, current) == pytest.approx(expected.statistic, rel=TIGHT)
    assert S.ks_pvalue(reference, current) == pytest.approx(expected.pvalue, rel=TIGHT, abs=1e-300)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("n", "m"), SIZES)
def test_wasserstein_equals_scipy(kind, n, m):
    reference, current = _samples(kind, n, m, seed=n * 17 + m)
    expected = sps.wasserstein_distance(reference, current)
    grid, xs, cells = _paths(reference, current)
    assert S.wasserstein_from_sorted(grid, xs) == pytest.approx(expected, rel=W1_REL, abs=1e-300)
    value, bound = S.wasserstein_from_cells(grid, cells)  # one chunk: values kept, exact
    assert bound == 0.0
    assert value == pytest.approx(expected, rel=W1_REL, abs=1e-300)
    assert S.wasserstein_distance(reference, current) == pytest.approx(expected, rel=W1_REL, abs=1e-300)
    if np.std(reference) > 0:
        normed = S.normalized_wasserstein_distance(reference, current)
        assert normed == pytest.approx(expected / np.std(reference), rel=W1_REL)


@pytest.mark.parametrize("kind", KINDS)
def test_wasserstein_of_merged_cells_is_within_its_error_bound(kind):
    reference, current = _samples(kind, 3000, 8000, seed=5)
    grid = S.ReferenceGrid.from_values(np.sort(reference))
    chunks = np.array_split(current, 7)
    merged = S.EcdfCells.empty()
    for chunk in chunks:
        merged = merged.merge(S.EcdfCells.from_sorted(grid, np.sort(chunk)))
    value, bound = S.wasserstein_from_cells(grid, merged)
    expected = sps.wasserstein_distance(reference, current)
    # the bound is rigorous (up to float rounding) ...
    assert abs(value - expected) <= bound + 1e-10 * expected
    # ... and within its documented size: (max - min) * count / (2 m) per gap cell of >= 4 values
    gap = ((merged.ids & 1) == 0) & (merged.count >= 4)
    assert bound <= np.sum((merged.high - merged.low)[gap] * merged.count[gap]) / (2 * current.size) + 1e-12
    if kind != "mixed":  # a reference with many distinct values leaves almost nothing to bracket
        assert bound <= 1e-3 * expected


def test_wasserstein_bound_is_tight_enough_when_many_values_share_a_gap():
    # a gap between two reference values holds many batch values on both sides of the
    # crossing of the ECDFs: the one case where merged cells are not exact
    reference = np.array([0.0] * 50 + [10.0] * 50)
    rng = np.random.default_rng(3)
    current = np.r_[np.zeros(40), rng.uniform(0.0, 10.0, 20), np.full(40, 10.0)]
    grid = S.ReferenceGrid.from_values(np.sort(reference))
    merged = S.EcdfCells.empty()
    for chunk in np.array_split(current, 4):
        merged = merged.merge(S.EcdfCells.from_sorted(grid, np.sort(chunk)))
    value, bound = S.wasserstein_from_cells(grid, merged)
    expected = sps.wasserstein_distance(reference, current)
    assert bound > 0
    assert abs(value - expected) <= bound + 1e-12
    # documented bound: at most (max - min) * count / (2 m) per such cell
    assert bound <= 10.0 * 20 / (2 * current.size)


def test_quantile_edges_are_deduplicated_inverted_cdf_quantiles():
    rng = np.random.default_rng(0)
    for x in (rng.normal(size=1001), rng.integers(0, 3, 500).astype(float), np.full(20, 4.0)):
        expected = np.unique(np.quantile(x, np.arange(1, 10) / 10, method="inverted_cdf"))
        np.testing.assert_array_equal(S.quantile_bin_edges(x, n_bins=10), expected)
    np.testing.assert_array_equal(S.quantile_bin_edges([np.nan, np.inf], n_bins=10), np.empty(0))


def test_psi_and_kl_equal_a_hand_computation():
    # reference 0..9 (deciles: edges 0..8), current: five 0s, three 5s, two 12s
    reference = np.arange(10.0)
    current = np.array([0, 0, 0, 0, 0, 5, 5, 5, 12, 12], dtype=float)
    np.testing.assert_array_equal(S.quantile_bin_edges(reference, n_bins=10), np.arange(9.0))
    eps = 1e-4
    r = np.full(10, 0.1)
    c = np.array([0.5, eps, eps, eps, eps, 0.3, eps, eps, eps, 0.2])  # empty bins floored, not renormalised
    psi = float(np.sum((c - r) * np.log(c / r)))
    kl = float(np.sum(c * np.log(c / r)))
    # tolerance 1e-12: the same formula, summed in a different order
    assert S.population_stability_index(reference, current, epsilon=eps) == pytest.approx(psi, rel=1e-12)
    assert S.kl_divergence(reference, current, epsilon=eps) == pytest.approx(kl, rel=1e-12)
    # categorical: bins are the reference categories plus one for unseen ones
    ref_cat = ["a"] * 6 + ["b"] * 4
    cur_cat = ["a"] * 5 + ["b"] * 3 + ["z"] * 2
    r = np.array([0.6, 0.4, eps])
    c = np.array([0.5, 0.3, 0.2])
    assert S.population_stability_index(ref_cat, cur_cat, categorical=True, epsilon=eps) == pytest.approx(
        float(np.sum((c - r) * np.log(c / r))), rel=1e-12
    )
    assert S.kl_divergence(ref_cat, cur_cat, categorical=True, epsilon=eps) == pytest.approx(
        float(np.sum(c * np.log(c / r))), rel=1e-12
    )
    assert S.population_stability_index(reference, reference) == 0.0


def test_psi_puts_infinities_in_the_open_outer_bins():
    reference = np.arange(100.0)
    current = np.r_[np.arange(90.0), np.full(10, np.inf)]
    ref_counts, cur_counts = S._binned_counts(reference, current, 10, False)
    assert ref_counts[-1] == 10  # (89, +inf) holds 90..99 in the reference
    assert cur_counts[-1] == 10  # and the ten +inf in the batch
    assert ref_counts.sum() == cur_counts.sum() == 100


def test_categorical_statistics_equal_scipy():
    rng = np.random.default_rng(1)
    reference = rng.choice(["a", "b", "c", "d"], 500, p=[0.4, 0.3, 0.2, 0.1])
    current = rng.choice(["a", "b", "c", "e"], 300, p=[0.3, 0.3, 0.3, 0.1])
    ref_counts, cur_counts = S._category_counts(reference, current)
    np.testing.assert_array_equal(ref_counts, [np.sum(reference == k) for k in "abcd"] + [0])
    assert S.js_distance_from_counts(ref_counts, cur_counts) == pytest.approx(
        jensenshannon(ref_counts, cur_counts, base=2), rel=TIGHT
    )
    assert S.jensen_shannon_distance(reference, current) == pytest.approx(
        jensenshannon(ref_counts, cur_counts, base=2), rel=TIGHT
    )
    table = np.vstack([ref_counts, cur_counts])
    assert S.chi2_pvalue(reference, current) == pytest.approx(sps.chi2_contingency(table).pvalue, rel=TIGHT)
    # two categories: one degree of freedom, Yates' correction as in scipy's default
    two = np.array([[30, 70], [45, 55]])
    assert S.chi2_pvalue_from_counts(two[0], two[1]) == pytest.approx(sps.chi2_contingency(two).pvalue, rel=TIGHT)
    assert S.chi2_pvalue_from_counts([10, 0], [5, 0]) == 1.0  # one occupied bin
    assert S.unseen_category_share(reference, current) == pytest.approx(np.mean(current == "e"), rel=TIGHT)


def test_null_rate_test_equals_statsmodels_and_value_shares():
    reference = np.r_[np.ones(950), np.full(50, np.nan)]
    current = np.r_[np.ones(160), np.full(40, np.nan)]
    _, expected = proportions_ztest([50, 40], [1000, 200])
    assert S.null_rate_pvalue(reference, current) == pytest.approx(expected, rel=TIGHT)
    assert S.two_proportion_pvalue(0, 10, 0, 20) == 1.0
    assert math.isnan(S.two_proportion_pvalue(0, 0, 1, 2))
    ref = np.arange(10.0)
    cur = np.array([-1.0, 0.0, 5.0, 9.0, 10.0, np.inf, -np.inf, np.nan])
    assert S.out_of_range_share(ref, cur) == pytest.approx(4 / 7, rel=TIGHT)
    assert S.nonfinite_share(ref, cur) == pytest.approx(2 / 7, rel=TIGHT)


def test_corrections_equal_a_hand_computation_and_statsmodels():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # hand computation, k = 4 finite p-values; sorted: 0.005, 0.01, 0.03, 0.04
    bonferroni = [0.04, 0.16, 0.12, 0.02, np.nan]
    holm = [0.03, 0.06, 0.06, 0.02, np.nan]  # 4*0.005, 3*0.01, max(2*0.03, .03), max(1*0.04, .06)
    bh = [0.02, 0.04, 0.04, 0.02, np.nan]  # 0.005*4/1, 0.01*4/2, 0.03*4/3, 0.04*4/4, min from the top
    # tolerance 1e-15: products of a few doubles
    np.testing.assert_allclose(S.adjust_pvalues(p, method="bonferroni"), bonferroni, rtol=1e-15)
    np.testing.assert_allclose(S.adjust_pvalues(p, method="holm"), holm, rtol=1e-15)
    np.testing.assert_allclose(S.adjust_pvalues(p, method="bh"), bh, rtol=1e-15)
    rng = np.random.default_rng(2)
    q = rng.uniform(0, 0.1, 40) ** 2
    for ours, theirs in (("bonferroni", "bonferroni"), ("holm", "holm"), ("bh", "fdr_bh")):
        np.testing.assert_allclose(S.adjust_pvalues(q, method=ours), multipletests(q, method=theirs)[1], rtol=1e-12)
    with pytest.raises(ValueError, match="unknown correction"):
        S.adjust_pvalues(q, method="sidak")


# --------------------------------------------------------------------------- permutation null


def _exact_sf(d: float, n: int, m: int) -> float:
    """P(D >= d) under H0 for continuous data: scipy's exact two-sample distribution."""
    g = math.gcd(n, m)
    ok, _, p = S._attempt_exact_2kssamp(n, m, g, d, "two-sided")
    assert ok
    return p


@pytest.mark.parametrize(("n", "m"), [(40, 40), (200, 30), (35, 120)])
def test_continuous_permutation_threshold_is_the_null_quantile(n, m):
    """The threshold is the (1 - alpha) quantile of the exact continuous null, within MC error."""
    rng = np.random.default_rng(n + m)
    reference, current = rng.normal(size=n), rng.normal(size=m)
    alpha, B = 0.05, 1000
    threshold = S.ks_permutation_threshold(reference, current, alpha=alpha, n_permutations=B, seed=11)
    lattice = 1 / (n * m // math.gcd(n, m))
    # P(D > t) <= alpha and P(D >= t) >= alpha, each up to 4 Monte-Carlo standard errors
    se = math.sqrt(alpha * (1 - alpha) / B)
    assert _exact_sf(threshold + lattice, n, m) <= alpha + 4 * se
    assert _exact_sf(threshold, n, m) >= alpha - 4 * se
    # the simulated null matches the exact distribution (KS distance of CDFs < 4.5 / sqrt(B))
    null = S.ks_null_distribution(reference, current, n_permutations=B, seed=11)
    points = np.unique(null)
    empirical_sf = 1 - np.searchsorted(null, points, side="left") / B
    exact_sf = np.array([_exact_sf(d, n, m) if d > 0 else 1.0 for d in points])
    assert np.max(np.abs(empirical_sf - exact_sf)) < 4.5 / math.sqrt(B)


def test_permutation_test_rejection_rate_under_h0_is_alpha():
    """Unconditional level: over H0 data sets and seeds, P(D > threshold) is alpha within MC error."""
    rng = np.random.default_rng(7)
    n, m, alpha, trials = 60, 45, 0.05, 600
    rejections = 0
    for trial in range(trials):
        reference, current = rng.normal(size=n), rng.normal(size=m)
        threshold = S.ks_permutation_threshold(reference, current, alpha=alpha, n_permutations=199, seed=trial)
        rejections += S.ks_statistic(reference, current) > threshold
    rate = rejections / trials
    se = math.sqrt(alpha * (1 - alpha) / trials)
    # valid (not above alpha) and not far below it: the lattice of D costs at most ~1 point here
    assert rate <= alpha + 3 * se
    assert rate >= alpha - 0.02 - 3 * se


def test_tied_null_matches_brute_force_permutations():
    """With ties the null depends on the pooled tie structure; compare with shuffling the pooled data."""
    rng = np.random.default_rng(4)
    reference = rng.poisson(2.0, 150).astype(float)
    current = rng.poisson(2.0, 60).astype(float)
    ours = S.ks_null_distribution(reference, current, n_permutations=2000, seed=3)
    pooled = np.r_[reference, current]
    brute = np.empty(2000)
    for b in range(brute.size):
        shuffled = rng.permutation(pooled)
        brute[b] = sps.ks_2samp(shuffled[:150], shuffled[150:]).statistic
    # two-sample comparison of the two null samples: same distribution at the 0.1% level
    assert sps.ks_2samp(ours, brute).pvalue > 1e-3
    assert np.quantile(ours, 0.95) == pytest.approx(np.quantile(brute, 0.95), abs=2 / 60)
    # the continuous null would be wrong here: ties make the null smaller
    continuous = S.ks_null_distribution(rng.normal(size=150), rng.normal(size=60), n_permutations=2000, seed=3)
    assert np.quantile(ours, 0.95) < np.quantile(continuous, 0.95)


def test_tied_permutation_test_keeps_its_level():
    rng = np.random.default_rng(8)
    alpha, trials, rejections, scipy_rejections = 0.05, 400, 0, 0
    for trial in range(trials):
        reference = rng.poisson(1.5, 80).astype(float)
        current = rng.poisson(1.5, 50).astype(float)
        threshold = S.ks_permutation_threshold(reference, current, alpha=alpha, n_permutations=199, seed=trial)
        d, p = S.ks_2samp_test(reference, current)
        rejections += d > threshold
        scipy_rejections += p < alpha
    se = math.sqrt(alpha * (1 - alpha) / trials)
    assert rejections / trials <= alpha + 3 * se
    # the asymptotic KS p-value ignores ties and is far more conservative
    assert rejections >= scipy_rejections


def test_threshold_and_permutation_pvalue_agree():
    rng = np.random.default_rng(9)
    for shift in (0.0, 0.3, 0.6):
        reference, current = rng.normal(size=300), rng.normal(shift, 1, size=100)
        d = S.ks_statistic(reference, current)
        t = S.ks_permutation_threshold(reference, current, alpha=0.05, n_permutations=999, seed=1)
        p = S.ks_permutation_pvalue(reference, current, n_permutations=999, seed=1)
        assert (d > t) == (p <= 0.05)


def test_permutation_thresholds_are_reproducible_and_independent_of_cache_history():
    rng = np.random.default_rng(10)
    reference = np.round(rng.normal(size=700), 1)
    currents = [np.round(rng.normal(size=m), 1) for m in (90, 130, 70)]
    first = [S.ks_permutation_threshold(reference, c, n_permutations=300, seed=5) for c in currents]
    S._BANK.clear()
    S._POSITIONS.clear()
    S._continuous_null.cache_clear()
    second = [S.ks_permutation_threshold(reference, c, n_permutations=300, seed=5) for c in reversed(currents)]
    assert first == second[::-1]


def test_shared_and_single_feature_thresholds_agree():
    rng = np.random.default_rng(12)
    grid_pairs = []
    for values in (rng.integers(0, 5, 800), np.round(rng.normal(size=800), 1), rng.normal(size=800)):
        values = values.astype(float)
        grid = S.ReferenceGrid.from_values(np.sort(values[:700]))
        grid_pairs.append((grid, S.EcdfCells.from_sorted(grid, np.sort(values[700:]))))
    together = S.ks_thresholds_from_cells(grid_pairs, alpha=0.05, n_permutations=400, seed=2)
    alone = [S.ks_threshold_from_cells(g, c, alpha=0.05, n_permutations=400, seed=2) for g, c in grid_pairs]
    assert together == alone


def test_large_samples_use_the_asymptotic_threshold():
    n = S._MAX_PERMUTATION_WALK + 10
    rng = np.random.default_rng(0)
    t = S.ks_permutation_threshold(rng.normal(size=n), rng.normal(size=n), alpha=0.05, n_permutations=100, seed=0)
    assert t == pytest.approx(sps.kstwo.isf(0.05, round(n / 2)), rel=1e-12)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_is_seeded_and_brackets_a_shift():
    rng = np.random.default_rng(13)
    reference, current = rng.normal(size=2000), rng.normal(0.5, 1, size=1500)
    first = S.bootstrap_ci(S.population_stability_index, reference, current, n_resamples=100, seed=3)
    again = S.bootstrap_ci(S.population_stability_index, reference, current, n_resamples=100, seed=3)
    assert first == again
    psi = S.population_stability_index(reference, current)
    assert first[0] < psi < first[1]
    basic = S.bootstrap_ci(S.population_stability_index, reference, current, n_resamples=100, seed=3, method="basic")
    # reflection about the estimate: (2t - high, 2t - low)
    assert basic == pytest.approx((2 * psi - first[1], 2 * psi - first[0]), rel=1e-12)
    empty = S.bootstrap_ci(S.population_stability_index, reference, [], n_resamples=10, seed=1)
    assert all(math.isnan(v) for v in empty)


def test_count_bootstrap_of_psi_matches_row_bootstrap_in_distribution():
    """Drawing bin counts from a multinomial is the row bootstrap with the bins held fixed."""
    rng = np.random.default_rng(14)
    reference, current = rng.normal(size=3000), rng.normal(0.3, 1, size=800)
    edges = S.quantile_bin_edges(reference)
    ref_counts, cur_counts = S._bin_counts(reference, edges), S._bin_counts(current, edges)

    def psi_fixed_bins(r, c):
        return S.psi_from_counts(S._bin_counts(r, edges), S._bin_counts(c, edges))

    rows = S.bootstrap_ci(psi_fixed_bins, reference, current, n_resamples=400, seed=1, method="basic")
    counts = S.psi_bootstrap_ci(ref_counts, cur_counts, n_resamples=400, seed=2)
    # same interval up to Monte-Carlo error (400 resamples: a few percent of the width)
    width = rows[1] - rows[0]
    assert counts[0] == pytest.approx(rows[0], abs=0.2 * width)
    assert counts[1] == pytest.approx(rows[1], abs=0.2 * width)


def test_psi_interval_covers_zero_without_drift_and_the_estimate_with_drift():
    rng = np.random.default_rng(15)
    reference = rng.normal(size=5000)
    edges = S.quantile_bin_edges(reference)
    ref_counts = S._bin_counts(reference, edges)
    covered = 0
    for trial in range(40):
        cur_counts = S._bin_counts(rng.normal(size=500), edges)
        low, _ = S.psi_bootstrap_ci(ref_counts, cur_counts, n_resamples=200, seed=trial)
        covered += low == 0.0
    assert covered >= 36  # the population PSI is 0: the interval reaches it nearly always
    cur_counts = S._bin_counts(rng.normal(1.0, 1, size=500), edges)
    low, high = S.psi_bootstrap_ci(ref_counts, cur_counts, n_resamples=200, seed=1)
    assert low < S.psi_from_counts(ref_counts, cur_counts) < high
    cached = S.multinomial_resamples(ref_counts, n_resamples=200, seed=[1, 0])
    assert S.psi_bootstrap_ci(ref_counts, cur_counts, n_resamples=200, seed=1, reference_resamples=cached) == (
        low,
        high,
    )


# --------------------------------------------------------------------------- fixed-size (dense) cells


def test_dense_cells_hold_exactly_the_merged_cells():
    rng = np.random.default_rng(11)
    reference = np.round(rng.normal(size=2000), 2)  # ties inside the reference and with the batch
    current = np.r_[np.round(rng.normal(0.3, 1.2, 5000), 2), [-9.0, 9.0, 9.0]]
    grid = S.ReferenceGrid.from_values(np.sort(reference))
    dense = S.DenseCells.zeros(grid)
    merged = S.EcdfCells.empty()
    for chunk in np.array_split(current, 9):
        cells = S.EcdfCells.from_sorted(grid, np.sort(chunk))
        dense.add(cells)
        merged = merged.merge(cells)
    assert dense.n == current.size
    assert dense.count.nbytes + dense.total.nbytes + dense.low.nbytes + dense.high.nbytes == S.DenseCells.nbytes_for(grid)
    assert dense.cells(grid).equals(merged)
    one_pass = S.EcdfCells.from_sorted(grid, np.sort(current))
    assert dense.cells(grid).equals(one_pass)
    # adding another DenseCells is the same as adding its chunks
    half = S.DenseCells.zeros(grid).add(S.EcdfCells.from_sorted(grid, np.sort(current[:2500])))
    rest = S.DenseCells.zeros(grid).add(S.EcdfCells.from_sorted(grid, np.sort(current[2500:])))
    assert half.copy().add_dense(rest).cells(grid).equals(one_pass)
    # statistics from the dense cells equal scipy (KS exactly, Wasserstein within 1e-12 relative)
    cells = dense.cells(grid)
    num, flt = S.ks_numerator_from_cells(grid, cells)
    assert S.ks_pvalue_from_numerator(num, flt, grid.n, cells.n) == pytest.approx(
        tuple(sps.ks_2samp(reference, current)), rel=1e-12
    )
    value, bound = S.wasserstein_from_cells(grid, cells)
    assert abs(value - sps.wasserstein_distance(reference, current)) <= bound + 1e-12 * value


def test_dense_counts_widen_before_they_could_overflow():
    grid = S.ReferenceGrid.from_values(np.array([0.0, 1.0, 2.0]))
    dense = S.DenseCells.zeros(grid)
    assert dense.count.dtype == np.int32
    dense.n = np.iinfo(np.int32).max - 2  # as if 2^31 - 3 values had been added already
    dense.add(S.EcdfCells.from_sorted(grid, np.array([0.5, 1.0, 1.0, 3.0])))
    assert dense.count.dtype == np.int64
    assert dense.count.tolist() == [0, 0, 1, 2, 0, 0, 1]


def test_wasserstein_from_many_cells_is_computed_in_blocks_and_equals_scipy():
    # more occupied cells than one block (65,536) of the chunked computation
    rng = np.random.default_rng(12)
    reference, current = rng.normal(size=150_000), rng.normal(0.05, 1.1, size=160_000)
    grid = S.ReferenceGrid.from_values(np.sort(reference))
    xs = np.sort(current)
    one_chunk = S.EcdfCells.from_sorted(grid, xs)
    assert one_chunk.ids.size > S._CHUNK
    expected = sps.wasserstein_distance(reference, current)
    value, bound = S.wasserstein_from_cells(grid, one_chunk)
    assert bound == 0.0 and value == pytest.approx(expected, rel=W1_REL)
    dense = S.DenseCells.zeros(grid)
    for chunk in np.array_split(current, 5):
        dense.add(S.EcdfCells.from_sorted(grid, np.sort(chunk)))
    value, bound = S.wasserstein_from_cells(grid, dense.cells(grid))
    assert abs(value - expected) <= bound + W1_REL * expected
    assert bound <= 1e-3 * expected


def test_ks_thresholds_only_build_cells_where_the_null_is_simulated():
    rng = np.random.default_rng(13)
    small = S.ReferenceGrid.from_values(np.sort(rng.normal(size=500)))
    large = S.ReferenceGrid.from_values(np.sort(rng.normal(size=S._MAX_PERMUTATION_WALK + 10)))
    calls: list[str] = []

    def cells_of(name: str, grid: S.ReferenceGrid, values: np.ndarray):
        def build() -> S.EcdfCells:
            calls.append(name)
            return S.EcdfCells.from_sorted(grid, np.sort(values))

        return build

    current = rng.normal(size=S._MAX_PERMUTATION_WALK + 20)
    thresholds = S.ks_thresholds(
        [
            (small, 400, cells_of("small", small, current[:400])),
            (large, current.size, cells_of("large", large, current)),
        ],
        alpha=0.05,
        n_permutations=200,
        seed=1,
    )
    assert calls == ["small"]  # the large pair takes the asymptotic quantile without its cells
    n, m = large.n, current.size
    assert thresholds[1] == pytest.approx(float(sps.kstwo.isf(0.05, round(n * m / (n + m)))))
    assert thresholds[0] == S.ks_permutation_threshold(
        np.repeat(small.values, small.counts), current[:400], alpha=0.05, n_permutations=200, seed=1
    )
