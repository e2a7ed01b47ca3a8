"""The ``credit`` demo model: a scorecard whose decisions feed the decision log.

:func:`score_applicant` is a deployed model as the decision-log API expects to meet one:
a plain prediction function under ``@log_decisions``. It is a logistic-regression
scorecard fitted once (deterministically) on the German credit data (Statlog, UCI;
``data/german_credit/german.data``); its output is the probability of a bad credit risk,
the prediction ``True`` (decline / refer) above 0.5, the confidence of that prediction
and the three largest score contributions as the explanation.

:func:`seed_decision_log` replays the 1,000 applicants (resampled, seeded) through the
decorated function, with synthetic timestamps over the model's reference window and
partitions, so that ``credit`` is monitored like the file-based models. The replay has a
scripted story, so the demo shows what the monitors catch:

- from 2024-03-04 the applicant mix shifts towards large, long loans (data drift, more
  declines);
- 2024-02-24/25 an outage: volume at a tenth of normal; 2024-03-18/19 a campaign: 2.5x;
- from 2024-03-25 one branch (``tenant:branch-03``) takes 45 % of decisions.

Seeding is idempotent: every replayed decision has a deterministic trace id, and only
trace ids not yet recorded for the model are written (with ``created_at`` equal to the
decision time, so the same seed writes the same records everywhere).
"""

from __future__ import annotations

import argparse
import contextvars
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from drift_pipeline.lib import project
from drift_pipeline.lib.audit import AuditStore
from drift_pipeline.lib.config import ModelConfig, load_model_configs
from drift_pipeline.lib.decisions import (
    DecisionBuffer,
    DecisionOutcome,
    DecisionSink,
    decision_context,
    log_decisions,
    project_store,
)

GERMAN_CREDIT = project.PROJECT_ROOT / "data" / "german_credit" / "german.data"
MODEL_VERSION = "credit-scorecard-v1"
SEED = 20240101

# german.data has no header; names follow german.doc (attributes 1-20, then the label)
COLUMNS = ("checking_status", "duration_months", "credit_history", "purpose", "credit_amount", "savings",
           "employment_since", "installment_rate", "personal_status", "other_debtors", "residence_since",
           "property", "age", "other_installment_plans", "housing", "existing_credits", "job",
           "num_dependents", "telephone", "foreign_worker", "risk")
NUMERIC = ("duration_months", "credit_amount", "installment_rate", "age", "existing_credits")
CATEGORICAL = ("checking_status", "credit_history", "purpose", "savings", "employment_since", "property", "housing")
"""The scorecard's inputs; sex, age group and foreign-worker status are not among them."""


class SeedError(ValueError):
    """The demo decision log cannot be seeded (unknown model, missing data file)."""


def read_german_credit(path: Path = GERMAN_CREDIT) -> pd.DataFrame:
    """The 1,000 applicants with named columns, ``sex`` and ``age_group`` derived, ``bad_risk`` boolean.

    Parameters
    ----------
    path : Path
        ``german.data`` (space-separated, no header; german.doc explains the codes).

    Returns
    -------
    pandas.DataFrame
        ``sex`` is ``female`` for personal status A92 (german.doc), else ``male``;
        ``age_group`` is ``<25`` or ``25+``; ``bad_risk`` is label 2.
    """
    if not Path(path).exists():
        raise SeedError(f"German credit data {path} does not exist (see data/german_credit/README.md)")
    frame = pd.read_csv(path, sep=" ", header=None, names=list(COLUMNS))
    return frame.assign(
        sex=np.where(frame["personal_status"] == "A92", "female", "male"),
        age_group=np.where(frame["age"] < 25, "<25", "25+"),
        bad_risk=frame["risk"] == 2,
    ).drop(columns="risk")


@dataclass(frozen=True)
class Scorecard:
    """Logistic-regression weights as a points table (fast to apply to one applicant)."""

    intercept: float
    numeric: Mapping[str, tuple[float, float, float]]  # name -> (mean, std, weight)
    categorical: Mapping[str, float]  # "column=value" -> weight

    def contributions(self, applicant: Mapping[str, Any]) -> dict[str, float]:
        out = {name: weight * (float(applicant[name]) - mean) / std
               for name, (mean, std, weight) in self.numeric.items()}
        out.update({name: self.categorical.get(f"{name}={applicant[name]}", 0.0) for name in CATEGORICAL})
        return out

    def probability(self, contributions: Mapping[str, float]) -> float:
        return 1.0 / (1.0 + math.exp(-(self.intercept + sum(contributions.values()))))


