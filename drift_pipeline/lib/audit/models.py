"""SQLAlchemy 2 declarative models of the audit store.

Every audit table carries the same chain columns (``seq``, ``content_hash``,
``prev_hash``, ``record_hash``; see :mod:`drift_pipeline.lib.audit.chain`) and an ``id``
that the store assigns itself, so that the id is part of the hashed content. Status
changes are rows of their own (``incident_events``, ``baseline_events``), never
updates. ``chain_head`` is the one mutable row: the store's pointer to the newest
record, locked by every append so the chain cannot fork.

Timestamps are stored as normalised UTC ISO-8601 text (``2013-01-31T02:00:00.000000+00:00``)
and dates as ``YYYY-MM-DD``: the hashed text then reads back identically from SQLite
and PostgreSQL, and sorts chronologically. Lists and mappings are canonical JSON text.

The schema is created by the Alembic revisions in ``migrations/versions``; a test
checks that these models and the migrations agree.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

HASH = String(64)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ChainHead(Base):
    """The newest record of the chain (one row, ``id = 1``); locked by every append."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    record_hash: Mapped[str] = mapped_column(HASH, nullable=False)


# Column order of every audit table, and so of the dicts the read API returns:
# id, seq, the record's own fields, lineage, created_at, then the three hashes.
_FIRST, _LINEAGE, _CREATED, _LAST = -20, 50, 80, 90


class AuditRecord(Base):
    """Columns shared by every chained record."""

    __abstract__ = True
    __kind__: str  # the record kind that is hashed with the content

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, sort_order=_FIRST)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True, sort_order=_FIRST + 1)
    created_at: Mapped[str] = mapped_column(String(32), nullable=False, sort_order=_CREATED)
    content_hash: Mapped[str] = mapped_column(HASH, nullable=False, sort_order=_LAST)
    prev_hash: Mapped[str] = mapped_column(HASH, nullable=False, sort_order=_LAST + 1)
    record_hash: Mapped[str] = mapped_column(HASH, nullable=False, sort_order=_LAST + 2)


class LineageRecord(AuditRecord):
    """What every alert, metric and report links to (SPEC §8)."""

    __abstract__ = True

    model: Mapped[str] = mapped_column(String, nullable=False, sort_order=_FIRST + 2)
    partition: Mapped[str] = mapped_column(String, nullable=False, sort_order=_FIRST + 3)
    # sha256 of the canonical natural key: a rerun with the same result finds its row
    natural_key: Mapped[str] = mapped_column(HASH, nullable=False, unique=True, sort_order=_LINEAGE)
    run_id: Mapped[str] = mapped_column(String, nullable=False, sort_order=_LINEAGE + 1)
    data_fingerprint: Mapped[str] = mapped_column(String, nullable=False, sort_order=_LINEAGE + 2)
    config_hash: Mapped[str] = mapped_column(String, nullable=False, sort_order=_LINEAGE + 3)
    baseline_version: Mapped[str | None] = mapped_column(String, sort_order=_LINEAGE + 4)
    code_version: Mapped[str] = mapped_column(String, nullable=False, sort_order=_LINEAGE + 5)
    input_files: Mapped[str] = mapped_column(Text, nullable=False, sort_order=_LINEAGE + 6)  # JSON list


