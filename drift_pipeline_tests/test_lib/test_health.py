"""Severity bands of config/policy.yaml edge by edge, and the composite score by hand."""

from pathlib import Path

import pandas as pd
import pytest

from drift_pipeline.lib.config import load_policy
from drift_pipeline.lib.health import (
    data_verdicts,
    explanation_verdicts,
    fairness_verdicts,
    model_health,
    model_verdicts,
    normalised_score,
)
from drift_pipeline.lib.policy import Severity, judge

CONFIG = Path(__file__).resolve().parents[2] / "config"
EPS = 1e-9
I, W, C = Severity.INFO, Severity.WARNING, Severity.CRITICAL


@pytest.fixture(scope="module")
def policy():
    return load_policy(CONFIG)


# (family, metric, feature, model, edge, severities just below / exactly at / just above the edge).
# Written by hand from SPEC §4 and policy.yaml, not derived from the parsed policy.
EDGES = [
    ("data", "psi", None, None, 0.10, (I, W, W)),
    ("data", "psi", None, None, 0.25, (W, C, C)),
    ("data", "kl", None, None, 0.10, (I, W, W)),
    ("data", "kl", None, None, 0.30, (W, C, C)),
    ("data", "wasserstein_normed", None, None, 0.15, (I, W, W)),
    ("data", "wasserstein_normed", None, None, 0.30, (W, W, C)),  # CRITICAL is strictly above 0.30
    ("data", "js_distance", None, None, 0.10, (I, W, W)),
    ("data", "js_distance", None, None, 0.20, (W, C, C)),
    ("data", "null_rate_increase", None, None, 0.05, (I, W, W)),
    ("data", "null_rate_increase", None, None, 0.20, (W, C, C)),
    # per-feature override: compas.priors_count PSI is stricter; other models keep the default
    ("data", "psi", "priors_count", "compas", 0.08, (I, W, W)),
    ("data", "psi", "priors_count", "compas", 0.20, (W, C, C)),
    ("data", "psi", "priors_count", "flights", 0.08, (I, I, I)),
    ("fairness", "demographic_parity_drift", None, None, 0.05, (I, I, W)),
    ("fairness", "demographic_parity_drift", None, None, 0.10, (W, W, C)),
    ("fairness", "equal_opportunity_drift", None, None, 0.05, (I, I, W)),
    ("fairness", "equal_opportunity_drift", None, None, 0.10, (W, W, C)),
    ("fairness", "disparate_impact_ratio", None, None, 0.90, (W, I, I)),  # lower is worse
    ("fairness", "disparate_impact_ratio", None, None, 0.80, (C, W, W)),
    ("model", "accuracy_drop", None, None, 0.05, (I, I, W)),
    ("model", "accuracy_drop", None, None, 0.10, (W, W, C)),
    ("model", "prediction_distribution_shift", None, None, 0.20, (I, I, W)),
    ("model", "prediction_distribution_shift", None, None, 0.40, (W, W, C)),
    ("model", "output_entropy_change", None, None, 0.25, (I, I, W)),
    ("model", "output_entropy_change", None, None, 0.50, (W, W, C)),
    ("explanation", "shap_rank_correlation", None, None, 0.85, (W, I, I)),
    ("explanation", "shap_rank_correlation", None, None, 0.70, (C, W, W)),
    ("validation", "failed_expectations", None, None, 1.0, (I, C, C)),  # WARNING and CRITICAL share >= 1
]
CASES = [
    pytest.param(family, metric, feature, model, edge + offset, expected[i],
                 id=f"{family}.{metric}{'@' + model + '.' + feature if feature else ''}={edge}{label}")
    for family, metric, feature, model, edge, expected in EDGES
    for i, (offset, label) in enumerate([(-EPS, "-eps"), (0.0, ""), (EPS, "+eps")])
]


@pytest.mark.parametrize(("family", "metric", "feature", "model", "value", "expected"), CASES)
def test_metric_value_to_severity(policy, family, metric, feature, model, value, expected):
    verdict = judge(policy, family, metric, value, feature=feature, model=model)
    assert verdict.severity == expected
    assert verdict.value == value


