"""Decision-stream checks (SPEC §7) against hand computations and at their policy edges."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from drift_pipeline.lib.config import DecisionStreamSettings, load_policy
from drift_pipeline.lib.decision_checks import (
    CHECKS,
    assess_decision_stream,
    category_shares,
    mean_confidence_change,
    prediction_share_change,
    top_entity_share,
    volume_ratio,
)
from drift_pipeline.lib.project import PROJECT_ROOT

SETTINGS = load_policy(Path(PROJECT_ROOT / "config")).decision_stream


def test_policy_thresholds_are_spec_defaults():
    assert SETTINGS == DecisionStreamSettings()
    assert (SETTINGS.max_category_share_change, SETTINGS.max_entity_share, SETTINGS.max_mean_confidence_change,
            SETTINGS.volume_ratio_high, SETTINGS.volume_ratio_low) == (0.20, 0.30, 0.10, 2.0, 0.3)


def test_shares_and_share_change_by_hand():
    assert category_shares([True, False, False, None]) == {"false": 0.5, "missing": 0.25, "true": 0.25}
    change, category = prediction_share_change([True, False, False, False], [True, True, False, False])
    assert (change, category) == (pytest.approx(-0.25), "false")  # tie on |0.25|: first in sorted order
    change, category = prediction_share_change(["a"] * 5, ["a"] * 2 + ["b"] * 3)
    assert (change, category) == (pytest.approx(-0.6), "a")
    assert math.isnan(prediction_share_change([], [True])[0])


def test_entity_confidence_and_volume_by_hand():
    assert top_entity_share(["u1", "u2", "u1", "u3"]) == (0.5, "u1")
    assert top_entity_share(["b", "a"]) == (0.5, "a")
    assert mean_confidence_change([0.8, 0.6, None], [0.5, float("nan"), 0.7]) == pytest.approx(-0.1)
    assert volume_ratio(40, 310, 31) == pytest.approx(4.0)
    assert volume_ratio(0, 310, 31) == 0.0
    assert math.isinf(volume_ratio(3, 0, 31)) and math.isnan(volume_ratio(0, 0, 31))
    with pytest.raises(ValueError):
        volume_ratio(1, 1, 0)


def _assess(window_predictions, window_entities=None, window_confidences=None, day_count=10, reference=None):
    reference = reference or [False] * 80 + [True] * 20
    return {f.check: f for f in assess_decision_stream(
        reference_predictions=reference, reference_confidences=[0.8] * len(reference), reference_days=10,
        window_predictions=window_predictions,
        window_confidences=window_confidences or [0.8] * len(window_predictions),
        window_entities=window_entities or [f"user:{i % 10}" for i in range(len(window_predictions))],
        day_count=day_count, settings=SETTINGS)}


def test_a_stable_stream_passes_every_check():
    findings = _assess([False] * 80 + [True] * 20)
    assert list(findings) == list(CHECKS)
    assert all(f.status == "ok" and f.passed for f in findings.values())


@pytest.mark.parametrize(("true_share", "status"), [(0.40, "ok"), (0.41, "breach"), (0.0, "ok")])
def test_share_change_edge(true_share, status):
    n_true = round(true_share * 100)
    findings = _assess([False] * (100 - n_true) + [True] * n_true)
    assert findings["prediction_share_change"].status == status  # reference share 0.20, limit 0.20


def test_entity_concentration_edge():
    window = [False] * 100
    assert _assess(window, ["a"] * 30 + [f"u{i}" for i in range(70)])["top_entity_share"].status == "ok"
    breach = _assess(window, ["a"] * 31 + [f"u{i}" for i in range(69)])["top_entity_share"]
    assert breach.status == "breach" and "a took 31%" in breach.detail


def test_confidence_change_and_volume():
    window = [False] * 80 + [True] * 20
    assert _assess(window, window_confidences=[0.69] * 100)["mean_confidence_change"].status == "breach"
    assert _assess(window, window_confidences=[0.71] * 100)["mean_confidence_change"].status == "ok"
    assert _assess(window, day_count=21)["volume_ratio"].status == "breach"   # 2.1x the mean of 10 a day
    assert _assess(window, day_count=20)["volume_ratio"].status == "ok"
    assert _assess(window, day_count=2)["volume_ratio"].status == "breach"    # 0.2x
    assert _assess(window, day_count=0)["volume_ratio"].value == 0.0


def test_small_windows_give_no_verdict_except_volume():
    findings = _assess([True] * 29, day_count=29)
    assert [findings[c].status for c in CHECKS] == ["insufficient_data"] * 3 + ["breach"]
