"""Initial audit schema: nine chained record tables and the chain head pointer.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("partition", sa.String(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("feature", sa.String(), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("band", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("suppression_id", sa.Integer(), nullable=True),
        sa.Column("natural_key", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("data_fingerprint", sa.String(), nullable=False),
        sa.Column("config_hash", sa.String(), nullable=False),
        sa.Column("baseline_version", sa.String(), nullable=True),
        sa.Column("code_version", sa.String(), nullable=False),
        sa.Column("input_files", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("natural_key", name=op.f("uq_alerts_natural_key")),
        sa.UniqueConstraint("seq", name=op.f("uq_alerts_seq")),
    )
    op.create_index(op.f("ix_alerts_model_partition"), "alerts", ["model", "partition"])
    op.create_index(op.f("ix_alerts_severity"), "alerts", ["severity"])

    op.create_table(
        "baselines",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("window_start", sa.String(length=10), nullable=False),
        sa.Column("window_end", sa.String(length=10), nullable=False),
        sa.Column("profile_fingerprint", sa.String(), nullable=False),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baselines")),
        sa.UniqueConstraint("model", "version", name=op.f("uq_baselines_model_version")),
        sa.UniqueConstraint("seq", name=op.f("uq_baselines_seq")),
    )
    chain_head = op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_head")),
    )
    # The empty chain: seq 0 and the genesis hash (chain.GENESIS_HASH, written out so
    # this revision never changes when the package does).
    op.bulk_insert(chain_head, [{"id": 1, "seq": 0, "record_hash": "0" * 64}])
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", sa.String(length=32), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("decision_type", sa.String(), nullable=False),
        sa.Column("features_json", sa.Text(), nullable=False),
        sa.Column("input_hash", sa.String(), nullable=False),
        sa.Column("prediction", sa.Text(), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("explanation_json", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("trace_id", sa.String(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("review_status", sa.String(), nullable=True),
        sa.Column("anomaly_flag", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("seq", name=op.f("uq_decisions_seq")),
    )
    op.create_index(op.f("ix_decisions_model_timestamp"), "decisions", ["model", "timestamp"])

    op.create_table(
        "metrics",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("partition", sa.String(), nullable=False),
        sa.Column("family", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("feature", sa.String(), nullable=True),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("p_value", sa.Double(), nullable=True),
        sa.Column("ci_low", sa.Double(), nullable=True),
        sa.Column("ci_high", sa.Double(), nullable=True),
        sa.Column("n_reference", sa.BigInteger(), nullable=True),
        sa.Column("n_current", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("natural_key", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("data_fingerprint", sa.String(), nullable=False),
        sa.Column("config_hash", sa.String(), nullable=False),
        sa.Column("baseline_version", sa.String(), nullable=True),
        sa.Column("code_version", sa.String(), nullable=False),
        sa.Column("input_files", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics")),
        sa.UniqueConstraint("natural_key", name=op.f("uq_metrics_natural_key")),
        sa.UniqueConstraint("seq", name=op.f("uq_metrics_seq")),
    )
    op.create_index(op.f("ix_metrics_model_partition"), "metrics", ["model", "partition"])

    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("partition", sa.String(), nullable=False),
        sa.Column("report_type", sa.String(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("natural_key", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(), nullable=False),
        sa.Column("data_fingerprint", sa.String(), nullable=False),
        sa.Column("config_hash", sa.String(), nullable=False),
        sa.Column("baseline_version", sa.String(), nullable=True),
        sa.Column("code_version", sa.String(), nullable=False),
        sa.Column("input_files", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("natural_key", name=op.f("uq_reports_natural_key")),
        sa.UniqueConstraint("seq", name=op.f("uq_reports_seq")),
    )
    op.create_index(op.f("ix_reports_model_partition"), "reports", ["model", "partition"])

    op.create_table(
        "baseline_events",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("baseline_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["baseline_id"], ["baselines.id"], name=op.f("fk_baseline_events_baseline_id_baselines")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_baseline_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_baseline_events_seq")),
    )
    op.create_index(op.f("ix_baseline_events_model"), "baseline_events", ["model"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("partition", sa.String(), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("opened_by", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_incidents_alert_id_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("alert_id", name=op.f("uq_incidents_alert_id")),
        sa.UniqueConstraint("seq", name=op.f("uq_incidents_seq")),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_events_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
        sa.UniqueConstraint("seq", name=op.f("uq_incident_events_seq")),
    )
    op.create_index(op.f("ix_incident_events_incident_id"), "incident_events", ["incident_id"])

    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("feature", sa.String(), nullable=True),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_suppressions_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
        sa.UniqueConstraint("seq", name=op.f("uq_suppressions_seq")),
    )
    op.create_index(op.f("ix_suppressions_model_metric"), "suppressions", ["model", "metric"])


def downgrade() -> None:
    op.drop_index(op.f("ix_suppressions_model_metric"), table_name="suppressions")

    op.drop_table("suppressions")
    op.drop_index(op.f("ix_incident_events_incident_id"), table_name="incident_events")

    op.drop_table("incident_events")
    op.drop_table("incidents")
    op.drop_index(op.f("ix_baseline_events_model"), table_name="baseline_events")

    op.drop_table("baseline_events")
    op.drop_index(op.f("ix_reports_model_partition"), table_name="reports")

    op.drop_table("reports")
    op.drop_index(op.f("ix_metrics_model_partition"), table_name="metrics")

    op.drop_table("metrics")
    op.drop_index(op.f("ix_decisions_model_timestamp"), table_name="decisions")

    op.drop_table("decisions")
    op.drop_table("chain_head")
    op.drop_table("baselines")
    op.drop_index(op.f("ix_alerts_severity"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_model_partition"), table_name="alerts")

    op.drop_table("alerts")
