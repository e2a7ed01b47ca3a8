"""History plots: the data behind each plot from fixed stored results, and byte-identical PNGs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drift_pipeline.lib import plots
from drift_pipeline.lib.config import load_model_configs, load_policy
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline.lib.results import ResultStore

CONFIGS = load_model_configs(PROJECT_ROOT / "config")
POLICY = load_policy(PROJECT_ROOT / "config")
COMPAS = CONFIGS["compas"]
DAYS = ("2013-06-01", "2013-06-02", "2013-06-03")  # the middle day is blocked by validation


def _groups(n_black: int, sr_black: float, tp: int, fn: int) -> list[dict]:
    return [
        {"attribute": "race", "group": "African-American", "n": n_black, "selection_rate": sr_black, "tp": tp,
         "fn": fn, "tpr": tp / (tp + fn), "included": True},
        {"attribute": "race", "group": "Caucasian", "n": 100, "selection_rate": 0.25, "tp": 10, "fn": 10,
         "tpr": 0.5, "included": True},
        {"attribute": "race", "group": "Asian", "n": 3, "selection_rate": 0.0, "tp": 0, "fn": 1, "tpr": 0.0,
         "included": False},
    ]


def _fairness(value: float, low: float, high: float, baseline: float) -> list[dict]:
    return [{"attribute": "race", "metric": "disparate_impact_ratio", "value": value, "ci_low": low,
             "ci_high": high, "baseline_value": baseline, "drift": abs(value - baseline),
             "policy_metric": "disparate_impact_ratio", "policy_value": value}]


def write_history(store: ResultStore, model: str = "compas") -> None:
    """Three partitions of fixed results: an INFO day, a day blocked by validation, a CRITICAL day."""
    first, blocked, last = DAYS
    store.write_frame(model, "feature_drift", first, pd.DataFrame({
        "feature": ["age", "priors_count"], "type": ["numeric", "numeric"], "psi": [0.02, 0.12],
        "severity": ["INFO", "WARNING"], "metric": ["psi", "psi"], "value": [0.02, 0.12],
        "ks_statistic": [0.05, 0.2], "p_adjusted": [0.9, 0.01]}))
    store.write_frame(model, "feature_drift", last, pd.DataFrame({
        "feature": ["age", "priors_count"], "type": ["numeric", "numeric"], "psi": [0.31, 0.05],
        "severity": ["CRITICAL", "INFO"], "metric": ["psi", "psi"], "value": [0.31, 0.05],
        "ks_statistic": [0.3, 0.04], "p_adjusted": [0.001, 1.0]}))
    for key in (first, last):
        store.write_json(model, "feature_drift", key, {"status": "ok", "baseline_version": "2013-03-31-v1"})
        store.write_json(model, "fairness_metrics", key, {
            "status": "ok", "drift": _fairness(0.9, 0.7, 1.0, 0.95) if key == first else _fairness(0.6, 0.45, 0.78, 0.95),
            "groups": _groups(200, 0.5, 30, 10) if key == first else _groups(150, 0.4, 12, 8)})
    store.write_json(model, "feature_drift", blocked, {"status": "blocked", "reason": "row count 0 < 50"})
    store.write_json(model, "fairness_metrics", blocked, {"status": "blocked"})
    health = {first: {"status": "ok", "severity": "INFO", "composite": 0.1,
                      "family_scores": {"data": 0.2, "fairness": 0.1, "model": 0.0, "explanation": None},
                      "family_severity": {"data": "WARNING", "fairness": "INFO", "model": "INFO",
                                          "explanation": "INFO"},
                      "verdicts": [{"family": "data", "metric": "psi", "feature": "age", "severity": "INFO"},
                                   {"family": "data", "metric": "psi", "feature": "priors_count",
                                    "severity": "WARNING"}]},
              blocked: {"status": "blocked", "severity": "CRITICAL", "reason": "row count 0 < 50"},
              last: {"status": "ok", "severity": "CRITICAL", "composite": 0.35,
                     "family_scores": {"data": 1.0, "fairness": 0.5, "model": 0.2, "explanation": 0.1},
                     "family_severity": {"data": "CRITICAL", "fairness": "WARNING", "model": "INFO",
                                         "explanation": "INFO"},
                     "verdicts": [{"family": "data", "metric": "psi", "feature": "age", "severity": "CRITICAL"},
                                  {"family": "data", "metric": "psi", "feature": "priors_count", "severity": "INFO"},
                                  {"family": "fairness", "metric": "disparate_impact_ratio", "feature": "race",
                                   "severity": "WARNING"}]}}
    performance = {first: {"status": "ok", "accuracy": 0.66, "baseline_accuracy": 0.64, "accuracy_drop": -0.02,
                           "prediction_distribution_shift": 0.05, "output_entropy_change": 0.01},
                   blocked: {"status": "blocked"},
                   last: {"status": "ok", "accuracy": 0.57, "baseline_accuracy": 0.64, "accuracy_drop": 0.07,
                          "prediction_distribution_shift": 0.45, "output_entropy_change": 0.3}}
    alerts = {first: [{"family": "data", "metric": "psi", "feature": "priors_count", "severity": "WARNING",
                       "value": 0.12}],
              blocked: [],
              last: [{"family": "data", "metric": "psi", "feature": "age", "severity": "CRITICAL", "value": 0.31},
                     {"family": "fairness", "metric": "disparate_impact_ratio", "feature": "race",
                      "severity": "WARNING", "value": 0.6},
                     {"family": "composite", "metric": "composite_score", "feature": None, "severity": "CRITICAL",
                      "value": 0.35}]}
    for key in DAYS:
        store.write_json(model, "model_health", key, health[key])
        store.write_json(model, "model_performance", key, performance[key])
        store.write_json(model, "production_batch", key, {"data_fingerprint": f"fp-{key}", "rows": 300})
        store.write_json(model, "drift_alerts", key, {
            "status": health[key]["status"], "alerts": alerts[key], "validation_alert_ids": [7] if key == blocked else [],
            "baseline_version": "2013-03-31-v1", "config_hash": "cafe", "run_id": f"run-{key}"})
    store.write_json(model, "explanation_drift", first, {"status": "not_scheduled", "cadence": "weekly"})
    store.write_json(model, "explanation_drift", blocked, {"status": "blocked"})
    store.write_json(model, "explanation_drift", last, {"status": "ok", "spearman": 0.8, "importance": [
        {"feature": "age", "reference_mean_abs_shap": 1.0, "current_mean_abs_shap": 1.4},
        {"feature": "priors_count", "reference_mean_abs_shap": 1.2, "current_mean_abs_shap": 0.9}]})


@pytest.fixture
def store(tmp_path) -> ResultStore:
    store = ResultStore(tmp_path / "results")
    write_history(store)
    return store


def test_stored_partitions_ignore_unpartitioned_and_temporary_files(store):
    store.write_json("compas", "drift_alerts", None, {})
    (store.root / "compas" / "drift_alerts" / ".2013-06-04.json.1.tmp").write_text("{}")
    assert plots.stored_partitions(store, "compas", "drift_alerts") == list(DAYS)
    assert plots.stored_partitions(store, "compas", "never_materialised") == []


def test_heatmap_data_is_psi_and_severity_per_feature_and_day(store):
    data = plots.feature_drift_history(store, "compas")
    assert list(data["partition"]) == ["2013-06-01", "2013-06-01", "2013-06-02", "2013-06-02",
                                       "2013-06-03", "2013-06-03"]
    assert list(data["feature"]) == ["age", "priors_count"] * 3
    assert list(data["severity"]) == ["INFO", "WARNING", "BLOCKED", "BLOCKED", "CRITICAL", "INFO"]
    np.testing.assert_allclose(data["psi"], [0.02, 0.12, np.nan, np.nan, 0.31, 0.05])


def test_metric_trend_data_is_judged_by_the_policy_bands(store):
    data = plots.metric_history(store, "compas", POLICY).set_index(["partition", "metric"])
    assert data.loc[("2013-06-01", "composite_score"), "severity"] == "INFO"
    assert data.loc[("2013-06-03", "composite_score"), "severity"] == "CRITICAL"  # 0.35 > 0.30
    assert data.loc[("2013-06-03", "accuracy_drop"), "severity"] == "WARNING"  # 0.07 in (0.05, 0.10]
    assert data.loc[("2013-06-03", "prediction_distribution_shift"), "severity"] == "CRITICAL"  # 0.45 > 0.40
    assert data.loc[("2013-06-03", "output_entropy_change"), "severity"] == "WARNING"
    assert np.isnan(data.loc[("2013-06-02", "composite_score"), "value"])  # blocked: no composite
    assert data.loc[("2013-06-02", "composite_score"), "severity"] == "INFO"
    band = plots.metric_bands(POLICY)["composite_score"]
    assert (band.warning.value, band.critical.value) == (0.15, 0.30)


def test_wilson_interval_matches_statsmodels():
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    successes, n = np.array([0, 3, 50, 99, 7]), np.array([10, 10, 100, 100, 7])
    low, high = plots.wilson_interval(successes, n)
    ref_low, ref_high = proportion.proportion_confint(successes, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(low, ref_low, atol=1e-12)
    np.testing.assert_allclose(high, ref_high, atol=1e-12)
    assert np.isnan(plots.wilson_interval(np.array([0]), np.array([0]))[0]).all()


def test_fairness_data_has_group_rates_with_intervals_and_the_ratio(store):
    data = plots.fairness_history(store, "compas")
    assert set(data["partition"]) == {"2013-06-01", "2013-06-03"}
    assert "Asian" not in set(data["series"])  # below the minimum group size, as in the metrics
    ratio = data[(data["panel"] == "disparate_impact_ratio") & (data["partition"] == "2013-06-03")].iloc[0]
    assert (ratio["value"], ratio["ci_low"], ratio["ci_high"]) == (0.6, 0.45, 0.78)
    rate = data[(data["panel"] == "selection_rate") & (data["series"] == "African-American")
                & (data["partition"] == "2013-06-01")].iloc[0]
    low, high = plots.wilson_interval(np.array([100]), np.array([200]))
    assert (rate["value"], rate["n"]) == (0.5, 200)
    assert rate["ci_low"] == pytest.approx(low[0]) and rate["ci_high"] == pytest.approx(high[0])
    tpr = data[(data["panel"] == "tpr") & (data["series"] == "African-American")
               & (data["partition"] == "2013-06-03")].iloc[0]
    assert (tpr["value"], tpr["n"]) == (0.6, 20)  # 12 of 12 + 8 labelled positives


def test_shap_data_only_from_explained_partitions(store):
    data = plots.shap_history(store, "compas")
    assert list(data["partition"]) == ["2013-06-03", "2013-06-03"]
    assert list(data["current_mean_abs_shap"]) == [1.4, 0.9] and set(data["spearman"]) == {0.8}


def test_alert_timeline_data_counts_validation_alerts_as_critical(store):
    data = plots.alert_history(store, "compas")
    counts = data.groupby(["partition", "severity"]).size().to_dict()
    assert counts == {("2013-06-01", "WARNING"): 1, ("2013-06-02", "CRITICAL"): 1,
                      ("2013-06-03", "CRITICAL"): 2, ("2013-06-03", "WARNING"): 1}
    assert set(data.loc[data["partition"] == "2013-06-02", "family"]) == {"validation"}


@pytest.mark.parametrize("name", list(plots.PLOTS))
def test_each_plot_renders_identical_png_bytes_and_writes_its_data(store, tmp_path, name):
    kind = plots.PLOTS[name]
    first = plots.write_plot(kind, store, COMPAS, POLICY, tmp_path / "reports")
    second = plots.write_plot(kind, store, COMPAS, POLICY, tmp_path / "reports2")
    assert first.png.startswith(b"\x89PNG\r\n\x1a\n") and b"Software" not in first.png
    assert first.png == second.png and first.png_path.read_bytes() == first.png
    assert first.png_path == tmp_path / "reports" / "compas" / "plots" / f"{name}.png"
    written = pd.read_csv(first.csv_path)
    assert len(written) == len(first.data) and list(written.columns) == list(first.data.columns)
    assert first.partitions == first.data["partition"].nunique() > 0


@pytest.mark.parametrize("name", list(plots.PLOTS))
def test_each_plot_renders_with_no_stored_partitions(tmp_path, name):
    rendered = plots.write_plot(plots.PLOTS[name], ResultStore(tmp_path / "empty"), COMPAS, POLICY, tmp_path)
    assert rendered.png.startswith(b"\x89PNG") and rendered.data.empty and rendered.partitions == 0


def test_fairness_plot_only_for_models_with_protected_attributes():
    assert "fairness_over_time" in [p.name for p in plots.plots_for(COMPAS)]
    assert "fairness_over_time" not in [p.name for p in plots.plots_for(CONFIGS["flights"])]