def fit_logistic(x: np.ndarray, y: np.ndarray, *, l2: float = 2.0, iterations: int = 50) -> np.ndarray:
    """L2-penalised logistic regression by Newton's method (IRLS); intercept first, unpenalised.

    Parameters
    ----------
    x : ndarray of shape (n, k)
    y : ndarray of shape (n,), 0/1
    l2 : float, keyword-only
        Penalty ``l2 / 2 * ||w||^2`` on the slopes (scikit-learn's ``C = 1 / l2``).

    Returns
    -------
    ndarray of shape (k + 1,)
        Intercept then slopes; deterministic (no random state involved).
    """
    design = np.column_stack([np.ones(len(x)), x])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    w = np.zeros(design.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-design @ w))
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w


@lru_cache(maxsize=1)
def scorecard() -> Scorecard:
    """The scorecard fitted on all 1,000 applicants (:func:`fit_logistic`, deterministic)."""
    data = read_german_credit()
    stats = {c: (float(data[c].mean()), float(data[c].std(ddof=0))) for c in NUMERIC}
    numeric = np.column_stack([(data[c] - stats[c][0]) / stats[c][1] for c in NUMERIC])
    dummies = pd.get_dummies(data[list(CATEGORICAL)].astype(str), prefix_sep="=", dtype=float)
    w = fit_logistic(np.hstack([numeric, dummies.to_numpy()]), data["bad_risk"].to_numpy(dtype=float))
    slopes = w[1:]
    return Scorecard(
        intercept=float(w[0]),
        numeric={c: (*stats[c], float(slopes[i])) for i, c in enumerate(NUMERIC)},
        categorical={name: float(v) for name, v in zip(dummies.columns, slopes[len(NUMERIC):], strict=True)},
    )


_SINK: contextvars.ContextVar[DecisionSink | None] = contextvars.ContextVar("credit_decision_sink", default=None)


def _sink() -> DecisionSink:
    """Where :func:`score_applicant` records: the seeding buffer while replaying, else the project store."""
    return _SINK.get() or project_store()


@log_decisions(model="credit", model_version=MODEL_VERSION, decision_type="credit_application",
               actor="service:credit-scoring", store=_sink, review_status="not_required")
def score_applicant(applicant: Mapping[str, Any]) -> DecisionOutcome:
    """Score one credit application: ``True`` means decline or refer (bad-risk probability > 0.5).

    Parameters
    ----------
    applicant : Mapping[str, Any]
        At least the scorecard's inputs (:data:`NUMERIC`, :data:`CATEGORICAL`); anything
        else (contact details, protected attributes) is ignored by the score and redacted
        in the log where it is PII.

    Returns
    -------
    DecisionOutcome
        ``confidence`` is the probability of the predicted class; the explanation holds the
        raw ``score`` and the top three contributions. Cases with confidence below 0.6
        go to manual review (``review_status="pending_review"``).
    """
    card = scorecard()
    contributions = card.contributions(applicant)
    p_bad = card.probability(contributions)
    prediction = p_bad > 0.5
    confidence = p_bad if prediction else 1.0 - p_bad
    top = sorted(contributions.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:3]
    return DecisionOutcome(
        prediction=bool(prediction),
        confidence=round(confidence, 6),
        explanation={"score": round(p_bad, 6), "top_contributions": {k: round(v, 4) for k, v in top}},
        review_status="pending_review" if confidence < 0.6 else None,
    )


# --------------------------------------------------------------------------- replay


