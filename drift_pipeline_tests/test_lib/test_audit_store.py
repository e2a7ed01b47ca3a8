"""The audit store on SQLite and (marked ``postgres``) PostgreSQL: migrations, the chain
against tampering done with raw SQL behind the store's back, idempotent reruns,
baselines, incidents, suppressions, decisions, the read API and lineage tracing."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from drift_pipeline.lib.audit import (
    GENESIS_HASH,
    AlertIn,
    AuditError,
    AuditStore,
    DecisionIn,
    MetricIn,
    ReportIn,
    migrations,
)
from drift_pipeline.lib.audit.models import RECORD_MODELS, Alert, Base
from drift_pipeline_tests.postgres_util import postgres_db_url  # noqa: F401  (fixture)

T0 = dt.datetime(2013, 2, 1, 2, 0, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/var/audit/audit.db"
    return request.getfixturevalue("postgres_db_url")


@pytest.fixture
def store(db_url):
    with AuditStore(db_url, clock=lambda: T0) as s:
        s.migrate()
        yield s


@pytest.fixture
def raw(db_url):
    """A plain engine on the same database, for tampering behind the store's back."""
    url = sa.engine.make_url(db_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    engine = sa.create_engine(url)
    yield engine
    engine.dispose()


def lineage(**overrides):
    values = {
        "model": "compas",
        "partition": "2013-02-01",
        "run_id": "run-1",
        "data_fingerprint": "fp-1",
        "config_hash": "cfg-1",
        "code_version": "code-1",
        "baseline_version": "2013-01-31-v1",
        "input_files": ["data/compas/2013-02-01.csv"],
        "created_at": T0.isoformat(),
    }
    return {**values, **overrides}


def an_alert(**overrides):
    fields = {"family": "data", "metric": "psi", "feature": "age", "value": 0.31, "severity": "CRITICAL"}
    fields |= {"band": ">= 0.25", "rule": "policy.bands.data.psi", "message": "PSI of age is 0.31 (>= 0.25)"}
    own = {k: overrides.pop(k) for k in list(overrides) if k in fields}
    return AlertIn(**lineage(**overrides), **(fields | own))


def a_metric(**overrides):
    fields = {"family": "data", "metric": "psi", "feature": "age", "value": 0.31, "n_reference": 500, "n_current": 80}
    own = {k: overrides.pop(k) for k in list(overrides) if k in {*fields, "p_value", "details", "status"}}
    return MetricIn(**lineage(**overrides), **(fields | own))


def a_decision(i=0, **overrides):
    fields = {
        "timestamp": T0 + dt.timedelta(hours=i),
        "model": "credit",
        "model_version": "1.0",
        "decision_type": "approve_loan",
        "features_json": {"income": 52000.5, "email": "[REDACTED]"},
        "input_hash": f"in-{i}",
        "actor": "service:scorer",
        "prediction": "approve" if i % 2 else "deny",
        "confidence": 0.5 + i / 100,
        "trace_id": f"trace-{i}",
        "latency_ms": 12.5,
    }
    return DecisionIn(**(fields | overrides))


def populate(store):
    """A small history touching every record kind; returns the ids tests tamper with."""
    store.register_baseline("compas", "2013-01-31-v1", "2013-01-01", "2013-01-31", "prof-1", "alice", "initial")
    metrics = store.record_metrics(
        [a_metric(), a_metric(metric="ks", value=0.2, p_value=1e-6), a_metric(feature="priors_count", value=0.02)]
    )
    alerts = store.record_alerts([an_alert(), an_alert(feature="priors_count", value=0.12, severity="WARNING")])
    store.record_report(ReportIn(**lineage(), report_type="drift_html", path="var/reports/compas/2013-02-01.html"))
    incident = store.open_incident(alerts.ids[0])
    store.transition_incident(incident["id"], "acknowledged", "bob", "looking into it")
    store.record_decisions([a_decision(0), a_decision(1)])
    return {"metrics": metrics.ids, "alerts": alerts.ids, "incident": incident["id"]}


def seq_of(raw, table, record_id):
    with raw.connect() as conn:
        return conn.execute(sa.text(f"SELECT seq FROM {table} WHERE id = :id"), {"id": record_id}).scalar_one()


def run_sql(raw, *statements, **params):
    with raw.begin() as conn:
        for statement in statements:
            conn.execute(sa.text(statement), params)


# --------------------------------------------------------------------------- migrations


def test_migrate_creates_the_folder_and_is_idempotent(tmp_path):
    path = tmp_path / "var" / "audit" / "audit.db"
    store = AuditStore(f"sqlite:///{path}")
    assert not path.parent.exists()
    head = migrations.head_revision()
    assert store.migrate() == head
    assert path.exists()
    assert store.migrate() == head
    assert store.schema_revision() == head
    assert store.head() == (0, GENESIS_HASH)


def test_migrations_create_exactly_the_models_schema(store, raw):
    with raw.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": migrations.VERSION_TABLE})
        assert compare_metadata(context, Base.metadata) == []


def test_migrate_from_several_processes_at_once(db_url):
    code = "import sys; from drift_pipeline.lib.audit import AuditStore; print(AuditStore(sys.argv[1]).migrate())"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outcomes = [child.communicate(timeout=120) for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], outcomes
    assert {out.strip() for out, _ in outcomes} == {migrations.head_revision()}
    store = AuditStore(db_url)
    store.record_alerts([an_alert()])
    assert store.verify().ok
    store.close()


def test_downgrade_to_base_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    AuditStore(url).migrate()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "base")
    assert set(sa.inspect(engine).get_table_names()) == {migrations.VERSION_TABLE}
    with engine.begin() as conn:
        migrations.upgrade(conn)
    assert {m.__tablename__ for m in RECORD_MODELS} < set(sa.inspect(engine).get_table_names())
    engine.dispose()


