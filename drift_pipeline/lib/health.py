"""The composite model-health score (SPEC §4).

Every metric is first judged on its own band (:func:`drift_pipeline.lib.policy.judge`);
those verdicts are the alerts. The composite then summarises a model's state in one
number:

- **family score** in [0, 1] = the family's worst metric relative to its CRITICAL
  threshold ``c``: ``value / c`` for higher-is-worse metrics (PSI, drifts, accuracy drop…),
  ``(1 − value) / (1 − c)`` for lower-is-worse metrics (disparate impact ratio, SHAP rank
  correlation, where 1 is the ideal), clipped to [0, 1]. So 0 = ideal, 1 = at or past
  CRITICAL, and a metric exactly on its CRITICAL threshold scores 1 whatever the units;
- **composite** = Σ weight · family score with ``policy.composite.weights`` (they sum to 1);
  CRITICAL when it is above ``critical_above``, WARNING above ``warning_above``.

A verdict marked not ``significant`` (its drift is inside sampling noise: the data-drift
test after correction, or a fairness metric whose bootstrap interval contains its baseline)
scores 0 and raises no alert, but is still shown with its value.

A family with no evaluated metric today (explanation drift not scheduled, labels
pending, …) contributes 0 and is listed as *not evaluated*; the weights are **not**
renormalised over the evaluated families. The composite is therefore a lower bound on a
day with missing families — stated in the summary so nobody reads a 0 as "healthy" — and
it never jumps because a family was skipped. Alerts from individual metrics are raised
regardless of the composite.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from drift_pipeline.lib.config import Band, Policy
from drift_pipeline.lib.policy import Severity, Verdict, judge

__all__ = [
    "HealthSummary",
    "data_verdicts",
    "explanation_verdicts",
    "fairness_verdicts",
    "model_health",
    "model_verdicts",
    "normalised_score",
]

# The composite is compared with its band edges after rounding to this many decimals, so
# float noise (0.4 · 0.75 = 0.30000000000000004) never moves a model across an edge.
_COMPOSITE_DECIMALS = 12


def normalised_score(value: float | None, band: Band) -> float | None:
    """``value`` relative to the band's CRITICAL threshold, clipped to [0, 1]; ``None`` if missing.

    Higher-is-worse: ``value / critical``; lower-is-worse: ``(1 − value) / (1 − critical)``.
    An infinite value on the bad side (e.g. a KL divergence with an empty bin) scores 1.
    """
    if _is_missing(value):
        return None
    critical = band.critical.value
    if band.higher_is_worse:
        raw = float(value) / critical if critical != 0 else (1.0 if value > 0 else 0.0)
    else:
        raw = (1.0 - float(value)) / (1.0 - critical) if critical != 1 else (1.0 if value < 1 else 0.0)
    return min(1.0, max(0.0, raw))


@dataclass(frozen=True)
class HealthSummary:
    """One model's health on one partition."""

    family_scores: dict[str, float | None]  # None = not evaluated
    worst: dict[str, Verdict | None]  # the verdict that set each family's score
    composite: float
    severity: Severity
    not_evaluated: list[str]
    alerts: list[Verdict]  # every WARNING / CRITICAL verdict, worst first
    markdown: str


