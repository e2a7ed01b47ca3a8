"""Drift injected into one signal family raises that family, and only that family.

A seeded synthetic model (scores from two numeric features and a category, a protected
group independent of everything) is evaluated family by family with the same library
calls the assets make, then judged by the real policy and composed by ``model_health``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from drift_pipeline.lib.config import load_policy
from drift_pipeline.lib.drift import assess_feature_drift, feature_drift
from drift_pipeline.lib.explain import explain_reference
from drift_pipeline.lib.fairness import fairness_drift, fairness_report
from drift_pipeline.lib.health import (
    data_verdicts,
    explanation_verdicts,
    fairness_verdicts,
    model_health,
    model_verdicts,
)
from drift_pipeline.lib.performance import (
    accuracy_drop,
    model_performance,
    output_entropy_change,
    prediction_distribution_shift,
)
from drift_pipeline.lib.profile import ReferenceProfile
from drift_pipeline.lib.project import PROJECT_ROOT

POLICY = load_policy(PROJECT_ROOT / "config")
FEATURES = {"x1": "numeric", "x2": "numeric", "segment": "categorical", "noise": "numeric"}
MONITORED = {**FEATURES, "group": "categorical"}
N = 4000


def _frame(seed: int, *, concept_flip: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2, noise = rng.normal(size=N), rng.normal(size=N), rng.normal(size=N)
    segment = rng.choice(["a", "b"], size=N)
    score = 1 / (1 + np.exp(-(1.5 * x1 + 0.6 * x2 + 0.3 * (segment == "b"))))
    truth = -score if concept_flip else score  # a changed concept: P(y | x) reversed, P(x) unchanged
    label = rng.random(N) < 1 / (1 + np.exp(-8 * (truth - truth.mean())))
    return pd.DataFrame({"x1": x1, "x2": x2, "segment": segment, "noise": noise,
                         "group": rng.choice(["A", "B"], size=N), "score": score,
                         "prediction": score >= 0.5, "label": label})


@pytest.fixture(scope="module")
def baseline():
    reference = _frame(1)
    profile = ReferenceProfile.build(reference, MONITORED, POLICY.data_drift)
    explainer = explain_reference(None, reference, features=FEATURES, score_column="score", sample_size=400,
                                  seed=POLICY.data_drift.seed)
    fairness = _fairness(reference)
    return reference, profile, explainer, fairness


def _fairness(frame: pd.DataFrame) -> pd.DataFrame:
    return fairness_report(frame, protected=["group"], label="label", prediction="prediction", min_group_size=30,
                           n_resamples=POLICY.data_drift.bootstrap_resamples, seed=POLICY.data_drift.seed)


def _family_severity(baseline, batch: pd.DataFrame) -> dict[str, str]:
    reference, profile, explainer, base_fairness = baseline
    table = assess_feature_drift(feature_drift(profile, batch[list(MONITORED)], POLICY.data_drift), POLICY)
    ref_perf = model_performance(reference["label"], reference["score"], reference["prediction"])
    cur_perf = model_performance(batch["label"], batch["score"], batch["prediction"])
    verdicts = (
        data_verdicts(table, POLICY)
        + model_verdicts(
            POLICY,
            accuracy_drop=accuracy_drop(ref_perf["accuracy"], cur_perf["accuracy"]),
            prediction_distribution_shift=prediction_distribution_shift(reference["prediction"], batch["prediction"]),
            output_entropy_change=output_entropy_change(reference["prediction"], batch["prediction"]),
        )
        + fairness_verdicts(fairness_drift(_fairness(batch), base_fairness), POLICY)
        + explanation_verdicts(explainer.compare(batch, sample_size=400).spearman, POLICY)
    )
    summary = model_health(verdicts, POLICY)
    worst = {family: "INFO" for family in ("data", "model", "fairness", "explanation")}
    for verdict in verdicts:
        if verdict.severity.name != "INFO" and worst[verdict.family] != "CRITICAL":
            worst[verdict.family] = verdict.severity.name
    return {**worst, "composite": summary.severity.name}


def test_no_injection_raises_nothing(baseline):
    assert _family_severity(baseline, _frame(2)) == {
        "data": "INFO", "model": "INFO", "fairness": "INFO", "explanation": "INFO", "composite": "INFO"}


def test_data_drift_only_raises_data(baseline):
    batch = _frame(3)
    batch["noise"] = batch["noise"] + 1.0  # a 1 sigma shift of an input the model ignores
    severities = _family_severity(baseline, batch)
    assert severities["data"] == "CRITICAL"
    assert (severities["model"], severities["fairness"], severities["explanation"]) == ("INFO", "INFO", "INFO")


def test_concept_drift_only_raises_model(baseline):
    severities = _family_severity(baseline, _frame(4, concept_flip=True))
    assert severities["model"] == "CRITICAL"  # accuracy collapses; inputs and decisions unchanged
    assert (severities["data"], severities["fairness"], severities["explanation"]) == ("INFO", "INFO", "INFO")


def test_fairness_drift_only_raises_fairness(baseline):
    batch = _frame(5)
    favoured = (batch["group"] == "A") & (batch["score"] >= 0.4)
    disfavoured = (batch["group"] == "B") & (batch["score"] >= 0.6)
    batch["prediction"] = favoured | disfavoured  # group B now needs a higher score
    severities = _family_severity(baseline, batch)
    assert severities["fairness"] == "CRITICAL"
    assert (severities["data"], severities["model"], severities["explanation"]) == ("INFO", "INFO", "INFO")
    assert severities["composite"] == "CRITICAL"  # fairness weighs 0.4: a CRITICAL fairness family alone is enough


def test_explanation_drift_raises_explanation(baseline):
    # Under a fixed model, importances move only when the inputs do: x1 nearly constant and a
    # wide x2 swap their roles. The data family necessarily fires too; model and fairness do not.
    batch = _frame(6)
    batch["x1"] = batch["x1"] * 0.05
    batch["x2"] = batch["x2"] * 3.0
    severities = _family_severity(baseline, batch)
    assert severities["explanation"] in {"WARNING", "CRITICAL"}
    assert severities["data"] == "CRITICAL"
