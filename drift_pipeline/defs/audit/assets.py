"""Weekly and monthly audit reports (SPEC §8) and the decision-stream checks (SPEC §7)."""


import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg

from drift_pipeline.defs.audit.checks import decision_stream_definitions
from drift_pipeline.defs.models import build_definitions
from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig, Results
from drift_pipeline.lib import project
from drift_pipeline.lib.audit import ReportIn
from drift_pipeline.lib.audit_report import (
    collect_audit_period,
    period_for,
    redact_report_data,
    render_html,
    render_markdown,
    report_fingerprint,
)
from drift_pipeline.lib.config import ModelConfig, load_model_configs
from drift_pipeline.lib.privacy import Redactor

ALL_MODELS = "all_models"


def report_job_name(kind: str) -> str:
    return f"{kind}_audit_report_job"


def report_partitions(models: dict[str, ModelConfig], kind: str) -> dg.PartitionsDefinition:
    """Weekly (Sunday to Saturday) or monthly partitions covering every model's partitions."""
    start = min(c.partitioning.start for c in models.values())
    end = max(c.partitioning.end for c in models.values())
    if kind == "weekly":
        return dg.WeeklyPartitionsDefinition(start_date=(start - dt.timedelta(days=(start.weekday() + 1) % 7))
                                             .isoformat(), end_date=(end + dt.timedelta(days=7)).isoformat())
    first_of_next = (end.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return dg.MonthlyPartitionsDefinition(start_date=start.replace(day=1).isoformat(),
                                          end_date=first_of_next.isoformat())


def write_audit_report(kind: str, key: str, monitoring_config: MonitoringConfig, audit_trail: AuditTrail,
                       out_dir: Path, *, run_id: str, instance: dg.DagsterInstance | None = None) -> dict:
    """Collect, render, write and record one period's report; a rerun on unchanged records attests the same head."""
    models, store = monitoring_config.models(), audit_trail.store()
    period = period_for(kind, key)
    redactor = Redactor.from_settings(monitoring_config.policy().privacy)
    monitored = None if instance is None else {
        m: instance.get_materialized_partitions(dg.AssetKey([m, "feature_drift"])) for m in models}
    data = redact_report_data(collect_audit_period(store, models, period, monitored=monitored,
                                                   verification=store.verify()), redactor)
    fingerprint = report_fingerprint(data)
    config_hash = hashlib.sha256("".join(monitoring_config.config_hash(m) for m in sorted(models)).encode()
                                 ).hexdigest()[:16]
    earlier = [r for r in store.reports(model=ALL_MODELS, partition=period.key, report_type=f"audit_{kind}")
               if r["data_fingerprint"] == fingerprint and r["config_hash"] == config_hash
               and r["code_version"] == project.code_version()]
    head = (earlier[0]["summary"]["head_seq"], earlier[0]["summary"]["head_hash"]) if earlier else store.head()
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, md_path = out_dir / f"{kind}-{period.key}.html", out_dir / f"{kind}-{period.key}.md"
    html, markdown = render_html(data, head=head), render_markdown(data, head=head)
    html_path.write_text(html, encoding="utf-8")
    md_path.write_text(markdown, encoding="utf-8")
    sha = hashlib.sha256(html.encode("utf-8")).hexdigest()
    outcome = store.record_report(ReportIn(
        model=ALL_MODELS, partition=period.key, run_id=run_id, data_fingerprint=fingerprint, config_hash=config_hash,
        code_version=project.code_version(), report_type=f"audit_{kind}", path=str(html_path), file_sha256=sha,
        summary={"head_seq": head[0], "head_hash": head[1], "markdown": str(md_path),
                 "markdown_sha256": hashlib.sha256(markdown.encode("utf-8")).hexdigest(), **data["summary"]}))
    return {"html": html_path, "markdown": md_path, "head": head, "sha256": sha, "report_id": outcome.ids[0],
            "summary": data["summary"]}


def build_report_asset(models: dict[str, ModelConfig], kind: str) -> dg.AssetsDefinition:
    """``audit/<kind>_audit_report``: one period's audit report as HTML and Markdown."""

    @dg.asset(key=dg.AssetKey(["audit", f"{kind}_audit_report"]), group_name="audit",
              partitions_def=report_partitions(models, kind), kinds={"html"})
    def audit_report(context: dg.AssetExecutionContext, monitoring_config: MonitoringConfig,
                     audit_trail: AuditTrail, results: Results) -> dg.MaterializeResult:
        """A period's audit report: summary, per-model results, alerts, incidents, suppressions, baselines, sign-off."""
        written = write_audit_report(kind, context.partition_key, monitoring_config, audit_trail,
                                     results.reports_dir() / "audit", run_id=context.run_id,
                                     instance=context.instance)
        s = written["summary"]
        return dg.MaterializeResult(metadata={
            "report": dg.MetadataValue.path(str(written["html"])),
            "markdown": dg.MetadataValue.path(str(written["markdown"])),
            "sha256": written["sha256"], "chain_head_seq": written["head"][0], "chain_head": written["head"][1],
            "critical_alerts": s["alerts"]["CRITICAL"], "warning_alerts": s["alerts"]["WARNING"],
            "incidents": s["incidents"], "decisions": s["decisions"], "audit_report_id": written["report_id"],
        })

    return audit_report


def audit_definitions(config_dir: Path) -> dg.Definitions:
    """Audit reports for every model plus decision-stream checks for decision-log models."""
    models = load_model_configs(config_dir)
    reports = [build_report_asset(models, kind) for kind in ("weekly", "monthly")]
    jobs = [dg.define_asset_job(report_job_name(k), selection=dg.AssetSelection.assets(a),
                                description=f"Render the {k} audit report.")
            for k, a in zip(("weekly", "monthly"), reports, strict=True)]
    return dg.Definitions.merge(dg.Definitions(assets=reports, jobs=jobs), decision_stream_definitions(models))


def build_audit_definitions(*, config_dir: Path, var: Path, root: Path = project.PROJECT_ROOT,
                            audit_url: str | None = None) -> dg.Definitions:
    """The complete code location including the audit group, over explicit folders (tests)."""
    return dg.Definitions.merge(build_definitions(config_dir=config_dir, var=var, root=root, audit_url=audit_url),
                                audit_definitions(config_dir))


@dg.definitions
def audit() -> dg.Definitions:
    return audit_definitions(project.PROJECT_ROOT / "config")