def test_an_unmigrated_store_says_to_migrate(tmp_path):
    store = AuditStore(f"sqlite:///{tmp_path}/empty.db")
    with pytest.raises(AuditError, match=r"no audit schema yet: run AuditStore\(url\)\.migrate\(\)"):
        store.alerts()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "is not a database URL"),
        ("nosuchdb://u:hunter2@h/x", "cannot be used"),
    ],
)
def test_a_bad_url_is_an_audit_error_without_the_password(url, expected):
    with pytest.raises(AuditError, match=expected) as info:
        AuditStore(url)
    assert "hunter2" not in str(info.value)


@pytest.mark.postgres
def test_an_unreachable_database_is_an_audit_error_naming_the_masked_url():
    with pytest.raises(AuditError) as info:
        AuditStore("postgresql://auditor:hunter2@127.0.0.1:1/audit").migrate()
    message = str(info.value)
    assert "postgresql://auditor:***@127.0.0.1:1/audit" in message
    assert "migrating the schema failed" in message and "hunter2" not in message


def test_a_sqlite_file_that_cannot_be_created_is_an_audit_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AuditError, match="cannot create folder"):
        AuditStore(f"sqlite:///{blocker}/audit/audit.db").migrate()


# --------------------------------------------------------------------------- chain and tampering


def test_the_store_has_no_update_or_delete_methods():
    verbs = ("update", "delete", "remove", "edit", "drop", "purge", "truncate")
    assert [name for name in dir(AuditStore) if name.lstrip("_").startswith(verbs)] == []


def test_every_record_kind_joins_one_chain_that_verifies(store):
    populate(store)
    report = store.verify()
    assert report.ok, str(report)
    seq, head = store.head()
    assert (report.records, report.head_seq, report.head_hash) == (seq, seq, head)
    assert seq == 12  # baseline + activation, 3 metrics, 2 alerts, report, incident + event, 2 decisions


