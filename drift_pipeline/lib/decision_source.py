"""The decision log as a model's production data (``source.kind: decision_log``).

A model whose YAML says ``source: {kind: decision_log}`` is monitored on the decisions
recorded for it (:mod:`drift_pipeline.lib.decisions`) in the project's audit store
(``$DRIFT_PIPELINE_AUDIT_URL``, else ``$DRIFT_PIPELINE_DATABASE_URL``, else
``var/audit/audit.db``). :func:`load_decision_log` returns the same frame shape as
:func:`drift_pipeline.lib.sources.load_source`: the declared columns, the time column
parsed. Each declared column is looked up, in this order, as

1. the time column: the decision's ``timestamp`` (UTC, returned timezone-naive);
2. a decision field: ``prediction``, ``confidence``, ``actor``, ``latency_ms``,
   ``review_status``, ``anomaly_flag``, ``input_hash``, ``model_version``,
   ``decision_type``, ``trace_id``;
3. a key of the (already redacted) input features;
4. a key of the explanation (e.g. the raw ``score`` a classifier reports there).

A declared column found nowhere is left out (validation names it), except the label:
decisions are recorded before their outcome is known, so the label column is present and
empty (``labels_pending`` in the model-drift metrics).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from drift_pipeline.lib.config import ModelConfig

DECISION_FIELDS = ("prediction", "confidence", "actor", "latency_ms", "review_status", "anomaly_flag",
                   "input_hash", "model_version", "decision_type", "trace_id")
RECORD_COLUMNS = ("id", "timestamp", *DECISION_FIELDS, "record_hash", "features", "explanation")


def _store(url: str | None):
    from drift_pipeline.lib import project
    from drift_pipeline.lib.audit import AuditStore

    return AuditStore(url or project.audit_url())


def _decode_prediction(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _mapping(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def decision_records(model: str, *, store: Any = None, url: str | None = None, since: Any = None,
                     until: Any = None) -> pd.DataFrame:
    """Every recorded decision of ``model`` as a frame, in chain order.

    Parameters
    ----------
    model : str
    store : AuditStore, optional
        Default: an :class:`AuditStore` on ``url`` or the project's audit URL.
    url : str, optional
    since, until : date or timestamp, optional
        On the decision timestamp; ``since`` inclusive, ``until`` exclusive.

    Returns
    -------
    pandas.DataFrame
        :data:`RECORD_COLUMNS`; ``timestamp`` is timezone-naive UTC, ``prediction``
        decoded from its JSON text, ``features`` and ``explanation`` dicts.

    Raises
    ------
    drift_pipeline.lib.sources.DataError
        The store cannot be read (no schema yet, unreachable), naming the model and store.
    """
    from drift_pipeline.lib.audit import AuditError
    from drift_pipeline.lib.sources import DataError

    owned = store is None
    store = store or _store(url)
    try:
        rows = store.decisions(model=model, since=since, until=until)
    except AuditError as exc:
        raise DataError(f"{model}: cannot read the decision log: {exc}") from None
    finally:
        if owned:
            store.close()
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "timestamp" else "object")
                             for c in RECORD_COLUMNS})
    frame = pd.DataFrame({
        "id": [r["id"] for r in rows],
        "timestamp": pd.to_datetime([r["timestamp"] for r in rows], utc=True).tz_localize(None),
        **{f: [r[f] for r in rows] for f in DECISION_FIELDS},
        "record_hash": [r["record_hash"] for r in rows],
        "features": [_mapping(r["features_json"]) for r in rows],
        "explanation": [_mapping(r["explanation_json"]) for r in rows],
    })
    frame["prediction"] = frame["prediction"].map(_decode_prediction)
    frame["confidence"] = frame["confidence"].astype("float64")
    return frame


def load_decision_log(config: ModelConfig, *, store: Any = None, url: str | None = None,
                      partition: str | None = None) -> pd.DataFrame:
    """A decision-log model's rows in the shape of :func:`~drift_pipeline.lib.sources.load_source`.

    Parameters
    ----------
    config : ModelConfig
        A model with ``source.kind: decision_log``.
    store, url : optional
        See :func:`decision_records`.
    partition : str, optional
        Only used in error messages.

    Returns
    -------
    pandas.DataFrame
        The declared columns found (see the module docstring), time column parsed.

    Raises
    ------
    drift_pipeline.lib.sources.DataError
        No decisions are recorded for the model (with how to record some).
    """
    from drift_pipeline.lib.sources import DataError

    records = decision_records(config.name, store=store, url=url)
    if records.empty:
        where = config.name + (f", partition {partition}" if partition else "")
        shown = store.url if store is not None else _store(url).url
        raise DataError(
            f"{where}: no decisions recorded for model {config.name!r} in the audit store {shown}; "
            f"record some with @log_decisions(model={config.name!r}, ...) or run "
            f"`drift-pipeline decisions seed {config.name}`"
        )
    columns: dict[str, Any] = {}
    for spec in config.schema_:
        name = spec.name
        if name == config.time_column:
            columns[name] = records["timestamp"]
        elif name in DECISION_FIELDS:
            columns[name] = records[name]
        elif any(name in f for f in records["features"]):
            columns[name] = records["features"].map(lambda f, n=name: f.get(n))
        elif any(name in e for e in records["explanation"]):
            columns[name] = records["explanation"].map(lambda e, n=name: e.get(n))
        elif spec.role == "label":
            columns[name] = pd.Series(np.nan, index=records.index, dtype="float64")
    return pd.DataFrame(columns).reset_index(drop=True)
