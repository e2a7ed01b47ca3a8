"""The decision audit log's Python API (SPEC §7): a decorator and a function.

>>> @log_decisions(model="credit", model_version="v1", decision_type="credit_application",
...                actor="service:credit-api", store=AuditStore(url))
... def score(applicant: dict) -> DecisionOutcome:
...     return DecisionOutcome(prediction=True, confidence=0.82, explanation={"top": [...]})
>>> with decision_context(actor="user:officer-17", trace_id="req-8f2c"):
...     score({"age": 31, "email": "a@b.example"})        # recorded, e-mail redacted

Every call of a decorated function records one decision through
:meth:`AuditStore.record_decisions`: timestamp, model name and version, decision type,
input features (redacted, :mod:`drift_pipeline.lib.privacy`), the keyed input hash of the
raw input, prediction, confidence, explanation, actor, trace id, latency, review status
and anomaly flag. The decorated function's return value is passed through unchanged.

Recording is **fail-closed**: if the store cannot record the decision, the error is
raised to the caller (a decision without its audit record must not be acted on). A
function that raises records nothing and its exception propagates unlogged (exception
messages may hold raw input).

Per-call fields (the acting user, a request's trace id, a replayed timestamp) come from
:func:`decision_context`, a context variable, so the function's signature stays the
model's own.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import inspect
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Protocol

from drift_pipeline.lib.audit import AuditStore, DecisionIn, RecordOutcome
from drift_pipeline.lib.privacy import Redactor, hash_key, input_hash, pseudonym


class DecisionSink(Protocol):
    """Anything that records decisions: an :class:`AuditStore` or a :class:`DecisionBuffer`."""

    def record_decisions(self, decisions: Sequence[DecisionIn]) -> RecordOutcome: ...


@dataclass(frozen=True)
class DecisionOutcome:
    """What a decorated function may return to record more than a bare prediction."""

    prediction: Any
    confidence: float | None = None
    explanation: Mapping[str, Any] | None = None
    review_status: str | None = None
    anomaly_flag: bool = False


@dataclass
class DecisionBuffer:
    """Collects decisions in memory and writes them in one transaction on :meth:`flush`.

    Use it as the ``store`` of a decorated function when replaying many decisions
    (one append transaction per decision would be slow on SQLite).
    """

    pending: list[DecisionIn] = field(default_factory=list)

    def record_decisions(self, decisions: Sequence[DecisionIn]) -> RecordOutcome:
        self.pending.extend(decisions)
        return RecordOutcome((), (), ())

    def flush(self, store: DecisionSink) -> RecordOutcome:
        """Write every pending decision to ``store`` and empty the buffer."""
        pending, self.pending = self.pending, []
        return store.record_decisions(pending) if pending else RecordOutcome((), (), ())


_NO_CONTEXT: Mapping[str, Any] = MappingProxyType({})
_CONTEXT: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("decision_context", default=_NO_CONTEXT)
_CONTEXT_FIELDS = frozenset({"actor", "trace_id", "timestamp", "review_status", "latency_ms"})


@contextmanager
def decision_context(**fields: Any) -> Iterator[None]:
    """Per-call decision fields for decorated functions called inside the block.

    Parameters
    ----------
    **fields
        Any of ``actor``, ``trace_id``, ``timestamp`` (a replayed decision time),
        ``review_status`` and ``latency_ms`` (a replay's recorded latency instead of the
        measured one). Inner blocks override outer ones.
    """
    unknown = sorted(set(fields) - _CONTEXT_FIELDS)
    if unknown:
        raise TypeError(f"decision_context got unknown field(s) {unknown}; allowed: {sorted(_CONTEXT_FIELDS)}")
    token = _CONTEXT.set({**_CONTEXT.get(), **fields})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


@lru_cache(maxsize=1)
def _project_privacy() -> Any:
    from drift_pipeline.lib import project
    from drift_pipeline.lib.config import load_policy

    return load_policy(project.PROJECT_ROOT / "config").privacy


@lru_cache(maxsize=4)
def _default_store(url: str) -> AuditStore:
    store = AuditStore(url)
    store.migrate()
    return store


def project_store() -> AuditStore:
    """The project's audit store (``$DRIFT_PIPELINE_AUDIT_URL`` ... or ``var/audit/audit.db``), migrated."""
    from drift_pipeline.lib import project

    return _default_store(project.audit_url())