class Alert(LineageRecord):
    """A metric value judged against its band (INFO / WARNING / CRITICAL)."""

    __tablename__ = "alerts"
    __kind__ = "alert"
    __table_args__ = (Index(None, "model", "partition"), Index(None, "severity"))

    family: Mapped[str] = mapped_column(String, nullable=False)
    metric: Mapped[str] = mapped_column(String, nullable=False)
    feature: Mapped[str | None] = mapped_column(String)
    value: Mapped[float | None] = mapped_column(Double)
    severity: Mapped[str] = mapped_column(String(8), nullable=False)
    band: Mapped[str] = mapped_column(Text, nullable=False)
    rule: Mapped[str] = mapped_column(Text, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    # the suppression in force when the alert was recorded (it is recorded all the same)
    suppression_id: Mapped[int | None] = mapped_column(Integer)


class Metric(LineageRecord):
    """One computed metric value (with its test statistics where there are any)."""

    __tablename__ = "metrics"
    __kind__ = "metric"
    __table_args__ = (Index(None, "model", "partition"),)

    family: Mapped[str] = mapped_column(String, nullable=False)
    metric: Mapped[str] = mapped_column(String, nullable=False)
    feature: Mapped[str | None] = mapped_column(String)
    value: Mapped[float | None] = mapped_column(Double)
    p_value: Mapped[float | None] = mapped_column(Double)
    ci_low: Mapped[float | None] = mapped_column(Double)
    ci_high: Mapped[float | None] = mapped_column(Double)
    n_reference: Mapped[int | None] = mapped_column(BigInteger)
    n_current: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String, nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object


class Report(LineageRecord):
    """A rendered report (drift HTML, periodic audit report) and the sha256 of its file."""

    __tablename__ = "reports"
    __kind__ = "report"
    __table_args__ = (Index(None, "model", "partition"),)

    report_type: Mapped[str] = mapped_column(String, nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    file_sha256: Mapped[str | None] = mapped_column(HASH)
    summary: Mapped[str] = mapped_column(Text, nullable=False)  # JSON object


class Decision(AuditRecord):
    """One decision of a monitored model (SPEC §7); features are redacted by the caller."""

    __tablename__ = "decisions"
    __kind__ = "decision"
    __table_args__ = (Index(None, "model", "timestamp"),)

    timestamp: Mapped[str] = mapped_column(String(32), nullable=False)
    model: Mapped[str] = mapped_column(String, nullable=False)
    model_version: Mapped[str] = mapped_column(String, nullable=False)
    decision_type: Mapped[str] = mapped_column(String, nullable=False)
    features_json: Mapped[str] = mapped_column(Text, nullable=False)
    input_hash: Mapped[str] = mapped_column(String, nullable=False)
    prediction: Mapped[str | None] = mapped_column(Text)
    confidence: Mapped[float | None] = mapped_column(Double)
    explanation_json: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String, nullable=False)
    trace_id: Mapped[str | None] = mapped_column(String)
    latency_ms: Mapped[float | None] = mapped_column(Double)
    review_status: Mapped[str | None] = mapped_column(String)
    anomaly_flag: Mapped[bool] = mapped_column(Boolean, nullable=False)


class Baseline(AuditRecord):
    """A versioned reference profile of one model; never deleted."""

    __tablename__ = "baselines"
    __kind__ = "baseline"
    __table_args__ = (UniqueConstraint("model", "version"),)

    model: Mapped[str] = mapped_column(String, nullable=False)
    version: Mapped[str] = mapped_column(String, nullable=False)
    window_start: Mapped[str] = mapped_column(String(10), nullable=False)
    window_end: Mapped[str] = mapped_column(String(10), nullable=False)
    profile_fingerprint: Mapped[str] = mapped_column(String, nullable=False)
    created_by: Mapped[str] = mapped_column(String, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)


class BaselineEvent(AuditRecord):
    """A baseline was activated or archived; the latest activation per model is the active one."""

    __tablename__ = "baseline_events"
    __kind__ = "baseline_event"
    __table_args__ = (Index(None, "model"),)

    baseline_id: Mapped[int] = mapped_column(ForeignKey("baselines.id"), nullable=False)
    model: Mapped[str] = mapped_column(String, nullable=False)
    version: Mapped[str] = mapped_column(String, nullable=False)
    event: Mapped[str] = mapped_column(String(16), nullable=False)
    actor: Mapped[str] = mapped_column(String, nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False)


class Incident(AuditRecord):
    """An incident opened for an alert (at most one per alert); its status lives in events."""

    __tablename__ = "incidents"
    __kind__ = "incident"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), nullable=False, unique=True)
    model: Mapped[str] = mapped_column(String, nullable=False)
    partition: Mapped[str] = mapped_column(String, nullable=False)
    severity: Mapped[str] = mapped_column(String(8), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    opened_by: Mapped[str] = mapped_column(String, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)


class IncidentEvent(AuditRecord):
    """One status transition of an incident: who, when, from what to what, and why."""

    __tablename__ = "incident_events"
    __kind__ = "incident_event"
    __table_args__ = (Index(None, "incident_id"),)

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), nullable=False)
    from_status: Mapped[str] = mapped_column(String(16), nullable=False)
    to_status: Mapped[str] = mapped_column(String(16), nullable=False)
    actor: Mapped[str] = mapped_column(String, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False)


class Suppression(AuditRecord):
    """Accepted risk for one model and metric (and feature, or all features when NULL)."""

    __tablename__ = "suppressions"
    __kind__ = "suppression"
    __table_args__ = (Index(None, "model", "metric"),)

    model: Mapped[str] = mapped_column(String, nullable=False)
    metric: Mapped[str] = mapped_column(String, nullable=False)
    feature: Mapped[str | None] = mapped_column(String)
    rationale: Mapped[str] = mapped_column(Text, nullable=False)
    approver: Mapped[str] = mapped_column(String, nullable=False)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    expires_at: Mapped[str] = mapped_column(String(32), nullable=False)


RECORD_MODELS: tuple[type[AuditRecord], ...] = (
    Alert,
    Metric,
    Report,
    Decision,
    Baseline,
    BaselineEvent,
    Incident,
    IncidentEvent,
    Suppression,
)
"""Every chained table, in foreign-key order (a table after the tables it references)."""

CHAIN_COLUMNS = frozenset({"seq", "content_hash", "prev_hash", "record_hash"})
"""Columns excluded from a record's hashed content."""
