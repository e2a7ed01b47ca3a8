"""Map metric values to INFO / WARNING / CRITICAL with the bands of ``config/policy.yaml``.

Score and decision stay separate: metric functions compute numbers, this module decides.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import IntEnum

from drift_pipeline.lib.config import Band, Policy


class Severity(IntEnum):
    """Ordered severities: ``max()`` of a list gives the worst."""

    INFO = 0
    WARNING = 1
    CRITICAL = 2

    def __str__(self) -> str:
        return self.name


def classify(value: float | None, band: Band) -> Severity:
    """Severity of ``value`` under ``band``; a missing or non-finite value is INFO.

    CRITICAL is tested first, so a value meeting both conditions is CRITICAL.
    """
    if value is None or not math.isfinite(float(value)):
        return Severity.INFO
    if band.critical.holds(float(value)):
        return Severity.CRITICAL
    if band.warning.holds(float(value)):
        return Severity.WARNING
    return Severity.INFO


def band_text(band: Band) -> str:
    """Human-readable band, e.g. ``WARNING >= 0.1, CRITICAL >= 0.25``."""
    return f"WARNING {band.warning}, CRITICAL {band.critical}"


@dataclass(frozen=True)
class Verdict:
    """One metric's verdict: what was measured, against which band, and which rule applied."""

    family: str
    metric: str
    value: float | None
    severity: Severity
    band: str
    rule: str
    feature: str | None = None
    # False when the value is not distinguishable from sampling noise (a test or a confidence
    # interval says so): it is then reported but neither alerts nor counts in the composite.
    significant: bool = True


def judge(
    policy: Policy,
    family: str,
    metric: str,
    value: float | None,
    *,
    feature: str | None = None,
    model: str | None = None,
) -> Verdict:
    """Classify one metric value with the band that applies (per-feature overrides included)."""
    band = policy.band(family, metric, feature=feature, model=model)
    return Verdict(
        family=family,
        metric=metric,
        value=None if value is None else float(value),
        severity=classify(value, band),
        band=band_text(band),
        rule=policy.rule_name(family, metric, feature=feature, model=model),
        feature=feature,
    )


def due_on(cadence: str, day: dt.date) -> bool:
    """Whether a family with this cadence is evaluated on ``day`` (SPEC §5).

    weekly = Sundays, biweekly = Sundays of even ISO weeks, monthly = the 1st of the month.
    """
    if cadence == "daily":
        return True
    if cadence == "weekly":
        return day.weekday() == 6
    if cadence == "biweekly":
        return day.weekday() == 6 and day.isocalendar().week % 2 == 0
    if cadence == "monthly":
        return day.day == 1
    raise ValueError(f"unknown cadence {cadence!r} (daily, weekly, biweekly or monthly)")