def test_floats_read_back_bit_for_bit(store):
    values = [0.1 + 0.2, 1e-300, -2.5e300, float("inf"), 5e-324, 1 / 3]
    store.record_metrics([a_metric(feature=f"f{i}", value=v) for i, v in enumerate(values)])
    store.record_metrics([a_metric(feature="nan", value=float("nan"))])
    assert [m["value"] for m in store.metrics()] == [*values, None]
    assert store.verify().ok


def test_an_edited_record_is_named(store, raw):
    ids = populate(store)
    alert_id = ids["alerts"][0]
    run_sql(raw, "UPDATE alerts SET severity = 'INFO' WHERE id = :id", id=alert_id)
    report = store.verify()
    [problem] = report.problems
    assert (problem.problem, problem.kind, problem.record_id, problem.seq) == (
        "edited",
        "alert",
        alert_id,
        seq_of(raw, "alerts", alert_id),
    )
    assert f"alert id {alert_id}" in str(report)


def test_a_deleted_record_is_named(store, raw):
    ids = populate(store)
    metric_id = ids["metrics"][1]
    seq = seq_of(raw, "metrics", metric_id)
    run_sql(raw, "DELETE FROM metrics WHERE id = :id", id=metric_id)
    [problem] = store.verify().problems
    assert (problem.problem, problem.kind, problem.record_id, problem.seq) == ("deleted", "metric", metric_id, seq)


def test_reordered_records_are_named(store, raw):
    ids = populate(store)
    alert_id, metric_id = ids["alerts"][0], ids["metrics"][0]
    a, m = seq_of(raw, "alerts", alert_id), seq_of(raw, "metrics", metric_id)
    run_sql(
        raw,
        "UPDATE alerts SET seq = -1 WHERE id = :alert",
        "UPDATE metrics SET seq = :a WHERE id = :metric",
        "UPDATE alerts SET seq = :m WHERE id = :alert",
        alert=alert_id,
        metric=metric_id,
        a=a,
        m=m,
    )
    problems = store.verify().problems
    assert problems and {p.problem for p in problems} == {"reordered"}
    assert {("alert", alert_id), ("metric", metric_id)} <= {(p.kind, p.record_id) for p in problems}


def test_truncation_covered_up_is_caught_by_the_exported_head(store, raw):
    populate(store)
    exported_seq, exported_head = store.head()
    with raw.connect() as conn:
        last = conn.execute(sa.text("SELECT id, seq FROM decisions ORDER BY seq DESC LIMIT 1")).one()
        previous_hash = conn.execute(
            sa.text("SELECT record_hash FROM decisions WHERE seq = :s"), {"s": last.seq - 1}
        ).scalar_one()
    # delete the newest record and move the head pointer back, as a careful forger would
    run_sql(
        raw,
        "DELETE FROM decisions WHERE id = :id",
        "UPDATE chain_head SET seq = :seq, record_hash = :hash WHERE id = 1",
        id=last.id,
        seq=last.seq - 1,
        hash=previous_hash,
    )
    assert store.verify().ok  # a shorter chain is consistent in itself...
    report = store.verify(expected_head=exported_head, expected_count=exported_seq)
    assert not report.ok  # ...but the head exported earlier is gone
    assert {p.problem for p in report.problems} == {"truncated"}
    assert exported_head[:12] in str(report)


def test_truncation_without_a_cover_up_is_caught_by_the_head_pointer(store, raw):
    populate(store)
    run_sql(raw, "DELETE FROM decisions WHERE seq = (SELECT MAX(seq) FROM decisions)")
    [problem] = store.verify().problems
    assert problem.problem == "truncated" and "1 record(s) were deleted" in problem.message


def test_an_exported_head_still_verifies_after_the_chain_grows(store):
    populate(store)
    count, exported = store.head()
    store.record_decisions([a_decision(5)])
    assert store.verify(expected_head=exported, expected_count=count).ok