def model_health(verdicts: list[Verdict], policy: Policy, *, model: str | None = None) -> HealthSummary:
    """Family scores, composite score and severity, alerts and a markdown summary.

    ``model`` selects model-scoped per-feature overrides when a verdict's band is looked
    up again for its CRITICAL threshold (the same band :func:`judge` used).
    """
    weights = policy.composite.weights
    scores: dict[str, float | None] = {family: None for family in weights}
    worst: dict[str, Verdict | None] = {family: None for family in weights}
    for verdict in verdicts:
        if verdict.family not in weights:
            continue
        band = policy.band(verdict.family, verdict.metric, feature=verdict.feature, model=model)
        score = normalised_score(verdict.value, band)
        if score is not None and not verdict.significant:
            score = 0.0
        if score is None:
            continue
        best = scores[verdict.family]
        if best is None or score > best:
            scores[verdict.family], worst[verdict.family] = score, verdict
    composite = round(sum(weights[f] * (s or 0.0) for f, s in scores.items()), _COMPOSITE_DECIMALS)
    if composite > policy.composite.critical_above:
        severity = Severity.CRITICAL
    elif composite > policy.composite.warning_above:
        severity = Severity.WARNING
    else:
        severity = Severity.INFO
    not_evaluated = [f for f, s in scores.items() if s is None]
    alerts = sorted((v for v in verdicts if v.severity >= Severity.WARNING), key=lambda v: -v.severity)
    markdown = _markdown(scores, worst, weights, composite, severity, not_evaluated, alerts, policy)
    return HealthSummary(scores, worst, composite, severity, not_evaluated, alerts, markdown)


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _markdown(scores, worst, weights, composite, severity, not_evaluated, alerts, policy: Policy) -> str:
    lines = [
        "| family | weight | score | weighted | worst metric | value | severity |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for family, score in scores.items():
        verdict = worst[family]
        if verdict is None:
            lines.append(f"| {family} | {weights[family]:g} | not evaluated | 0 | — | — | — |")
            continue
        metric = verdict.metric + (f" ({verdict.feature})" if verdict.feature else "")
        lines.append(
            f"| {family} | {weights[family]:g} | {score:.3f} | {weights[family] * score:.3f} | "
            f"{metric} | {_fmt(verdict.value)} | {verdict.severity} |"
        )
    lines.append(
        f"| **composite** | 1 | | **{composite:.3f}** | WARNING > {policy.composite.warning_above:g}, "
        f"CRITICAL > {policy.composite.critical_above:g} | | **{severity}** |"
    )
    if not_evaluated:
        lines += ["", f"Not evaluated (contribute 0, weights not renormalised): {', '.join(not_evaluated)}."]
    if alerts:
        lines += ["", "| severity | metric | feature | value | band | rule |", "|---|---|---|---:|---|---|"]
        lines += [
            f"| {a.severity} | {a.family}.{a.metric} | {a.feature or ''} | {_fmt(a.value)} | {a.band} | {a.rule} |"
            for a in alerts
        ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- verdict builders


def model_verdicts(
    policy: Policy,
    *,
    accuracy_drop: float | None,
    prediction_distribution_shift: float | None,
    output_entropy_change: float | None,
    model: str | None = None,
) -> list[Verdict]:
    """Verdicts of the model-drift family (``None`` = not evaluated, e.g. labels pending)."""
    values = {
        "accuracy_drop": accuracy_drop,
        "prediction_distribution_shift": prediction_distribution_shift,
        "output_entropy_change": output_entropy_change,
    }
    return [judge(policy, "model", metric, value, model=model) for metric, value in values.items()]


def fairness_verdicts(drift_table: pd.DataFrame, policy: Policy, *, model: str | None = None) -> list[Verdict]:
    """Verdicts from :func:`drift_pipeline.lib.fairness.fairness_drift` (one per attribute × metric).

    The protected attribute is recorded as the verdict's ``feature``. When the table carries
    bootstrap intervals (``ci_low``, ``ci_high``), a finding must be distinguishable from
    noise to alert: a drift only when the baseline value lies outside the current interval,
    and the disparate impact ratio is judged on the interval's upper end (the most
    favourable plausible value). Otherwise the verdict is kept, INFO and not significant.
    """
    verdicts = []
    for _, row in drift_table.iterrows():
        verdict = judge(policy, "fairness", row["policy_metric"], _none_if_missing(row["policy_value"]),
                        feature=row["attribute"], model=model)
        low, high = (_none_if_missing(row.get(c)) for c in ("ci_low", "ci_high"))
        if verdict.severity > Severity.INFO and low is not None and high is not None:
            if row["policy_metric"] == "disparate_impact_ratio":
                plausible = judge(policy, "fairness", "disparate_impact_ratio", high, feature=row["attribute"],
                                  model=model).severity
                significant = plausible > Severity.INFO
                severity = min(verdict.severity, plausible)
            else:
                baseline = _none_if_missing(row.get("baseline_value"))
                significant = baseline is None or not (low <= baseline <= high)
                severity = verdict.severity if significant else Severity.INFO
            verdict = dataclasses.replace(verdict, severity=severity, significant=significant)
        verdicts.append(verdict)
    return verdicts


def explanation_verdicts(spearman: float | None, policy: Policy, *, model: str | None = None) -> list[Verdict]:
    """The explanation-drift verdict (``None`` when not computed today)."""
    return [judge(policy, "explanation", "shap_rank_correlation", spearman, model=model)]


def data_verdicts(feature_table: pd.DataFrame, policy: Policy, *, model: str | None = None) -> list[Verdict]:
    """Verdicts from the per-feature drift table (columns ``feature, metric, value, severity``).

    Only metrics with a band in ``policy.bands.data`` count. The table's own ``severity`` is
    kept, since it already applies the significance test, the effect-size gate and the
    minimum sample size; :func:`judge` supplies the band and rule text (per-feature
    overrides included).
    """
    banded = policy.bands.get("data", {})
    verdicts = []
    for _, row in feature_table.iterrows():
        if row["metric"] not in banded:
            continue
        verdict = judge(policy, "data", row["metric"], _none_if_missing(row["value"]), feature=row["feature"],
                        model=model)
        if "severity" in feature_table.columns and not _is_missing(row["severity"]):
            severity = row["severity"]
            verdict = dataclasses.replace(
                verdict, severity=Severity[severity] if isinstance(severity, str) else Severity(int(severity))
            )
        if "significant" in feature_table.columns and not _is_missing(row["significant"]):
            verdict = dataclasses.replace(verdict, significant=bool(row["significant"]))
        verdicts.append(verdict)
    return verdicts


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _none_if_missing(value: Any) -> float | None:
    return None if _is_missing(value) else float(value)