def replay_plan(config: ModelConfig, data: pd.DataFrame, *, seed: int = SEED) -> pd.DataFrame:
    """Which applicant is decided when, by whom: the scripted replay (see the module docstring).

    Parameters
    ----------
    config : ModelConfig
        Its reference start and last partition bound the days.
    data : pandas.DataFrame
        :func:`read_german_credit`.
    seed : int
        Every random draw comes from ``numpy.random.default_rng(seed)``.

    Returns
    -------
    pandas.DataFrame
        One row per decision: ``row`` (index into ``data``), ``timestamp`` (UTC),
        ``actor``, ``trace_id``, ``latency_ms`` (synthetic), sorted by time.
    """
    rng = np.random.default_rng(seed)
    first, last = config.reference.start, config.partitioning.end
    risky = ((data["credit_amount"] > 4000) & (data["duration_months"] > 24)).to_numpy()
    uniform = np.full(len(data), 1.0 / len(data))
    shifted = np.where(risky, 6.0, 1.0)
    shifted = shifted / shifted.sum()
    branches = [f"tenant:branch-{i:02d}" for i in range(1, 9)]
    plan = []
    day = first
    while day <= last:
        volume = 20.0
        if dt.date(2024, 2, 24) <= day <= dt.date(2024, 2, 25):
            volume *= 0.1
        if dt.date(2024, 3, 18) <= day <= dt.date(2024, 3, 19):
            volume *= 2.5
        n = int(rng.poisson(volume))
        rows = rng.choice(len(data), size=n, p=shifted if day >= dt.date(2024, 3, 4) else uniform)
        if day >= dt.date(2024, 3, 25):
            actors = rng.choice(branches, size=n, p=[0.45 if b.endswith("03") else 0.55 / 7 for b in branches])
        else:
            actors = rng.choice(branches, size=n)
        seconds = np.sort(rng.integers(8 * 3600, 18 * 3600, size=n))
        latencies = np.round(rng.lognormal(mean=2.5, sigma=0.3, size=n), 3)
        start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        for i in range(n):
            plan.append({"row": int(rows[i]), "timestamp": start + dt.timedelta(seconds=int(seconds[i])),
                         "actor": str(actors[i]), "trace_id": f"seed-{config.name}-{day:%Y%m%d}-{i:03d}",
                         "latency_ms": float(latencies[i])})
        day += dt.timedelta(days=1)
    return pd.DataFrame(plan)


@dataclass(frozen=True)
class SeedResult:
    """What :func:`seed_decision_log` did."""

    model: str
    planned: int
    inserted: int
    existing: int
    first_day: dt.date
    last_day: dt.date


def seed_decision_log(model: str = "credit", *, store: AuditStore | None = None,
                      config_dir: Path | None = None) -> SeedResult:
    """Replay the German credit applicants through :func:`score_applicant` into the audit store.

    Idempotent: decisions whose trace id is already recorded for the model are skipped,
    so calling it before every demo run adds nothing after the first.

    Parameters
    ----------
    model : str
        Only ``credit`` has a replay.
    store : AuditStore, optional
        Default: the project's audit store (migrated).
    config_dir : Path, optional
        Default: the project's ``config/``.

    Returns
    -------
    SeedResult
    """
    configs = load_model_configs(config_dir or project.PROJECT_ROOT / "config")
    if model != "credit" or model not in configs:
        raise SeedError(f"no decision replay for model {model!r}: only 'credit' has one "
                        f"(configured models: {sorted(configs)})")
    config = configs[model]
    if config.model.version != MODEL_VERSION or config.source.kind != "decision_log":
        raise SeedError(f"config/models/{model}.yaml must have source.kind decision_log and "
                        f"model.version {MODEL_VERSION!r} to match score_applicant")
    store = store or project_store()
    data = read_german_credit()
    plan = replay_plan(config, data)
    known = {r["trace_id"] for r in store.decisions(model=model)}
    todo = plan[~plan["trace_id"].isin(known)]
    buffer = DecisionBuffer()
    token = _SINK.set(buffer)
    try:
        records = data.to_dict("records")
        for step in todo.itertuples(index=False):
            applicant = {k: v for k, v in records[step.row].items() if k != "bad_risk"}
            with decision_context(timestamp=step.timestamp, actor=step.actor, trace_id=step.trace_id,
                                  latency_ms=step.latency_ms):
                score_applicant(applicant)
    finally:
        _SINK.reset(token)
    buffer.pending = [replace(d, created_at=d.timestamp) for d in buffer.pending]
    outcome = buffer.flush(store)
    return SeedResult(model, len(plan), len(outcome.inserted_ids), len(plan) - len(todo),
                      config.reference.start, config.partitioning.end)


def _cmd_seed(args: argparse.Namespace) -> int:
    result = seed_decision_log(args.model)
    print(f"{result.model}: {result.inserted} decisions recorded, {result.existing} already present "
          f"({result.planned} planned, {result.first_day} .. {result.last_day}) in {project.audit_url()}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``drift-pipeline decisions seed MODEL`` to the CLI's subparsers."""
    decisions = subparsers.add_parser("decisions", help="the decision audit log (SPEC §7)")
    sub = decisions.add_subparsers(dest="decisions_command", required=True)
    seed = sub.add_parser("seed", help="replay the demo model's dataset through its decorated scorer (idempotent)")
    seed.add_argument("model", help="the model to seed (credit)")
    seed.set_defaults(func=_cmd_seed)
