"""What SPEC §6 retention means for this pipeline, and applying it.

Retention windows come from ``config/policy.yaml`` ``retention_days`` (decision logs 90
days, monitoring records 5 years, alerts 1 year, incidents and baselines indefinitely).

- **Per-partition result files and reports** (``var/results/<model>/<asset>/<day>.*``,
  ``var/reports/<model>/<day>/``) are monitoring records: those *written* longer ago than
  ``monitoring_records`` days are deleted. Age is the file's modification time, not the
  partition's business date, so a 2013 partition analysed last week is a week old.
  Unpartitioned results (``_all.*``: reference data, model artifacts, baseline pointers)
  and baseline profile directories are never touched.
- **The audit store is never pruned.** It is an append-only hash chain: deleting a row
  would break verification of every later record, which is the evidence auditors rely
  on. Rows past their window (alerts, decisions, metrics and report records) are *counted
  and reported* so that a compliance officer can decide on an archival export; incidents
  and baselines are kept indefinitely whatever the configuration says.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARTITION_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
KEPT_FOREVER = ("incidents", "baselines")
"""Record kinds SPEC §6 keeps indefinitely; retention never touches them."""

AUDIT_KINDS = {"alerts": "alerts", "decision_logs": "decisions", "monitoring_records": "metrics"}
"""Which audit table each retention class covers (report records count as monitoring records too)."""


class RetentionError(ValueError):
    """The retention settings cannot be applied; the message names the setting."""


@dataclass
class RetentionPlan:
    """What is past retention: files to delete and audit rows to report (never deleted)."""

    cutoff: dict[str, str]
    files: list[Path] = field(default_factory=list)
    report_dirs: list[Path] = field(default_factory=list)
    audit_past_retention: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        files = sum(p.stat().st_size for p in self.files if p.exists())
        dirs = sum(f.stat().st_size for d in self.report_dirs if d.exists() for f in d.rglob("*") if f.is_file())
        return files + dirs

    def as_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff, "result_files": len(self.files), "report_dirs": len(self.report_dirs),
                "bytes": self.bytes, "audit_rows_past_retention_kept": self.audit_past_retention,
                "notes": self.notes}


def _cutoff(days: int | None, now: dt.datetime) -> dt.datetime | None:
    return None if days is None else now - dt.timedelta(days=days)


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


def plan_retention(
    retention_days: Mapping[str, int | None],
    *,
    results_root: Path,
    reports_root: Path,
    now: dt.datetime,
    audit_store: Any | None = None,
) -> RetentionPlan:
    """Find what is past retention at ``now``.

    Parameters
    ----------
    retention_days : mapping
        ``policy.retention_days``; ``None`` means keep indefinitely.
    results_root, reports_root : Path
        ``var/results`` and ``var/reports``.
    now : datetime
        The moment ages are measured from (UTC).
    audit_store : AuditStore, optional
        Read to count audit rows past their window; never written.
    """
    if "monitoring_records" not in retention_days:
        raise RetentionError("policy.yaml retention_days needs monitoring_records (days, or null to keep)")
    cutoffs = {kind: _cutoff(days, now) for kind, days in retention_days.items()}
    plan = RetentionPlan(cutoff={k: (v.isoformat(timespec="seconds") if v else "kept indefinitely")
                                 for k, v in cutoffs.items()})
    for kind in KEPT_FOREVER:
        if retention_days.get(kind) is not None:
            plan.notes.append(f"retention_days.{kind} = {retention_days[kind]} is ignored: SPEC §6 keeps {kind} "
                              "indefinitely")
    records_cutoff = cutoffs["monitoring_records"]
    if records_cutoff is not None:
        plan.files = [p for p in _partition_files(results_root) if _mtime(p) < records_cutoff]
        plan.report_dirs = [d for d in _partition_dirs(reports_root) if _newest(d) < records_cutoff]
    if audit_store is not None:
        for kind, table in AUDIT_KINDS.items():
            cutoff = cutoffs.get(kind)
            if cutoff is None:
                continue
            plan.audit_past_retention[table] = _count_before(audit_store, table, cutoff)
        if records_cutoff is not None:
            plan.audit_past_retention["reports"] = _count_before(audit_store, "reports", records_cutoff)
        if any(plan.audit_past_retention.values()):
            plan.notes.append("audit rows past retention are kept: the store is an append-only hash chain and "
                              "deleting a row would make every later record unverifiable; archive by export")
    return plan


def _partition_files(results_root: Path) -> list[Path]:
    """``<model>/<asset>/<YYYY-MM-DD>.<ext>`` files only (never ``_all.*`` or profile directories)."""
    if not results_root.is_dir():
        return []
    return sorted(p for p in results_root.glob("*/*/*") if p.is_file() and PARTITION_NAME.match(p.stem))


def _partition_dirs(reports_root: Path) -> list[Path]:
    if not reports_root.is_dir():
        return []
    return sorted(d for d in reports_root.glob("*/*") if d.is_dir() and PARTITION_NAME.match(d.name))


def _newest(directory: Path) -> dt.datetime:
    times = [_mtime(f) for f in directory.rglob("*") if f.is_file()]
    return max(times, default=_mtime(directory))


def _count_before(audit_store: Any, table: str, cutoff: dt.datetime) -> int:
    if table == "reports":  # the store's report listing has no time filter
        stamp = cutoff.astimezone(dt.UTC).isoformat(timespec="microseconds")
        return sum(r["created_at"] < stamp for r in audit_store.reports())
    reader = {"alerts": audit_store.alerts, "decisions": audit_store.decisions, "metrics": audit_store.metrics}[table]
    return len(reader(until=cutoff))


def apply_retention(plan: RetentionPlan) -> dict[str, int]:
    """Delete the plan's result files and report folders; returns what was removed."""
    removed_files = 0
    for path in plan.files:
        if path.exists():
            path.unlink()
            removed_files += 1
    removed_dirs = 0
    for directory in plan.report_dirs:
        if directory.exists():
            shutil.rmtree(directory)
            removed_dirs += 1
    return {"result_files": removed_files, "report_dirs": removed_dirs}