def _resolve_sink(store: DecisionSink | Callable[[], DecisionSink] | None) -> DecisionSink:
    if store is None:
        return project_store()
    if hasattr(store, "record_decisions"):
        return store  # type: ignore[return-value]
    return store()  # type: ignore[operator]


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def build_decision(
    *,
    model: str,
    model_version: str,
    decision_type: str,
    features: Mapping[str, Any],
    prediction: Any,
    actor: str,
    confidence: float | None = None,
    explanation: Mapping[str, Any] | None = None,
    trace_id: str | None = None,
    latency_ms: float | None = None,
    review_status: str | None = None,
    anomaly_flag: bool = False,
    timestamp: str | dt.datetime | None = None,
    redactor: Redactor | None = None,
    key: bytes | None = None,
) -> DecisionIn:
    """A redacted, hashed :class:`DecisionIn` (nothing is written).

    Parameters
    ----------
    features : Mapping[str, Any]
        The raw input; hashed (HMAC-SHA256, :func:`~drift_pipeline.lib.privacy.input_hash`)
        before redaction, stored only redacted.
    actor : str
        Who decided: ``user:<id>``, ``service:<name>`` or ``tenant:<id>``. An actor that
        holds an e-mail address or phone number is replaced by a stable keyed pseudonym.
    confidence : float, optional
        In [0, 1]; a value outside, or not finite, sets ``anomaly_flag``.
    redactor, key : optional
        Default to the project's ``policy.privacy`` and ``$DRIFT_PIPELINE_DECISION_HASH_KEY``.

    Returns
    -------
    DecisionIn
    """
    settings = _project_privacy() if redactor is None or key is None else None
    redactor = redactor or Redactor.from_settings(settings)
    key = key if key is not None else hash_key(settings.hash_key_env)
    conf = _finite_or_none(confidence)
    anomalous = bool(anomaly_flag) or (confidence is not None and (conf is None or not 0.0 <= conf <= 1.0))
    safe_actor = pseudonym(actor, key=key, prefix="actor") if redactor.contains_pii(str(actor)) else str(actor)
    if isinstance(prediction, str):
        prediction = redactor.redact_text(prediction)
    return DecisionIn(
        timestamp=timestamp if timestamp is not None else dt.datetime.now(dt.UTC),
        model=model,
        model_version=model_version,
        decision_type=decision_type,
        features_json=redactor.redact_mapping(features),
        input_hash=input_hash(features, key=key),
        actor=safe_actor,
        prediction=prediction,
        confidence=conf,
        explanation_json=redactor.redact_mapping(explanation) if explanation is not None else None,
        trace_id=redactor.redact_text(trace_id) if trace_id is not None else None,
        latency_ms=_finite_or_none(latency_ms),
        review_status=review_status,
        anomaly_flag=anomalous,
    )


def record_decision(
    *,
    model: str,
    model_version: str,
    decision_type: str,
    features: Mapping[str, Any],
    prediction: Any,
    actor: str,
    store: DecisionSink | Callable[[], DecisionSink] | None = None,
    **fields: Any,
) -> int | None:
    """Redact, hash and record one decision.

    Parameters
    ----------
    model, model_version, decision_type, features, prediction, actor
        See :func:`build_decision`.
    store : AuditStore, DecisionBuffer or callable returning one, optional
        Default: the project's audit store (:func:`project_store`).
    **fields
        ``confidence``, ``explanation``, ``trace_id``, ``latency_ms``, ``review_status``,
        ``anomaly_flag``, ``timestamp``, ``redactor``, ``key``.

    Returns
    -------
    int or None
        The new record's id (``None`` when buffered).
    """
    decision = build_decision(model=model, model_version=model_version, decision_type=decision_type,
                              features=features, prediction=prediction, actor=actor, **fields)
    ids = _resolve_sink(store).record_decisions([decision]).ids
    return ids[0] if ids else None


def _input_of(signature: inspect.Signature, features_arg: str | None, args: tuple, kwargs: dict) -> Mapping[str, Any]:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    if features_arg is not None:
        value = bound.arguments[features_arg]
        return dict(value) if isinstance(value, Mapping) else {features_arg: value}
    values = list(bound.arguments.values())
    if len(values) == 1 and isinstance(values[0], Mapping):
        return dict(values[0])
    return dict(bound.arguments)


def _outcome_of(result: Any) -> DecisionOutcome:
    if isinstance(result, DecisionOutcome):
        return result
    if isinstance(result, Mapping) and "prediction" in result:
        return DecisionOutcome(**{k: result[k] for k in DecisionOutcome.__dataclass_fields__ if k in result})
    return DecisionOutcome(prediction=result)


def log_decisions(
    *,
    model: str,
    model_version: str,
    decision_type: str,
    actor: str = "service:unknown",
    store: DecisionSink | Callable[[], DecisionSink] | None = None,
    features_arg: str | None = None,
    review_status: str | None = None,
    redactor: Redactor | None = None,
    key: bytes | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    timer: Callable[[], float] = time.perf_counter,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a prediction function so that every call records a decision.

    Parameters
    ----------
    model, model_version, decision_type : str, keyword-only
    actor : str
        Default actor (``service:<name>``); :func:`decision_context` overrides it per call.
    store : AuditStore, DecisionBuffer or callable returning one, optional
        Resolved at call time (a module-level decoration opens nothing); default: the
        project's audit store.
    features_arg : str, optional
        The argument holding the input features. Default: the only argument when it is a
        mapping, otherwise every bound argument by name.
    review_status : str, optional
        Default review status when the function's outcome sets none.
    redactor, key : optional
        Default to the project's ``policy.privacy`` and its hash-key variable.
    clock, timer : callables
        Decision time (default now, UTC) and the latency timer (seconds).

    Returns
    -------
    callable
        The decorator. The wrapped function returns exactly what the function returns:
        a :class:`DecisionOutcome`, a mapping with a ``prediction`` key, or a bare prediction.
    """

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(function)

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            features = _input_of(signature, features_arg, args, kwargs)
            started = timer()
            result = function(*args, **kwargs)
            latency = (timer() - started) * 1000.0
            context = _CONTEXT.get()
            outcome = _outcome_of(result)
            record_decision(
                model=model, model_version=model_version, decision_type=decision_type,
                features=features, prediction=outcome.prediction,
                actor=context.get("actor", actor), store=store,
                confidence=outcome.confidence, explanation=outcome.explanation,
                trace_id=context.get("trace_id"),
                latency_ms=context.get("latency_ms", latency),
                review_status=outcome.review_status or context.get("review_status", review_status),
                anomaly_flag=outcome.anomaly_flag,
                timestamp=context.get("timestamp") or (clock() if clock else None),
                redactor=redactor, key=key,
            )
            return result

        wrapper.decision_model = model  # type: ignore[attr-defined]
        return wrapper

    return decorate