def test_concurrent_writers_never_fork_the_chain(db_url, store):
    errors = []

    def write(worker):
        try:
            with AuditStore(db_url) as own:
                for i in range(8):
                    own.record_decisions([a_decision(worker * 100 + i)])
                    own.record_alerts([an_alert(partition=f"2013-02-{worker + 1:02d}", feature=f"f{i}")])
        except Exception as exc:  # noqa: BLE001  (any failure in a worker fails the test below)
            errors.append((worker, exc))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    report = store.verify()
    assert report.ok, str(report)
    assert report.records == store.head()[0] == 64


# --------------------------------------------------------------------------- idempotency


def test_rerunning_a_partition_adds_no_alerts_metrics_or_reports(store):
    ids = populate(store)
    head = store.head()
    again_alerts = store.record_alerts(
        [
            an_alert(run_id="run-2", created_at="2013-03-01T00:00:00"),
            an_alert(feature="priors_count", value=0.12, severity="WARNING"),
        ]
    )
    again_metrics = store.record_metrics([a_metric(run_id="run-2")])
    again_report = store.record_report(
        ReportIn(**lineage(run_id="run-2"), report_type="drift_html", path="var/reports/compas/2013-02-01.html")
    )
    assert again_alerts.ids == ids["alerts"] and again_alerts.inserted_ids == ()
    assert again_metrics.existing_ids == (ids["metrics"][0],)
    assert again_report.inserted_ids == ()
    assert store.head() == head
    assert len(store.alerts()) == 2


@pytest.mark.parametrize(
    "change",
    [
        {"config_hash": "cfg-2"},
        {"data_fingerprint": "fp-2"},
        {"code_version": "code-2"},
        {"baseline_version": "v9"},
        {"severity": "WARNING"},
    ],
)
def test_a_changed_result_is_a_new_alert(store, change):
    first = store.record_alerts([an_alert()])
    second = store.record_alerts([an_alert(**change)])
    assert second.inserted_ids and second.ids != first.ids


def test_a_changed_metric_value_is_a_new_row(store):
    first = store.record_metrics([a_metric(value=0.31)])
    assert store.record_metrics([a_metric(value=0.32)]).ids != first.ids


def test_duplicates_within_one_batch_are_recorded_once(store):
    outcome = store.record_alerts([an_alert(), an_alert(), an_alert(feature="sex")])
    assert outcome.ids[0] == outcome.ids[1] != outcome.ids[2]
    assert len(outcome.inserted_ids) == 2 and outcome.existing_ids == (outcome.ids[0],)


def test_invalid_alerts_are_rejected_with_the_field(store):
    with pytest.raises(AuditError, match="severity 'SEVERE'"):
        store.record_alerts([an_alert(severity="SEVERE")])
    with pytest.raises(AuditError, match="data_fingerprint"):
        store.record_alerts([an_alert(data_fingerprint="")])
    with pytest.raises(AuditError, match="not an ISO-8601 timestamp"):
        store.record_alerts([an_alert(created_at="yesterday")])
    assert store.head()[0] == 0


# --------------------------------------------------------------------------- baselines


def test_baselines_switch_with_exactly_one_active(store):
    first = store.register_baseline("compas", "2013-01-31-v1", "2013-01-01", "2013-01-31", "prof-1", "alice", "initial")
    assert first["status"] == "active"
    store.register_baseline(
        "compas", "2013-02-07-v1", "2013-02-01", "2013-02-07", "prof-2", "bob", "reset: last 7 days"
    )
    assert [(b["version"], b["status"]) for b in store.baselines("compas")] == [
        ("2013-01-31-v1", "archived"),
        ("2013-02-07-v1", "active"),
    ]
    assert store.active_baseline("compas")["version"] == "2013-02-07-v1"
    assert store.active_baseline("flights") is None


