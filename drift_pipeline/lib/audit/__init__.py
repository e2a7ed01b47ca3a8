"""Append-only, hash-chained audit store (plain Python; never imports dagster).

>>> store = AuditStore("sqlite:///var/audit/audit.db")
>>> store.migrate()                      # idempotent; creates var/audit/
>>> store.record_alerts([AlertIn(...)])  # rerunning adds nothing
>>> store.verify(expected_head=exported) # edits, deletions, reordering, truncation
"""

from drift_pipeline.lib.audit.chain import GENESIS_HASH, ChainProblem, VerifyReport
from drift_pipeline.lib.audit.store import (
    INCIDENT_TRANSITIONS,
    SEVERITIES,
    AlertIn,
    AuditError,
    AuditStore,
    DecisionIn,
    LineageIn,
    MetricIn,
    RecordOutcome,
    ReportIn,
    mask_url,
)

__all__ = [
    "GENESIS_HASH",
    "INCIDENT_TRANSITIONS",
    "SEVERITIES",
    "AlertIn",
    "AuditError",
    "AuditStore",
    "ChainProblem",
    "DecisionIn",
    "LineageIn",
    "MetricIn",
    "RecordOutcome",
    "ReportIn",
    "VerifyReport",
    "mask_url",
]
