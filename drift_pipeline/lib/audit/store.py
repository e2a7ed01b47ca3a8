"""The append-only, hash-chained audit store (SQLite by default, PostgreSQL by URL).

One :class:`AuditStore` writes every audit record (alerts, metrics, reports, decisions,
baselines and their events, incidents and their events, suppressions) into one global
hash chain (:mod:`drift_pipeline.lib.audit.chain`) and reads them back for auditors.

- **Append-only.** There is no update or delete method. A status change (an incident
  acknowledged, a baseline activated) is a new event row; current state is derived.
- **Serialised appends.** Every write runs in one transaction that first locks the
  ``chain_head`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; ``BEGIN IMMEDIATE`` on
  SQLite), so concurrent writers queue and the chain never forks.
- **Idempotent.** Alerts, metrics and reports carry a natural key; recording the same
  result again returns the existing id, so rerunning a partition adds nothing.
- **Lineage.** Alerts, metrics and reports record model, partition, run id, input-data
  fingerprint, config hash, baseline version, code version and input files;
  :meth:`AuditStore.trace` follows an alert back through them.
"""

from __future__ import annotations

import datetime as dt
import heapq
import importlib.util
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Self

from sqlalchemy import (
    Boolean,
    Connection,
    Double,
    Engine,
    Integer,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    NoResultFound,
    NoSuchModuleError,
    SQLAlchemyError,
)
from sqlalchemy.pool import StaticPool

from drift_pipeline.lib.audit import chain, migrations
from drift_pipeline.lib.audit.models import (
    CHAIN_COLUMNS,
    RECORD_MODELS,
    Alert,
    AuditRecord,
    Baseline,
    BaselineEvent,
    ChainHead,
    Decision,
    Incident,
    IncidentEvent,
    Metric,
    Report,
    Suppression,
)

SEVERITIES = ("INFO", "WARNING", "CRITICAL")
INCIDENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    "open": frozenset({"acknowledged", "resolved"}),
    "acknowledged": frozenset({"resolved", "accepted_risk"}),
    "resolved": frozenset(),
    "accepted_risk": frozenset(),
}
"""Allowed incident status changes (SPEC §6): open → acknowledged → resolved | accepted_risk."""

DEFAULT_MAX_SUPPRESSION_DAYS = 30
"""SPEC §6 default; the caller passes the configured value to :class:`AuditStore`."""

# Natural keys: two records with equal keys are the same result (created_at and run_id
# are left out so a rerun of the same inputs, config and code finds the first record).
_LINEAGE_KEY = ("model", "partition", "baseline_version", "config_hash", "data_fingerprint", "code_version")
ALERT_KEY = (*_LINEAGE_KEY, "family", "metric", "feature", "severity")
METRIC_KEY = (*_LINEAGE_KEY, "family", "metric", "feature", "value")
REPORT_KEY = (*_LINEAGE_KEY, "report_type", "path")

_JSON_COLUMNS = frozenset({"input_files", "details", "summary"})
_MIGRATION_LOCK_KEY = 0x6472696674_61  # "drift" "a": any constant shared by all processes
_IN_CHUNK = 500


class AuditError(ValueError):
    """The audit store cannot do what was asked; the message says what and where."""


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, kw_only=True)
class LineageIn:
    """Where a result came from (SPEC §8); shared by alerts, metrics and reports.

    ``created_at`` is recorded (and hashed) but is not part of any natural key; when it
    is ``None`` the store's clock supplies it.
    """

    model: str
    partition: str
    run_id: str
    data_fingerprint: str
    config_hash: str
    code_version: str
    baseline_version: str | None = None
    input_files: Sequence[str] = ()
    created_at: str | dt.datetime | None = None


@dataclass(frozen=True, kw_only=True)
class AlertIn(LineageIn):
    """One metric judged against its band."""

    family: str
    metric: str
    severity: str
    message: str
    feature: str | None = None
    value: float | None = None
    band: str = ""
    rule: str = ""


@dataclass(frozen=True, kw_only=True)
class MetricIn(LineageIn):
    """One computed metric value; ``status`` is e.g. ``ok`` or ``insufficient_data``."""

    family: str
    metric: str
    feature: str | None = None
    value: float | None = None
    p_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n_reference: int | None = None
    n_current: int | None = None
    status: str = "ok"
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ReportIn(LineageIn):
    """A rendered report file; ``file_sha256`` is recorded but not part of the natural key
    (HTML renderers embed timestamps, so a rerun's bytes may differ)."""

    report_type: str
    path: str
    file_sha256: str | None = None
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DecisionIn:
    """One model decision (SPEC §7). ``features_json`` must already be redacted (§8).

    A non-string ``prediction`` is stored as canonical JSON text (``1``, ``true``, ``0.5``).
    """

    timestamp: str | dt.datetime
    model: str
    model_version: str
    decision_type: str
    features_json: str | Mapping[str, Any]
    input_hash: str
    actor: str
    prediction: Any = None
    confidence: float | None = None
    explanation_json: str | Mapping[str, Any] | None = None
    trace_id: str | None = None
    latency_ms: float | None = None
    review_status: str | None = None
    anomaly_flag: bool = False
    created_at: str | dt.datetime | None = None


@dataclass(frozen=True)
class RecordOutcome:
    """Ids of a write: ``ids`` has one entry per input, in input order."""

    ids: tuple[int, ...]
    inserted_ids: tuple[int, ...]
    existing_ids: tuple[int, ...]


# --------------------------------------------------------------------------- helpers