def test_registering_a_baseline_again_changes_nothing(store):
    store.register_baseline("compas", "2013-01-31-v1", "2013-01-01", "2013-01-31", "prof-1", "alice", "initial")
    store.register_baseline("compas", "2013-02-07-v1", "2013-02-01", "2013-02-07", "prof-2", "bob", "reset")
    head = store.head()
    again = store.register_baseline("compas", "2013-01-31-v1", "2013-01-01", "2013-01-31", "prof-1", "alice", "rerun")
    assert again["status"] == "archived"  # a rerun must not undo the reset
    assert store.head() == head


def test_a_version_cannot_be_reused_for_another_profile(store):
    store.register_baseline("compas", "2013-01-31-v1", "2013-01-01", "2013-01-31", "prof-1", "alice", "initial")
    with pytest.raises(AuditError, match="already exists with profile fingerprint prof-1"):
        store.register_baseline("compas", "2013-01-31-v1", "2013-01-01", "2013-01-31", "prof-X", "alice", "oops")


def test_next_baseline_version_counts_per_date_and_reuses_a_known_profile(store):
    assert store.next_baseline_version("compas", dt.date(2013, 1, 31)) == "2013-01-31-v1"
    store.register_baseline("compas", "2013-01-31-v1", "2013-01-01", "2013-01-31", "prof-1", "alice", "initial")
    assert store.next_baseline_version("compas", "2013-01-31", "prof-2") == "2013-01-31-v2"
    assert store.next_baseline_version("compas", "2013-01-31", "prof-1") == "2013-01-31-v1"
    assert store.next_baseline_version("flights", "2013-01-31", "prof-1") == "2013-01-31-v1"


def test_a_baseline_can_be_reactivated_and_history_is_kept(store):
    store.register_baseline("compas", "2013-01-31-v1", "2013-01-01", "2013-01-31", "prof-1", "alice", "initial")
    store.register_baseline("compas", "2013-02-07-v1", "2013-02-01", "2013-02-07", "prof-2", "bob", "reset")
    store.register_baseline(
        "compas", "2013-02-14-v1", "2013-02-08", "2013-02-14", "prof-3", "bob", "candidate", activate=False
    )
    active = store.activate_baseline("compas", "2013-01-31-v1", actor="carol", reason="roll back the reset")
    assert (active["status"], store.active_baseline("compas")["activated_by"]) == ("active", "carol")
    assert [b["status"] for b in store.baselines("compas")] == ["active", "archived", "registered"]
    with pytest.raises(AuditError, match="no baseline 'v7'"):
        store.activate_baseline("compas", "v7", actor="carol", reason="typo")


# --------------------------------------------------------------------------- incidents


def test_incident_lifecycle_is_append_only(store):
    alert_id = store.record_alerts([an_alert()]).ids[0]
    incident = store.open_incident(alert_id, opened_by="drift_pipeline")
    assert store.open_incident(alert_id)["id"] == incident["id"]  # one per alert
    assert incident["status"] == "open"
    store.transition_incident(incident["id"], "acknowledged", "bob", "investigating")
    closed = store.transition_incident(incident["id"], "accepted_risk", "carol", "seasonal shift")
    assert (closed["status"], closed["status_by"], closed["status_note"]) == (
        "accepted_risk",
        "carol",
        "seasonal shift",
    )
    assert [(e["from_status"], e["to_status"]) for e in closed["events"]] == [
        ("open", "acknowledged"),
        ("acknowledged", "accepted_risk"),
    ]
    assert [i["id"] for i in store.incidents(status="accepted_risk")] == [incident["id"]]
    assert store.incidents(status="open") == []


