"""Decision-stream checks (SPEC §7): a window of decisions versus the reference window.

Four checks per model and day, thresholds in ``policy.yaml`` ``decision_stream``:

- ``prediction_share_change``: the largest absolute change, over prediction categories, of
  a category's share of decisions (current window vs reference); breach above 0.20.
- ``top_entity_share``: the largest share of the current window's decisions taken by one
  actor (user / service / tenant); breach above 0.30.
- ``mean_confidence_change``: current minus reference mean confidence; breach when its
  absolute value exceeds 0.10.
- ``volume_ratio``: the day's number of decisions over the reference's mean daily number;
  breach above 2 or below 0.3.

The first three need ``min_decisions`` in the window (and the reference), else they report
``insufficient_data``; the volume ratio always has a verdict (a day with no decisions is
exactly what it must catch). Functions compute; :func:`assess_decision_stream` decides.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

CHECKS = ("prediction_share_change", "top_entity_share", "mean_confidence_change", "volume_ratio")


def _category(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    return str(value)


def category_shares(predictions: Iterable[Any]) -> dict[str, float]:
    """Share of each prediction category (``True`` -> ``"true"``, missing -> ``"missing"``).

    Parameters
    ----------
    predictions : iterable

    Returns
    -------
    dict
        category -> share, sorted by category; empty for no predictions.
    """
    counts = Counter(_category(v) for v in predictions)
    total = sum(counts.values())
    return {k: counts[k] / total for k in sorted(counts)} if total else {}


def prediction_share_change(reference: Iterable[Any], current: Iterable[Any]) -> tuple[float, str | None]:
    """Largest signed change of one category's share, current minus reference.

    Parameters
    ----------
    reference, current : iterable of predictions

    Returns
    -------
    (float, str or None)
        The change of the category whose share moved most in absolute value (ties: the
        first category in sorted order) and that category; ``(nan, None)`` if a side is empty.
    """
    ref, cur = category_shares(reference), category_shares(current)
    if not ref or not cur:
        return math.nan, None
    changes = {k: cur.get(k, 0.0) - ref.get(k, 0.0) for k in sorted(set(ref) | set(cur))}
    category = max(changes, key=lambda k: (abs(changes[k]), -sorted(changes).index(k)))
    return changes[category], category


def top_entity_share(entities: Iterable[Any]) -> tuple[float, str | None]:
    """Share of decisions taken by the most frequent entity (ties: the first in sorted order).

    Returns
    -------
    (float, str or None)
        ``(nan, None)`` for no decisions.
    """
    counts = Counter(str(e) for e in entities)
    total = sum(counts.values())
    if not total:
        return math.nan, None
    entity = min(counts, key=lambda e: (-counts[e], e))
    return counts[entity] / total, entity


def mean_confidence_change(reference: Iterable[float | None], current: Iterable[float | None]) -> float:
    """Mean confidence of ``current`` minus that of ``reference``, ignoring missing values.

    Returns
    -------
    float
        ``nan`` if either side has no finite confidence.
    """

    def mean(values: Iterable[float | None]) -> float:
        finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
        return sum(finite) / len(finite) if finite else math.nan

    return mean(current) - mean(reference)


def volume_ratio(day_count: int, reference_count: int, reference_days: int) -> float:
    """The day's decisions over the reference's mean decisions per day.

    Returns
    -------
    float
        ``inf`` when the reference is empty but the day is not, ``nan`` when both are.
    """
    if reference_days < 1:
        raise ValueError(f"reference_days must be at least 1, got {reference_days}")
    baseline = reference_count / reference_days
    if baseline == 0:
        return math.inf if day_count else math.nan
    return day_count / baseline


@dataclass(frozen=True)
class StreamFinding:
    """One check's verdict: ``status`` is ``ok``, ``breach`` or ``insufficient_data``."""

    check: str
    value: float | None
    threshold: str
    status: str
    detail: str

    @property
    def passed(self) -> bool:
        return self.status != "breach"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _above(value: float, limit: float) -> bool:
    """``value > limit`` on values rounded to 12 decimals: 0.40 - 0.20 is 0.2, not a breach of 0.2."""
    return round(value, 12) > limit


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def assess_decision_stream(
    *,
    reference_predictions: Sequence[Any],
    reference_confidences: Sequence[float | None],
    reference_days: int,
    window_predictions: Sequence[Any],
    window_confidences: Sequence[float | None],
    window_entities: Sequence[Any],
    day_count: int,
    settings: Any,
) -> list[StreamFinding]:
    """The four SPEC §7 checks for one day, judged against ``policy.decision_stream``.

    Parameters
    ----------
    reference_predictions, reference_confidences : sequences
        The model's reference window.
    reference_days : int
        Days in the reference window (for the mean daily volume).
    window_predictions, window_confidences, window_entities : sequences
        The partition's (trailing) window.
    day_count : int
        Decisions on the partition day itself.
    settings : DecisionStreamSettings

    Returns
    -------
    list of StreamFinding
        In :data:`CHECKS` order.
    """
    enough = len(window_predictions) >= settings.min_decisions and len(reference_predictions) >= settings.min_decisions
    short = (f"{len(window_predictions)} decisions in the window, {len(reference_predictions)} in the reference "
             f"(need {settings.min_decisions})")
    findings = []

    change, category = prediction_share_change(reference_predictions, window_predictions)
    limit = settings.max_category_share_change
    findings.append(StreamFinding(
        "prediction_share_change", _finite(change), f"|change| > {limit:g}",
        "insufficient_data" if not enough or category is None else "breach" if _above(abs(change), limit) else "ok",
        short if not enough or category is None
        else f"share of prediction {category!r} moved {change * 100:+.1f} points"))

    share, entity = top_entity_share(window_entities)
    limit = settings.max_entity_share
    findings.append(StreamFinding(
        "top_entity_share", _finite(share), f"> {limit:g}",
        "insufficient_data" if not enough or entity is None else "breach" if _above(share, limit) else "ok",
        short if not enough or entity is None else f"{entity} took {share:.0%} of the window's decisions"))

    delta = mean_confidence_change(reference_confidences, window_confidences)
    limit = settings.max_mean_confidence_change
    findings.append(StreamFinding(
        "mean_confidence_change", _finite(delta), f"|change| > {limit:g}",
        "insufficient_data" if not enough or not math.isfinite(delta) else "breach" if _above(abs(delta), limit) else "ok",
        short if not enough or not math.isfinite(delta) else f"mean confidence moved {delta:+.3f}"))

    ratio = volume_ratio(day_count, len(reference_predictions), reference_days)
    high, low = settings.volume_ratio_high, settings.volume_ratio_low
    findings.append(StreamFinding(
        "volume_ratio", None if math.isnan(ratio) else ratio, f"> {high:g} or < {low:g}",
        "insufficient_data" if math.isnan(ratio) else "breach" if _above(ratio, high) or _above(low, ratio) else "ok",
        "no decisions in the day nor the reference" if math.isnan(ratio)
        else f"{day_count} decisions vs {len(reference_predictions) / reference_days:.1f} a day in the reference"))
    return findings