def mask_url(url: str | URL) -> str:
    """``url`` with its password replaced by ``***``, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError, TypeError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


def _timestamp(value: str | dt.datetime | dt.date, *, what: str) -> str:
    """Normalised UTC ISO-8601 text with microseconds (sorts chronologically as text).

    A naive timestamp is taken to be UTC.
    """
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise AuditError(f"{what} {value!r} is not an ISO-8601 timestamp") from None
    if not isinstance(value, dt.datetime):
        if not isinstance(value, dt.date):
            raise AuditError(f"{what} must be a timestamp, got {type(value).__name__}")
        value = dt.datetime.combine(value, dt.time.min)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def _date(value: str | dt.date, *, what: str) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise AuditError(f"{what} {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _json_text(value: str | Mapping[str, Any] | Sequence[Any] | None) -> str | None:
    """Canonical JSON text of ``value``; text is taken to be JSON already."""
    if value is None or isinstance(value, str):
        return value
    return chain.canonical_json(value)


def _required(what: str, **values: Any) -> None:
    missing = [
        name for name, value in values.items() if value is None or (isinstance(value, str) and not value.strip())
    ]
    if missing:
        raise AuditError(f"{what} needs a non-empty {', '.join(missing)}")


def _coerce(table: Table, values: Mapping[str, Any], *, complete: bool = True) -> dict[str, Any]:
    """A row with each value in the Python type its column reads back as.

    The hash is computed on these values, so they must equal what the database returns:
    floats for DOUBLE (NaN becomes NULL, which SQLite would store anyway), ints, bools, text.
    """
    unknown = set(values) - set(table.c.keys())
    if unknown:
        raise TypeError(f"{table.name} has no column(s) {sorted(unknown)}")
    row: dict[str, Any] = {}
    for column in table.columns:
        if column.name in CHAIN_COLUMNS:
            continue
        value = values.get(column.name)
        if value is not None:
            if isinstance(column.type, Double):
                value = float(value)
                value = None if math.isnan(value) else value
            elif isinstance(column.type, Boolean):
                value = bool(value)
            elif isinstance(column.type, Integer):
                value = int(value)
            else:
                value = str(value)
        if value is None and not column.nullable and complete:
            raise AuditError(f"{table.name}.{column.name} is required")
        row[column.name] = value
    return row


def _natural_key(kind: str, row: Mapping[str, Any], fields: Sequence[str]) -> str:
    return chain.sha256_hex(chain.canonical_json({"kind": kind, **{f: row[f] for f in fields}}))


def _as_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (json.loads(v) if k in _JSON_COLUMNS and isinstance(v, str) else v) for k, v in row.items()}


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class _Appender:
    """Assigns ids, sequence numbers and hashes inside one locked write transaction."""

    def __init__(self, conn: Connection, seq: int, head_hash: str) -> None:
        self.conn = conn
        self.seq = seq
        self.hash = head_hash
        self._next_id: dict[str, int] = {}
        self._pending: dict[type[AuditRecord], list[dict[str, Any]]] = {}

    def append(self, model: type[AuditRecord], values: Mapping[str, Any]) -> dict[str, Any]:
        table = model.__table__
        if table.name not in self._next_id:
            self._next_id[table.name] = (self.conn.scalar(select(func.max(table.c.id))) or 0) + 1
        row = _coerce(table, {**values, "id": self._next_id[table.name]})
        self._next_id[table.name] += 1
        content = chain.content_hash(model.__kind__, row)
        self.seq += 1
        record_hash = chain.link_hash(self.hash, content)
        row.update(seq=self.seq, content_hash=content, prev_hash=self.hash, record_hash=record_hash)
        self.hash = record_hash
        self._pending.setdefault(model, []).append(row)
        return row

    def flush(self) -> None:
        for model in RECORD_MODELS:  # foreign-key order
            rows = self._pending.pop(model, None)
            if rows:
                self.conn.execute(insert(model.__table__), rows)


# --------------------------------------------------------------------------- the store


class AuditStore:
    """Append-only, hash-chained audit records in SQLite or PostgreSQL.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:///var/audit/audit.db`` (relative to the working
        directory) or ``postgresql+psycopg2://user:password@host:5432/db``.
    max_suppression_days : int
        Longest allowed suppression (SPEC §6 default 30 days).
    clock : callable, optional
        Returns the current UTC time; used for ``created_at`` when none is given.

    Notes
    -----
    Call :meth:`migrate` once (it is idempotent and safe to call from several processes)
    before anything else; other methods refuse a database whose schema is not at head.
    """

    def __init__(
        self,
        url: str,
        *,
        max_suppression_days: int = DEFAULT_MAX_SUPPRESSION_DAYS,
        clock: Any = None,
    ) -> None:
        self._masked = mask_url(url)
        try:
            self._url = make_url(url)
        except (ArgumentError, ValueError, TypeError):
            raise AuditError(
                f"audit store URL {self._masked!r} is not a database URL "
                "(expected e.g. sqlite:///var/audit/audit.db or postgresql://user@host:5432/db)"
            ) from None
        if self._url.drivername == "postgresql" and importlib.util.find_spec("psycopg") is None:
            # SQLAlchemy 2.1 defaults to psycopg 3; the project pins psycopg2-binary.
            self._url = self._url.set(drivername="postgresql+psycopg2")
        self.max_suppression_days = max_suppression_days
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._engine = self._create_engine()
        self._schema_ok = False

    # ------------------------------------------------------------------ plumbing
    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return self._masked

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._url.get_backend_name()

    def _sqlite_file(self) -> Path | None:
        database = self._url.database
        if self.dialect != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
            return None
        return Path(database)

    def _create_engine(self) -> Engine:
        options: dict[str, Any] = {}
        if self.dialect == "sqlite":
            # Writers wait up to 30 s for the lock rather than failing at once.
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
            if self._sqlite_file() is None:
                options["poolclass"] = StaticPool  # one shared in-memory database
        else:
            options["pool_pre_ping"] = True
        try:
            engine = create_engine(self._url, **options)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise AuditError(f"audit store URL {self._masked!r} cannot be used: {exc}") from None
        if self.dialect == "sqlite":
            self._install_sqlite_transactions(engine, wal=self._sqlite_file() is not None)
        return engine

    @staticmethod
    def _install_sqlite_transactions(engine: Engine, *, wal: bool) -> None:
        """Let SQLAlchemy emit BEGIN itself, so a write can say BEGIN IMMEDIATE.

        pysqlite's own transaction handling defers the write lock to the first INSERT,
        too late to serialise readers of the chain head; ``BEGIN IMMEDIATE`` takes it up
        front. WAL lets readers (auditors, the UI) read while a run writes.
        """

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if wal:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("audit_write") else "BEGIN")

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Turn driver errors into an :class:`AuditError` naming the store and the action."""
        try:
            yield
        except AuditError:
            raise
        except DBAPIError as exc:
            detail = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            raise AuditError(f"audit store {self._masked}: {action} failed: {detail}") from exc
        except SQLAlchemyError as exc:
            raise AuditError(f"audit store {self._masked}: {action} failed: {exc}") from exc

    @contextmanager
    def _reading(self, action: str, *, snapshot: bool = False) -> Iterator[Connection]:
        """A read transaction; ``snapshot`` makes every statement see the same commit state.

        SQLite's read transaction already is a snapshot (WAL); PostgreSQL needs
        REPEATABLE READ, or a writer committing mid-way would show as a broken head.
        """
        self._require_schema()
        with self._errors(action), self._engine.connect() as conn:
            if snapshot and self.dialect == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextmanager
    def _appending(self, action: str) -> Iterator[_Appender]:
        """One write transaction holding the chain lock; commits on success."""
        self._require_schema()
        with self._errors(action), self._engine.connect() as conn:
            conn.execution_options(audit_write=True)
            with conn.begin():
                head_table = ChainHead.__table__
                try:
                    head = conn.execute(
                        select(head_table.c.seq, head_table.c.record_hash).where(head_table.c.id == 1).with_for_update()
                    ).one()
                except NoResultFound:
                    raise AuditError(
                        f"audit store {self._masked}: the chain_head row is missing (store tampered with?)"
                    ) from None
                appender = _Appender(conn, head.seq, head.record_hash)
                yield appender
                appender.flush()
                if appender.seq != head.seq:
                    conn.execute(
                        update(head_table)
                        .where(head_table.c.id == 1)
                        .values(seq=appender.seq, record_hash=appender.hash)
                    )

    def _now(self) -> str:
        return _timestamp(self._clock(), what="clock")

    def _stamp(self, value: str | dt.datetime | None) -> str:
        return self._now() if value is None else _timestamp(value, what="created_at")

    def close(self) -> None:
        """Release pooled connections."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditStore({self._masked!r})"

    # ------------------------------------------------------------------ schema
    def migrate(self) -> str:
        """Create or upgrade the schema to the newest revision; idempotent.

        Safe to call from several processes at once: on PostgreSQL the upgrade runs under
        a transaction-level advisory lock, on SQLite inside a ``BEGIN IMMEDIATE``
        transaction (SQLite DDL is transactional), so one process migrates and the others
        find the schema at head. Creates the parent folder of a SQLite file.

        Returns
        -------
        str
            The revision the database is now at.
        """
        path = self._sqlite_file()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise AuditError(f"audit store {self._masked}: cannot create folder {path.parent}: {exc}") from None
        with self._errors("migrating the schema"), self._engine.connect() as conn:
            conn.execution_options(audit_write=True)
            with conn.begin():
                if self.dialect == "postgresql":
                    conn.execute(select(func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
                migrations.upgrade(conn)
            with conn.begin():
                revision = migrations.current_revision(conn)
        self._schema_ok = True
        assert revision is not None
        return revision

    def schema_revision(self) -> str | None:
        """The schema revision of the database (``None`` if it was never migrated)."""
        with self._errors("reading the schema revision"), self._engine.connect() as conn:
            return migrations.current_revision(conn)

    def _require_schema(self) -> None:
        if self._schema_ok:
            return
        current = self.schema_revision()
        head = migrations.head_revision()
        if current is None:
            raise AuditError(f"audit store {self._masked} has no audit schema yet: run AuditStore(url).migrate() first")
        if current != head:
            raise AuditError(
                f"audit store {self._masked} is at schema revision {current} but this code needs {head}: "
                "run AuditStore(url).migrate()"
            )
        self._schema_ok = True

    # ------------------------------------------------------------------ chain
    def head(self) -> tuple[int, str]:
        """``(seq, record_hash)`` of the newest record; ``(0, GENESIS_HASH)`` when empty.

        Export it (e.g. print it in the signed audit report) and pass it to :meth:`verify`
        later to detect a truncated chain.
        """
        with self._reading("reading the chain head") as conn:
            table = ChainHead.__table__
            row = conn.execute(select(table.c.seq, table.c.record_hash).where(table.c.id == 1)).one_or_none()
        if row is None:
            raise AuditError(f"audit store {self._masked}: the chain_head row is missing (store tampered with?)")
        return int(row.seq), str(row.record_hash)

    def verify(self, expected_head: str | None = None, expected_count: int | None = None) -> chain.VerifyReport:
        """Recompute every hash of the chain and report edits, deletions, reordering and truncation.

        Parameters
        ----------
        expected_head : str, optional
            A head hash exported earlier. If it is no longer the head nor anywhere in the
            chain, records were removed (``truncated``); if found before the head, the
            chain has simply grown.
        expected_count : int, optional
            The record count exported with ``expected_head``.

        Returns
        -------
        VerifyReport
            ``ok`` plus one :class:`~drift_pipeline.lib.audit.chain.ChainProblem` per finding,
            each naming the record kind, id and seq where known.
        """
        with self._reading("verifying the chain", snapshot=True) as conn:
            table = ChainHead.__table__
            stored = conn.execute(select(table.c.seq, table.c.record_hash).where(table.c.id == 1)).one_or_none()
            report = chain.verify_records(
                self._chain_records(conn),
                expected_head=expected_head,
                expected_count=expected_count,
                stored_head=(int(stored.seq), str(stored.record_hash)) if stored else None,
            )
        if stored is None:
            missing = chain.ChainProblem("head_mismatch", "the chain_head row (the store's head pointer) was deleted")
            report = replace(report, ok=False, problems=(*report.problems, missing))
        return report

    @staticmethod
    def _chain_records(conn: Connection) -> Iterator[chain.ChainRecord]:
        """Every record of every table, merged into ``seq`` order, streamed."""

        def stream(model: type[AuditRecord]) -> Iterator[chain.ChainRecord]:
            table = model.__table__
            content_columns = [c.name for c in table.columns if c.name not in CHAIN_COLUMNS]
            result = conn.execute(select(table).order_by(table.c.seq).execution_options(yield_per=2000))
            for row in result.mappings():
                yield chain.ChainRecord(
                    seq=int(row["seq"]),
                    kind=model.__kind__,
                    record_id=int(row["id"]),
                    content_hash=row["content_hash"],
                    prev_hash=row["prev_hash"],
                    record_hash=row["record_hash"],
                    fields={name: row[name] for name in content_columns},
                )

        return heapq.merge(*(stream(model) for model in RECORD_MODELS), key=lambda record: record.seq)

    # ------------------------------------------------------------------ alerts, metrics, reports
    def _record_keyed(
        self, model: type[AuditRecord], rows: list[dict[str, Any]], key: Sequence[str], action: str
    ) -> RecordOutcome:
        table = model.__table__
        for row in rows:
            row.update(_coerce(table, row, complete=False))
            row["natural_key"] = _natural_key(model.__kind__, row, key)
        ids: list[int] = []
        inserted: list[int] = []
        existing: list[int] = []
        with self._appending(action) as app:
            known: dict[str, int] = {}
            keys = sorted({row["natural_key"] for row in rows})
            for chunk in _chunks(keys):
                found = app.conn.execute(select(table.c.natural_key, table.c.id).where(table.c.natural_key.in_(chunk)))
                known.update({k: int(i) for k, i in found})
            before = self._suppression_matcher(app.conn, {row["model"] for row in rows}) if model is Alert else None
            for row in rows:
                if row["natural_key"] in known:
                    ids.append(known[row["natural_key"]])
                    existing.append(known[row["natural_key"]])
                    continue
                if before is not None:
                    row["suppression_id"] = before(row["model"], row["metric"], row["feature"], row["created_at"])
                new = app.append(model, row)
                known[row["natural_key"]] = new["id"]
                ids.append(new["id"])
                inserted.append(new["id"])
        return RecordOutcome(tuple(ids), tuple(inserted), tuple(existing))

    def _lineage_row(self, item: LineageIn) -> dict[str, Any]:
        _required(
            type(item).__name__,
            model=item.model,
            partition=item.partition,
            run_id=item.run_id,
            data_fingerprint=item.data_fingerprint,
            config_hash=item.config_hash,
            code_version=item.code_version,
        )
        if isinstance(item.input_files, str):
            raise AuditError(f"{type(item).__name__}.input_files must be a list of paths, not one string")
        return {
            "model": item.model,
            "partition": item.partition,
            "run_id": item.run_id,
            "data_fingerprint": item.data_fingerprint,
            "config_hash": item.config_hash,
            "baseline_version": item.baseline_version,
            "code_version": item.code_version,
            "input_files": _json_text([str(path) for path in item.input_files]),
            "created_at": self._stamp(item.created_at),
        }

    def record_alerts(self, alerts: Sequence[AlertIn]) -> RecordOutcome:
        """Append alerts, skipping any whose natural key is already recorded.

        The natural key is :data:`ALERT_KEY` (model, partition, family, metric, feature,
        severity, baseline version, config hash, data fingerprint, code version): a rerun
        of a partition adds nothing, a changed result is a new row. A new alert records
        the suppression in force at its ``created_at`` (``suppression_id``); suppressed
        alerts are recorded all the same.

        Parameters
        ----------
        alerts : Sequence[AlertIn]

        Returns
        -------
        RecordOutcome
            The id of every input (new or existing), in input order.
        """
        rows = []
        for alert in alerts:
            _required("AlertIn", family=alert.family, metric=alert.metric, message=alert.message)
            severity = str(alert.severity).upper()
            if severity not in SEVERITIES:
                raise AuditError(f"alert severity {alert.severity!r} must be one of {', '.join(SEVERITIES)}")
            rows.append(
                {
                    **self._lineage_row(alert),
                    "family": alert.family,
                    "metric": alert.metric,
                    "feature": alert.feature,
                    "value": alert.value,
                    "severity": severity,
                    "band": alert.band,
                    "rule": alert.rule,
                    "message": alert.message,
                }
            )
        return self._record_keyed(Alert, rows, ALERT_KEY, "recording alerts")

    def record_metrics(self, metrics: Sequence[MetricIn]) -> RecordOutcome:
        """Append metric values, skipping any whose natural key is already recorded.

        The natural key is :data:`METRIC_KEY` (lineage plus family, metric, feature and value).

        Parameters
        ----------
        metrics : Sequence[MetricIn]

        Returns
        -------
        RecordOutcome
        """
        rows = []
        for metric in metrics:
            _required("MetricIn", family=metric.family, metric=metric.metric, status=metric.status)
            rows.append(
                {
                    **self._lineage_row(metric),
                    "family": metric.family,
                    "metric": metric.metric,
                    "feature": metric.feature,
                    "value": metric.value,
                    "p_value": metric.p_value,
                    "ci_low": metric.ci_low,
                    "ci_high": metric.ci_high,
                    "n_reference": metric.n_reference,
                    "n_current": metric.n_current,
                    "status": metric.status,
                    "details": _json_text(dict(metric.details)),
                }
            )
        return self._record_keyed(Metric, rows, METRIC_KEY, "recording metrics")

    def record_report(self, report: ReportIn) -> RecordOutcome:
        """Append a report record unless the same report (:data:`REPORT_KEY`) is recorded.

        Parameters
        ----------
        report : ReportIn

        Returns
        -------
        RecordOutcome
            One id: the new or the existing report's.
        """
        _required("ReportIn", report_type=report.report_type, path=report.path)
        row = {
            **self._lineage_row(report),
            "report_type": report.report_type,
            "path": str(report.path),
            "file_sha256": report.file_sha256,
            "summary": _json_text(dict(report.summary)),
        }
        return self._record_keyed(Report, [row], REPORT_KEY, "recording a report")

    # ------------------------------------------------------------------ decisions
    def record_decisions(self, decisions: Sequence[DecisionIn]) -> RecordOutcome:
        """Append decision records (SPEC §7); every decision is a new record.

        Parameters
        ----------
        decisions : Sequence[DecisionIn]
            ``features_json`` must already be redacted by the caller.

        Returns
        -------
        RecordOutcome
        """
        rows = []
        for d in decisions:
            _required(
                "DecisionIn",
                model=d.model,
                model_version=d.model_version,
                decision_type=d.decision_type,
                input_hash=d.input_hash,
                actor=d.actor,
            )
            prediction = d.prediction
            if prediction is not None and not isinstance(prediction, str):
                prediction = chain.canonical_json(prediction)
            rows.append(
                {
                    "timestamp": _timestamp(d.timestamp, what="decision timestamp"),
                    "model": d.model,
                    "model_version": d.model_version,
                    "decision_type": d.decision_type,
                    "features_json": _json_text(d.features_json),
                    "input_hash": d.input_hash,
                    "prediction": prediction,
                    "confidence": d.confidence,
                    "explanation_json": _json_text(d.explanation_json),
                    "actor": d.actor,
                    "trace_id": d.trace_id,
                    "latency_ms": d.latency_ms,
                    "review_status": d.review_status,
                    "anomaly_flag": d.anomaly_flag,
                    "created_at": self._stamp(d.created_at),
                }
            )
        with self._appending("recording decisions") as app:
            ids = tuple(app.append(Decision, row)["id"] for row in rows)
        return RecordOutcome(ids, ids, ())

    # ------------------------------------------------------------------ baselines
    def register_baseline(
        self,
        model: str,
        version: str,
        window_start: str | dt.date,
        window_end: str | dt.date,
        profile_fingerprint: str,
        created_by: str,
        reason: str,
        activate: bool = True,
        *,
        created_at: str | dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Record a baseline version and, by default, make it the model's active one.

        Registering the same ``(model, version, profile_fingerprint)`` again changes
        nothing (not even activation, so a rerun cannot undo a later baseline reset); the
        same version with another fingerprint is an error. Activating archives the
        previous active baseline; both are recorded as ``baseline_events``.

        Returns
        -------
        dict
            The baseline as listed by :meth:`baselines` (with its ``status``).
        """
        _required(
            "a baseline",
            model=model,
            version=version,
            profile_fingerprint=profile_fingerprint,
            created_by=created_by,
            reason=reason,
        )
        start, end = _date(window_start, what="window_start"), _date(window_end, what="window_end")
        if end < start:
            raise AuditError(f"baseline {model} {version}: window_end {end} is before window_start {start}")
        table = Baseline.__table__
        with self._appending("registering a baseline") as app:
            existing = (
                app.conn.execute(select(table).where(table.c.model == model, table.c.version == version))
                .mappings()
                .one_or_none()
            )
            if existing is not None:
                if existing["profile_fingerprint"] != profile_fingerprint:
                    raise AuditError(
                        f"baseline {model} {version} already exists with profile fingerprint "
                        f"{existing['profile_fingerprint']}; a different profile needs a new version "
                        "(next_baseline_version gives one)"
                    )
            else:
                stamp = self._stamp(created_at)
                row = app.append(
                    Baseline,
                    {
                        "model": model,
                        "version": version,
                        "window_start": start,
                        "window_end": end,
                        "profile_fingerprint": profile_fingerprint,
                        "created_by": created_by,
                        "reason": reason,
                        "created_at": stamp,
                    },
                )
                if activate:
                    self._activate(app, row, actor=created_by, reason=reason, at=stamp)
        return self._baseline(model, version)

    def activate_baseline(
        self, model: str, version: str, *, actor: str, reason: str, created_at: str | dt.datetime | None = None
    ) -> dict[str, Any]:
        """Make an existing baseline version the active one (e.g. roll back a reset).

        Returns
        -------
        dict
            The baseline, now ``active``.
        """
        _required("activating a baseline", actor=actor, reason=reason)
        table = Baseline.__table__
        with self._appending("activating a baseline") as app:
            row = (
                app.conn.execute(select(table).where(table.c.model == model, table.c.version == version))
                .mappings()
                .one_or_none()
            )
            if row is None:
                raise AuditError(f"no baseline {version!r} registered for model {model!r}")
            self._activate(app, dict(row), actor=actor, reason=reason, at=self._stamp(created_at))
        return self._baseline(model, version)

    def _activate(self, app: _Appender, baseline: Mapping[str, Any], *, actor: str, reason: str, at: str) -> None:
        app.flush()
        current = self._active_baseline_row(app.conn, baseline["model"])
        if current is not None and current["id"] == baseline["id"]:
            return
        event_row = {"model": baseline["model"], "actor": actor, "reason": reason, "created_at": at}
        if current is not None:
            app.append(
                BaselineEvent,
                {**event_row, "baseline_id": current["id"], "version": current["version"], "event": "archived"},
            )
        app.append(
            BaselineEvent,
            {**event_row, "baseline_id": baseline["id"], "version": baseline["version"], "event": "activated"},
        )

    @staticmethod
    def _active_baseline_row(conn: Connection, model: str) -> dict[str, Any] | None:
        events, baselines = BaselineEvent.__table__, Baseline.__table__
        last = (
            select(events.c.baseline_id, events.c.created_at, events.c.actor, events.c.reason)
            .where(events.c.model == model, events.c.event == "activated")
            .order_by(events.c.seq.desc())
            .limit(1)
            .subquery()
        )
        row = (
            conn.execute(
                select(
                    baselines,
                    last.c.created_at.label("activated_at"),
                    last.c.actor.label("activated_by"),
                    last.c.reason.label("activation_reason"),
                ).join(last, last.c.baseline_id == baselines.c.id)
            )
            .mappings()
            .one_or_none()
        )
        return dict(row) if row is not None else None

    def active_baseline(self, model: str) -> dict[str, Any] | None:
        """The model's active baseline, derived from its latest activation event.

        Returns
        -------
        dict or None
            Baseline columns plus ``activated_at``, ``activated_by`` and ``activation_reason``.
        """
        with self._reading("reading the active baseline") as conn:
            return self._active_baseline_row(conn, model)

    def baselines(self, model: str) -> list[dict[str, Any]]:
        """Every baseline version of ``model`` in registration order, never deleted.

        ``status`` is ``active`` (the one in force), ``archived`` (active once, since
        replaced) or ``registered`` (recorded with ``activate=False`` and never activated).
        """
        table, events = Baseline.__table__, BaselineEvent.__table__
        with self._reading("listing baselines") as conn:
            rows = conn.execute(select(table).where(table.c.model == model).order_by(table.c.seq)).mappings().all()
            active = self._active_baseline_row(conn, model)
            ever_active = set(
                conn.scalars(select(events.c.baseline_id).where(events.c.model == model, events.c.event == "activated"))
            )
        active_id = active["id"] if active else None
        return [
            {
                **row,
                "status": "active"
                if row["id"] == active_id
                else "archived"
                if row["id"] in ever_active
                else "registered",
            }
            for row in rows
        ]

    def _baseline(self, model: str, version: str) -> dict[str, Any]:
        return next(b for b in self.baselines(model) if b["version"] == version)

    def next_baseline_version(
        self, model: str, window_end: str | dt.date, profile_fingerprint: str | None = None
    ) -> str:
        """The version name for a baseline ending on ``window_end``: ``<date>-v<n>``.

        Parameters
        ----------
        model : str
        window_end : str or date
        profile_fingerprint : str, optional
            If a baseline of that date already has this fingerprint, its version is
            returned (so registering it again is a no-op); otherwise the next free ``n``.

        Returns
        -------
        str
            e.g. ``2013-01-31-v1``, or ``2013-01-31-v2`` when v1 holds another profile.
        """
        prefix = f"{_date(window_end, what='window_end')}-v"
        table = Baseline.__table__
        with self._reading("naming a baseline version") as conn:
            rows = conn.execute(
                select(table.c.version, table.c.profile_fingerprint).where(
                    table.c.model == model, table.c.version.startswith(prefix, autoescape=True)
                )
            ).all()
        used = []
        for version, fingerprint in rows:
            if profile_fingerprint is not None and fingerprint == profile_fingerprint:
                return version
            suffix = version[len(prefix) :]
            if suffix.isdigit():
                used.append(int(suffix))
        return f"{prefix}{max(used, default=0) + 1}"

    # ------------------------------------------------------------------ incidents
    def open_incident(
        self,
        alert_id: int,
        *,
        opened_by: str = "drift_pipeline",
        note: str = "",
        created_at: str | dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Open the incident of an alert; opening it again returns the same incident.

        Returns
        -------
        dict
            The incident as listed by :meth:`incidents` (status ``open`` when new).
        """
        _required("opening an incident", opened_by=opened_by)
        alerts, incidents = Alert.__table__, Incident.__table__
        with self._appending("opening an incident") as app:
            incident_id = app.conn.scalar(select(incidents.c.id).where(incidents.c.alert_id == alert_id))
            if incident_id is None:
                alert = app.conn.execute(select(alerts).where(alerts.c.id == alert_id)).mappings().one_or_none()
                if alert is None:
                    raise AuditError(f"cannot open an incident: there is no alert with id {alert_id}")
                incident_id = app.append(
                    Incident,
                    {
                        "alert_id": alert_id,
                        "model": alert["model"],
                        "partition": alert["partition"],
                        "severity": alert["severity"],
                        "title": alert["message"],
                        "opened_by": opened_by,
                        "note": note,
                        "created_at": self._stamp(created_at),
                    },
                )["id"]
        return self.incident(incident_id)

    def transition_incident(
        self,
        incident_id: int,
        status: Literal["acknowledged", "resolved", "accepted_risk"],
        actor: str,
        note: str = "",
        *,
        created_at: str | dt.datetime | None = None,
    ) -> dict[str, Any]:
        """Move an incident to ``status``, recorded as an event with who, when and why.

        Allowed: open → acknowledged | resolved; acknowledged → resolved | accepted_risk.

        Raises
        ------
        AuditError
            Unknown incident, unknown status, or a transition that is not allowed.
        """
        _required("an incident transition", actor=actor)
        if status not in INCIDENT_TRANSITIONS or status == "open":
            raise AuditError(f"incident status {status!r} must be one of acknowledged, resolved, accepted_risk")
        with self._appending("changing an incident's status") as app:
            current = self._incident_status(app.conn, incident_id)
            if current is None:
                raise AuditError(f"there is no incident with id {incident_id}")
            if status not in INCIDENT_TRANSITIONS[current]:
                allowed = ", ".join(sorted(INCIDENT_TRANSITIONS[current])) or "none (it is closed)"
                raise AuditError(f"incident {incident_id} is {current}; it cannot become {status} (allowed: {allowed})")
            app.append(
                IncidentEvent,
                {
                    "incident_id": incident_id,
                    "from_status": current,
                    "to_status": status,
                    "actor": actor,
                    "note": note,
                    "created_at": self._stamp(created_at),
                },
            )
        return self.incident(incident_id)

    @staticmethod
    def _incident_status(conn: Connection, incident_id: int) -> str | None:
        incidents, events = Incident.__table__, IncidentEvent.__table__
        if conn.scalar(select(incidents.c.id).where(incidents.c.id == incident_id)) is None:
            return None
        last = conn.scalar(
            select(events.c.to_status).where(events.c.incident_id == incident_id).order_by(events.c.seq.desc()).limit(1)
        )
        return last or "open"

    def incident(self, incident_id: int) -> dict[str, Any]:
        """One incident with its current status and its ``events`` (oldest first)."""
        found = self.incidents(incident_id=incident_id)
        if not found:
            raise AuditError(f"there is no incident with id {incident_id}")
        return {**found[0], "events": self.incident_events(incident_id)}

    def incident_events(self, incident_id: int) -> list[dict[str, Any]]:
        """The status transitions of an incident, oldest first."""
        events = IncidentEvent.__table__
        with self._reading("reading incident events") as conn:
            rows = conn.execute(select(events).where(events.c.incident_id == incident_id).order_by(events.c.seq))
            return [dict(row) for row in rows.mappings()]

    def incidents(
        self,
        model: str | None = None,
        status: str | None = None,
        alert_id: int | None = None,
        limit: int | None = None,
        *,
        incident_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """Incidents with their current status derived from their events.

        Returns
        -------
        list of dict
            Incident columns, then ``status``, ``status_at``, ``status_by`` and
            ``status_note`` (the opening's values while the incident is open).
        """
        incidents, events = Incident.__table__, IncidentEvent.__table__
        query = select(incidents).order_by(incidents.c.seq)
        if model is not None:
            query = query.where(incidents.c.model == model)
        if alert_id is not None:
            query = query.where(incidents.c.alert_id == alert_id)
        if incident_id is not None:
            query = query.where(incidents.c.id == incident_id)
        with self._reading("listing incidents") as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
            latest: dict[int, Mapping[str, Any]] = {}
            ids = [r["id"] for r in rows]
            for chunk in _chunks(ids):
                for event_row in conn.execute(
                    select(events).where(events.c.incident_id.in_(chunk)).order_by(events.c.seq)
                ).mappings():
                    latest[event_row["incident_id"]] = event_row
        out = []
        for row in rows:
            last = latest.get(row["id"])
            derived = (
                {
                    "status": last["to_status"],
                    "status_at": last["created_at"],
                    "status_by": last["actor"],
                    "status_note": last["note"],
                }
                if last
                else {
                    "status": "open",
                    "status_at": row["created_at"],
                    "status_by": row["opened_by"],
                    "status_note": row["note"],
                }
            )
            if status is None or derived["status"] == status:
                out.append({**row, **derived})
        return out[:limit] if limit is not None else out

    # ------------------------------------------------------------------ suppressions
    def add_suppression(
        self,
        model: str,
        metric: str,
        feature: str | None,
        rationale: str,
        approver: str,
        expires_at: str | dt.datetime,
        *,
        created_at: str | dt.datetime | None = None,
        incident_id: int | None = None,
    ) -> dict[str, Any]:
        """Accept a risk: suppress notifications for one model and metric (and feature).

        ``feature=None`` covers every feature of the metric. Alerts are still recorded
        while suppressed (with ``suppression_id`` set).

        Raises
        ------
        AuditError
            Missing rationale or approver, or an expiry not after creation or more than
            ``max_suppression_days`` (default 30) after it.
        """
        _required("a suppression", model=model, metric=metric, rationale=rationale, approver=approver)
        created = self._stamp(created_at)
        expires = _timestamp(expires_at, what="expires_at")
        span = dt.datetime.fromisoformat(expires) - dt.datetime.fromisoformat(created)
        scope = f"{model}.{metric}" + (f".{feature}" if feature else "")
        if span <= dt.timedelta(0):
            raise AuditError(f"suppression of {scope}: expires_at {expires} is not after its creation {created}")
        if span > dt.timedelta(days=self.max_suppression_days):
            raise AuditError(
                f"suppression of {scope} would last {span.days} days {span.seconds // 3600} h "
                f"(until {expires}); accepted risk may last at most {self.max_suppression_days} days "
                "from creation: choose an earlier expiry and renew it if still needed"
            )
        with self._appending("adding a suppression") as app:
            row = app.append(
                Suppression,
                {
                    "model": model,
                    "metric": metric,
                    "feature": feature,
                    "rationale": rationale,
                    "approver": approver,
                    "incident_id": incident_id,
                    "expires_at": expires,
                    "created_at": created,
                },
            )
        return dict(row)

    def _suppression_matcher(self, conn: Connection, models: set[str]) -> Any:
        """A function (model, metric, feature, at) -> suppression id, over one query."""
        table = Suppression.__table__
        rows = [dict(r) for r in conn.execute(select(table).where(table.c.model.in_(sorted(models)))).mappings()]

        def match(model: str, metric: str, feature: str | None, at: str) -> int | None:
            best = _best_suppression(rows, model, metric, feature, at)
            return best["id"] if best else None

        return match

    def active_suppression(
        self, model: str, metric: str, feature: str | None = None, at: str | dt.datetime | None = None
    ) -> dict[str, Any] | None:
        """The suppression in force for ``model.metric[.feature]`` at ``at`` (default now).

        A feature-specific suppression wins over a metric-wide one; among equals the
        newest wins. ``created_at <= at < expires_at``.
        """
        moment = self._now() if at is None else _timestamp(at, what="at")
        table = Suppression.__table__
        with self._reading("reading suppressions") as conn:
            rows = [
                dict(r)
                for r in conn.execute(
                    select(table).where(table.c.model == model, table.c.metric == metric).order_by(table.c.seq)
                ).mappings()
            ]
        return _best_suppression(rows, model, metric, feature, moment)

    def suppressions(
        self, model: str | None = None, active_at: str | dt.datetime | None = None
    ) -> list[dict[str, Any]]:
        """All suppressions (or those in force at ``active_at``), oldest first."""
        table = Suppression.__table__
        query = select(table).order_by(table.c.seq)
        if model is not None:
            query = query.where(table.c.model == model)
        if active_at is not None:
            moment = _timestamp(active_at, what="active_at")
            query = query.where(table.c.created_at <= moment, table.c.expires_at > moment)
        with self._reading("listing suppressions") as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------------ read API
    def _select(
        self,
        model_cls: type[AuditRecord],
        equal: Mapping[str, Any],
        *,
        time_column: str = "created_at",
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        table = model_cls.__table__
        query = select(table)
        for name, value in equal.items():
            if value is None:
                continue
            column = table.c[name]
            values = [value] if isinstance(value, (str, int)) else list(value)
            query = query.where(column.in_(values))
        if since is not None:
            query = query.where(table.c[time_column] >= _timestamp(since, what="since"))
        if until is not None:
            query = query.where(table.c[time_column] < _timestamp(until, what="until"))
        query = query.order_by(table.c.seq.desc() if newest_first else table.c.seq)
        if limit is not None:
            query = query.limit(limit)
        with self._reading(f"reading {table.name}") as conn:
            return [_as_dict(row) for row in conn.execute(query).mappings()]

    def alerts(
        self,
        model: str | None = None,
        partition: str | None = None,
        severity: str | Sequence[str] | None = None,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Alerts in chain order, filtered; ``since`` inclusive, ``until`` exclusive (on ``created_at``).

        Returns
        -------
        list of dict
            One dict per alert, keys in table column order; ``input_files`` decoded to a list.
        """
        return self._select(
            Alert,
            {"model": model, "partition": partition, "severity": severity},
            since=since,
            until=until,
            limit=limit,
            newest_first=newest_first,
        )

    def metrics(
        self,
        model: str | None = None,
        partition: str | None = None,
        family: str | None = None,
        metric: str | None = None,
        feature: str | None = None,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Metric rows in chain order, filtered like :meth:`alerts`; ``details`` decoded to a dict."""
        return self._select(
            Metric,
            {"model": model, "partition": partition, "family": family, "metric": metric, "feature": feature},
            since=since,
            until=until,
            limit=limit,
            newest_first=newest_first,
        )

    def reports(
        self,
        model: str | None = None,
        partition: str | None = None,
        report_type: str | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Report records in chain order; ``summary`` decoded to a dict."""
        return self._select(
            Report,
            {"model": model, "partition": partition, "report_type": report_type},
            limit=limit,
            newest_first=newest_first,
        )

    def decisions(
        self,
        model: str | None = None,
        since: str | dt.datetime | dt.date | None = None,
        until: str | dt.datetime | dt.date | None = None,
        limit: int | None = None,
        *,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Decision records in chain order; ``since``/``until`` apply to the decision ``timestamp``."""
        return self._select(
            Decision,
            {"model": model},
            time_column="timestamp",
            since=since,
            until=until,
            limit=limit,
            newest_first=newest_first,
        )

    def decision_version(self, model: str) -> tuple[int, int]:
        """``(count, newest seq)`` of the model's decision records: changes exactly when a decision is recorded."""
        table = Decision.__table__
        query = select(func.count(), func.max(table.c.seq)).where(table.c.model == model)
        with self._reading("reading the decision log's version") as conn:
            count, seq = conn.execute(query).one()
        return int(count), int(seq or 0)

    def counts_by_severity(self, model: str | None = None) -> dict[str, int]:
        """Number of alerts per severity, every severity present (``{"INFO": 3, "WARNING": 0, ...}``)."""
        table = Alert.__table__
        query = select(table.c.severity, func.count()).group_by(table.c.severity)
        if model is not None:
            query = query.where(table.c.model == model)
        with self._reading("counting alerts") as conn:
            counts = {str(severity): int(n) for severity, n in conn.execute(query)}
        return {severity: counts.get(severity, 0) for severity in SEVERITIES}

    def trace(self, alert_id: int) -> dict[str, Any]:
        """Everything an auditor needs to reproduce an alert.

        The metric and report rows are those of the same model and partition computed
        from the same inputs, config, baseline and code (their ``run_id`` may differ from
        the alert's: an idempotent rerun keeps the first run's records).

        Returns
        -------
        dict
            ``alert``, ``metrics``, ``reports``, ``baseline`` (with ``status``, or None),
            ``input_files``, ``data_fingerprint``, ``config_hash``, ``baseline_version``,
            ``code_version``, ``run_id``, ``incident`` (with events, or None) and
            ``suppression`` (the one in force when it was recorded, or None).
        """
        found = self._select(Alert, {"id": alert_id})
        if not found:
            raise AuditError(f"there is no alert with id {alert_id}")
        alert = found[0]
        same_result = {
            "model": alert["model"],
            "partition": alert["partition"],
            "config_hash": alert["config_hash"],
            "data_fingerprint": alert["data_fingerprint"],
            "code_version": alert["code_version"],
        }
        metrics = [m for m in self._select(Metric, same_result) if m["baseline_version"] == alert["baseline_version"]]
        reports = [r for r in self._select(Report, same_result) if r["baseline_version"] == alert["baseline_version"]]
        baseline = None
        if alert["baseline_version"] is not None:
            baseline = next(
                (b for b in self.baselines(alert["model"]) if b["version"] == alert["baseline_version"]), None
            )
        incidents = self.incidents(alert_id=alert_id)
        suppression = None
        if alert["suppression_id"] is not None:
            suppression = next(iter(self._select(Suppression, {"id": alert["suppression_id"]})), None)
        return {
            "alert": alert,
            "metrics": metrics,
            "reports": reports,
            "baseline": baseline,
            "input_files": alert["input_files"],
            "data_fingerprint": alert["data_fingerprint"],
            "config_hash": alert["config_hash"],
            "baseline_version": alert["baseline_version"],
            "code_version": alert["code_version"],
            "run_id": alert["run_id"],
            "incident": self.incident(incidents[0]["id"]) if incidents else None,
            "suppression": suppression,
        }


def _best_suppression(
    rows: Sequence[Mapping[str, Any]], model: str, metric: str, feature: str | None, at: str
) -> dict[str, Any] | None:
    """Most specific, then newest, suppression of ``rows`` in force at ``at``."""
    candidates = [
        r
        for r in rows
        if r["model"] == model
        and r["metric"] == metric
        and (r["feature"] is None or r["feature"] == feature)
        and r["created_at"] <= at < r["expires_at"]
    ]
    if not candidates:
        return None
    return dict(max(candidates, key=lambda r: (r["feature"] is not None, r["seq"])))