def test_open_can_be_resolved_directly(store):
    alert_id = store.record_alerts([an_alert()]).ids[0]
    incident = store.open_incident(alert_id)
    assert store.transition_incident(incident["id"], "resolved", "bob", "false alarm")["status"] == "resolved"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (["accepted_risk"], "incident 1 is open; it cannot become accepted_risk"),
        (["resolved", "acknowledged"], "is resolved; it cannot become acknowledged .allowed: none"),
        (["reopened"], "must be one of acknowledged, resolved, accepted_risk"),
    ],
)
def test_disallowed_incident_transitions_raise(store, path, message):
    incident = store.open_incident(store.record_alerts([an_alert()]).ids[0])
    with pytest.raises(AuditError, match=message):
        for status in path:
            store.transition_incident(incident["id"], status, "bob")


def test_incidents_need_an_existing_alert_or_incident(store):
    with pytest.raises(AuditError, match="no alert with id 42"):
        store.open_incident(42)
    with pytest.raises(AuditError, match="no incident with id 42"):
        store.transition_incident(42, "resolved", "bob")


# --------------------------------------------------------------------------- suppressions


def test_a_suppression_may_last_thirty_days_and_no_longer(store):
    ok = store.add_suppression("compas", "psi", "age", "seasonal", "carol", T0 + dt.timedelta(days=30), created_at=T0)
    assert ok["expires_at"] == "2013-03-03T02:00:00.000000+00:00"
    with pytest.raises(AuditError, match="at most 30 days from creation") as info:
        store.add_suppression(
            "compas", "psi", "age", "seasonal", "carol", T0 + dt.timedelta(days=30, seconds=1), created_at=T0
        )
    assert "compas.psi.age" in str(info.value)
    with pytest.raises(AuditError, match="is not after its creation"):
        store.add_suppression("compas", "psi", "age", "seasonal", "carol", T0, created_at=T0)
    with pytest.raises(AuditError, match="rationale"):
        store.add_suppression("compas", "psi", "age", "  ", "carol", T0 + dt.timedelta(days=1), created_at=T0)


def test_the_limit_comes_from_the_caller(db_url):
    with AuditStore(db_url, max_suppression_days=7, clock=lambda: T0) as store:
        store.migrate()
        with pytest.raises(AuditError, match="at most 7 days"):
            store.add_suppression("compas", "psi", None, "x", "carol", T0 + dt.timedelta(days=8))


def test_active_suppression_by_time_and_scope(store):
    wide = store.add_suppression(
        "compas", "psi", None, "all features", "carol", T0 + dt.timedelta(days=10), created_at=T0
    )
    narrow = store.add_suppression(
        "compas", "psi", "age", "age only", "carol", T0 + dt.timedelta(days=5), created_at=T0
    )
    day = dt.timedelta(days=1)
    assert store.active_suppression("compas", "psi", "age", T0 + day)["id"] == narrow["id"]
    assert store.active_suppression("compas", "psi", "sex", T0 + day)["id"] == wide["id"]
    assert store.active_suppression("compas", "psi", "age", T0 + 6 * day)["id"] == wide["id"]
    assert store.active_suppression("compas", "psi", "age", T0 + 10 * day) is None
    assert store.active_suppression("compas", "psi", "age", T0 - day) is None
    assert store.active_suppression("compas", "kl", "age", T0 + day) is None
    assert [s["id"] for s in store.suppressions("compas", active_at=T0 + 6 * day)] == [wide["id"]]


def test_suppressed_alerts_are_still_recorded_with_their_suppression(store):
    suppression = store.add_suppression(
        "compas", "psi", "age", "seasonal", "carol", T0 + dt.timedelta(days=3), created_at=T0
    )
    outcome = store.record_alerts([an_alert(), an_alert(feature="sex")])
    assert [a["suppression_id"] for a in store.alerts()] == [suppression["id"], None]
    assert store.trace(outcome.ids[0])["suppression"]["rationale"] == "seasonal"


# --------------------------------------------------------------------------- decisions and reads