def test_the_table_covers_every_band_edge_in_policy_yaml(policy):
    covered = {(f, m, feat, mod, edge) for f, m, feat, mod, edge, _ in EDGES}
    for family, bands in policy.bands.items():
        for metric, band in bands.items():
            for condition in (band.warning, band.critical):
                assert (family, metric, None, None, condition.value) in covered, (family, metric, condition)
    for override in policy.overrides:
        for edge in (override.band().warning.value, override.band().critical.value):
            assert ("data", override.metric, override.feature, override.model, edge) in covered, override


def test_missing_values_are_info_and_not_evaluated(policy):
    assert judge(policy, "model", "accuracy_drop", None).severity == I
    summary = model_health(model_verdicts(policy, accuracy_drop=None, prediction_distribution_shift=None,
                                          output_entropy_change=None), policy)
    assert summary.family_scores["model"] is None
    assert summary.not_evaluated == ["fairness", "data", "model", "explanation"]
    assert summary.composite == 0.0


@pytest.mark.parametrize(
    ("family", "metric", "value", "expected"),
    [
        ("data", "psi", 0.125, 0.5),  # 0.125 / 0.25
        ("data", "psi", -0.1, 0.0),  # clipped
        ("model", "accuracy_drop", 0.3, 1.0),  # past CRITICAL, clipped
        ("fairness", "disparate_impact_ratio", 0.85, 0.75),  # (1 - 0.85) / (1 - 0.80)
        ("fairness", "disparate_impact_ratio", 1.0, 0.0),
        ("explanation", "shap_rank_correlation", 0.775, 0.75),  # (1 - 0.775) / (1 - 0.70)
        ("explanation", "shap_rank_correlation", -0.5, 1.0),
        ("data", "kl", float("inf"), 1.0),
    ],
)
def test_normalised_score_by_hand(policy, family, metric, value, expected):
    assert normalised_score(value, policy.band(family, metric)) == pytest.approx(expected, abs=1e-12)


def test_composite_by_hand(policy):
    feature_table = pd.DataFrame(
        {
            "feature": ["age", "age", "sex"],
            "metric": ["psi", "ks_pvalue", "js_distance"],  # ks_pvalue has no band: ignored
            "value": [0.125, 0.001, 0.05],
            "severity": ["WARNING", "INFO", "INFO"],
        }
    )
    fairness_table = pd.DataFrame(
        {
            "attribute": ["race", "race"],
            "policy_metric": ["demographic_parity_drift", "disparate_impact_ratio"],
            "policy_value": [0.02, 0.85],
        }
    )
    verdicts = [
        *data_verdicts(feature_table, policy, model="compas"),
        *fairness_verdicts(fairness_table, policy, model="compas"),
        *model_verdicts(policy, accuracy_drop=0.2, prediction_distribution_shift=0.1, output_entropy_change=None),
        *explanation_verdicts(0.775, policy),
    ]
    summary = model_health(verdicts, policy, model="compas")
    # data: max(0.125/0.25, 0.05/0.20) = 0.5; fairness: max(0.02/0.10, 0.15/0.20) = 0.75;
    # model: min(1, 0.2/0.10) = 1; explanation: 0.225/0.30 = 0.75.
    assert summary.family_scores == pytest.approx({"fairness": 0.75, "data": 0.5, "model": 1.0, "explanation": 0.75})
    assert summary.composite == pytest.approx(0.4 * 0.75 + 0.3 * 0.5 + 0.2 * 1.0 + 0.1 * 0.75)  # 0.725
    assert summary.severity == C
    assert summary.not_evaluated == []
    assert summary.worst["fairness"].metric == "disparate_impact_ratio"
    alerts = {(a.family, a.metric): a for a in summary.alerts}
    assert set(alerts) == {
        ("data", "psi"), ("fairness", "disparate_impact_ratio"), ("model", "accuracy_drop"),
        ("explanation", "shap_rank_correlation"),
    }
    assert summary.alerts[0].severity == C  # worst first
    psi = alerts[("data", "psi")]
    assert (psi.value, psi.feature, psi.band, psi.rule) == (
        0.125, "age", "WARNING >= 0.1, CRITICAL >= 0.25", "policy.bands.data.psi"
    )
    assert "| **composite** |" in summary.markdown and "0.725" in summary.markdown