def test_decisions_round_trip_and_filter_by_timestamp(store):
    outcome = store.record_decisions([a_decision(i, anomaly_flag=i == 2, prediction=i) for i in range(4)])
    assert len(outcome.inserted_ids) == 4
    rows = store.decisions(model="credit", since=T0 + dt.timedelta(hours=1), until=T0 + dt.timedelta(hours=3))
    assert [(r["prediction"], r["anomaly_flag"]) for r in rows] == [("1", False), ("2", True)]
    assert rows[0]["features_json"] == '{"email":"[REDACTED]","income":52000.5}'
    assert rows[0]["timestamp"] == "2013-02-01T03:00:00.000000+00:00"
    assert store.decisions(limit=1, newest_first=True)[0]["input_hash"] == "in-3"


def test_alert_reads_filter_and_keep_a_stable_column_order(store):
    store.record_alerts(
        [
            an_alert(),
            an_alert(feature="sex", severity="WARNING", created_at="2013-02-02T00:00:00+00:00"),
            an_alert(partition="2013-02-02", severity="INFO", created_at="2013-02-03T00:00:00+00:00"),
            an_alert(model="flights", severity="WARNING"),
        ]
    )
    rows = store.alerts()
    assert all(list(row) == [c.name for c in Alert.__table__.columns] for row in rows)
    assert rows[0]["input_files"] == ["data/compas/2013-02-01.csv"]
    assert len(store.alerts(model="compas", partition="2013-02-01")) == 2
    assert [r["feature"] for r in store.alerts(severity=["WARNING", "INFO"], model="compas")] == ["sex", "age"]
    assert len(store.alerts(since="2013-02-02", until=dt.date(2013, 2, 3))) == 1
    assert store.alerts(limit=1, newest_first=True)[0]["model"] == "flights"
    assert store.counts_by_severity() == {"INFO": 1, "WARNING": 2, "CRITICAL": 1}
    assert store.counts_by_severity("flights") == {"INFO": 0, "WARNING": 1, "CRITICAL": 0}


def test_trace_follows_an_alert_to_its_data_config_baseline_and_code(store):
    ids = populate(store)
    store.record_metrics([a_metric(config_hash="cfg-other")])  # another config: not part of the trace
    trace = store.trace(ids["alerts"][0])
    assert trace["alert"]["id"] == ids["alerts"][0]
    assert sorted(m["id"] for m in trace["metrics"]) == sorted(ids["metrics"])
    assert trace["baseline"]["version"] == "2013-01-31-v1" and trace["baseline"]["profile_fingerprint"] == "prof-1"
    assert [r["report_type"] for r in trace["reports"]] == ["drift_html"]
    assert trace["input_files"] == ["data/compas/2013-02-01.csv"]
    assert (trace["data_fingerprint"], trace["config_hash"], trace["code_version"]) == ("fp-1", "cfg-1", "code-1")
    assert trace["incident"]["status"] == "acknowledged"
    with pytest.raises(AuditError, match="no alert with id 999"):
        store.trace(999)


def test_a_memory_store_works_for_quick_experiments():
    store = AuditStore("sqlite://")
    store.migrate()
    store.record_alerts([an_alert()])
    assert store.verify().ok and store.counts_by_severity()["CRITICAL"] == 1


def test_a_deleted_head_pointer_is_reported(store, raw):
    populate(store)
    run_sql(raw, "DELETE FROM chain_head")
    report = store.verify()
    assert not report.ok and report.problems[-1].problem == "head_mismatch"
    with pytest.raises(AuditError, match="chain_head row is missing"):
        store.record_alerts([an_alert()])


def test_verify_during_concurrent_writes_sees_one_consistent_snapshot(db_url, store):
    populate(store)
    stop = threading.Event()

    def write():
        with AuditStore(db_url) as own:
            i = 0
            while not stop.is_set():
                own.record_decisions([a_decision(1000 + i)])
                i += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        reports = [store.verify() for _ in range(5)]
    finally:
        stop.set()
        writer.join()
    assert all(r.ok for r in reports), [str(r) for r in reports if not r.ok]