@pytest.mark.parametrize(
    ("fairness_score_value", "expected"),
    # composite = 0.4 · (1 − ratio) / 0.2: 0.30 (not above 0.30), 0.32, 0.28, 0.10
    [(0.85, W), (0.84, C), (0.86, W), (0.95, I)],
)
def test_composite_band_edges_are_strict(policy, fairness_score_value, expected):
    verdicts = [judge(policy, "fairness", "disparate_impact_ratio", fairness_score_value, feature="race")]
    summary = model_health(verdicts, policy)
    assert summary.severity == expected


def test_composite_exactly_on_an_edge_despite_float_noise(policy):
    # 0.4 · 0.75 is 0.30000000000000004 in floating point; it must not read as above 0.30.
    summary = model_health([judge(policy, "fairness", "disparate_impact_ratio", 0.85)], policy)
    assert summary.composite == 0.3
    assert summary.severity == W
    # data only: 0.3 · 0.5 = 0.15 exactly on the WARNING edge → INFO
    assert model_health([judge(policy, "data", "psi", 0.125)], policy).severity == I


def test_missing_families_contribute_zero_and_are_listed(policy):
    summary = model_health(explanation_verdicts(0.5, policy), policy)
    assert summary.family_scores["explanation"] == 1.0
    assert summary.composite == pytest.approx(0.1)
    assert summary.not_evaluated == ["fairness", "data", "model"]
    assert "Not evaluated" in summary.markdown and "not renormalised" in summary.markdown


def test_model_scoped_override_sets_the_normalisation(policy):
    verdict = judge(policy, "data", "psi", 0.10, feature="priors_count", model="compas")
    assert model_health([verdict], policy, model="compas").family_scores["data"] == pytest.approx(0.10 / 0.20)
    assert model_health([verdict], policy, model="flights").family_scores["data"] == pytest.approx(0.10 / 0.25)


def test_data_verdicts_keep_the_gated_severity(policy):
    table = pd.DataFrame({"feature": ["age"], "metric": ["psi"], "value": [0.3], "severity": ["INFO"]})
    (verdict,) = data_verdicts(table, policy)
    assert verdict.severity == I  # the drift table's gate (e.g. insignificant) decided
    assert verdict.band == "WARNING >= 0.1, CRITICAL >= 0.25"
    assert model_health([verdict], policy).family_scores["data"] == 1.0


def test_fairness_findings_inside_noise_do_not_alert_or_score():
    policy = load_policy(CONFIG)
    table = pd.DataFrame({
        "attribute": ["race", "race", "sex", "sex"],
        "policy_metric": ["demographic_parity_drift", "equal_opportunity_drift", "disparate_impact_ratio",
                          "disparate_impact_ratio"],
        "policy_value": [0.15, 0.15, 0.70, 0.70],
        "baseline_value": [0.20, 0.10, 0.75, 0.75],
        # DP: baseline 0.20 inside [0.1, 0.3] -> noise; EO: 0.10 outside [0.18, 0.4] -> real;
        # DI: upper end 0.95 is healthy -> noise; upper end 0.78 is still CRITICAL -> real.
        "ci_low": [0.10, 0.18, 0.55, 0.60],
        "ci_high": [0.30, 0.40, 0.95, 0.78],
    })
    verdicts = fairness_verdicts(table, policy, model="compas")
    assert [(v.severity.name, v.significant) for v in verdicts] == [
        ("INFO", False), ("CRITICAL", True), ("INFO", False), ("CRITICAL", True)]
    assert [v.value for v in verdicts] == [0.15, 0.15, 0.70, 0.70]  # values are reported as measured
    summary = model_health(verdicts[:1] + verdicts[2:3], policy, model="compas")
    assert summary.family_scores["fairness"] == 0.0 and summary.alerts == []
