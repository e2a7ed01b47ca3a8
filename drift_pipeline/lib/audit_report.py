"""The periodic (weekly, monthly) audit report (SPEC §8): collect, then render HTML and Markdown.

:func:`collect_audit_period` reads everything the report states from the audit store into
plain, sorted, JSON-able data; :func:`render_markdown` and :func:`render_html` turn it into
text. The same store contents give byte-identical files: nothing is read from the clock,
every list is sorted, and the only hash printed that changes as the store grows is the
chain head the report attests to (pass it to ``drift-pipeline audit verify
--expected-head`` later: a truncated chain no longer contains it).

Which records belong to a period:

- alerts, metrics and incidents by their **data** day (the alert's partition) in the period;
- decisions by their decision timestamp in the period;
- suppressions that silenced one of the period's alerts, or whose validity overlaps the
  period; baseline events recorded in the period plus every baseline version the period's
  alerts were judged against (with its status now).

Every free-text value (messages, notes, rationales, actors) goes through the PII
:class:`~drift_pipeline.lib.privacy.Redactor` before rendering.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from drift_pipeline.lib.audit import SEVERITIES, chain
from drift_pipeline.lib.privacy import Redactor

REPORT_KINDS = ("weekly", "monthly")
MAX_ALERT_ROWS = 25
"""Alerts listed per model (CRITICAL first); the rest are counted, with the command to list them."""

COMPLIANCE_MAPPING = (
    ("SR 11-7 (Fed/OCC 2011), ongoing monitoring",
     ("Process verification, outcomes analysis and benchmarking of models in use; "
      "tracking of known limitations"),
     ("Per-model data, model, fairness and explanation drift each partition (sections 2-3); "
      "decision-stream checks; incidents with owners and status; accepted risks with "
      "approver and expiry (section 4)")),
    ("SR 11-7, governance and controls",
     "Documentation, independent review, escalation of issues",
     "This report, its sign-off (section 7), incidents escalated from CRITICAL alerts"),
    ("EU AI Act Art. 12, record keeping",
     "Automatic logging of events over the system's lifetime, enabling traceability",
     ("Append-only, hash-chained audit store (alerts, metrics, decisions with redacted inputs, "
      "baselines, incidents); chain head in section 6; every alert traceable with "
      "`drift-pipeline audit trace`")),
    ("EU AI Act Art. 72, post-market monitoring",
     ("Actively and systematically collect, document and analyse performance data "
      "throughout the lifetime"),
     ("Daily monitoring per partition on the configured cadence; periodic review in this "
      "report; baseline versions recorded (section 5)")),
)


@dataclass(frozen=True)
class Period:
    """An inclusive range of days named by its kind and first day."""

    kind: str
    start: dt.date
    end: dt.date

    @property
    def key(self) -> str:
        return self.start.isoformat()

    @property
    def label(self) -> str:
        if self.kind == "monthly":
            return f"{self.start:%B %Y}"
        return f"week of {self.start} to {self.end}"

    def days(self) -> list[str]:
        return [(self.start + dt.timedelta(days=i)).isoformat() for i in range((self.end - self.start).days + 1)]


def period_for(kind: str, key: str | dt.date) -> Period:
    """The period starting on ``key``: seven days (weekly) or the calendar month (monthly).

    Parameters
    ----------
    kind : {"weekly", "monthly"}
    key : str or date
        The first day (a Dagster weekly or monthly partition key).

    Returns
    -------
    Period
    """
    start = key if isinstance(key, dt.date) else dt.date.fromisoformat(str(key)[:10])
    if kind == "weekly":
        return Period(kind, start, start + dt.timedelta(days=6))
    if kind == "monthly":
        start = start.replace(day=1)
        return Period(kind, start, start.replace(day=calendar.monthrange(start.year, start.month)[1]))
    raise ValueError(f"report kind {kind!r} must be one of {REPORT_KINDS}")


def _is_day_in(partition: str, period: Period) -> bool:
    try:
        day = dt.date.fromisoformat(partition)
    except (TypeError, ValueError):
        return False
    return period.start <= day <= period.end


def _severity_rank(severity: str) -> int:
    return -SEVERITIES.index(severity) if severity in SEVERITIES else 1


def _alert_row(a: Mapping[str, Any]) -> dict[str, Any]:
    return {k: a.get(k) for k in ("id", "model", "partition", "severity", "family", "metric", "feature", "value",
                                  "message", "baseline_version", "suppression_id")}


def collect_audit_period(store: Any, models: Mapping[str, Any], period: Period, *,
                         monitored: Mapping[str, Iterable[str]] | None = None,
                         verification: Any = None) -> dict[str, Any]:
    """Everything the report states, read from the audit store, sorted and JSON-able.

    Parameters
    ----------
    store : AuditStore
    models : Mapping[str, ModelConfig]
        The configured models (name -> contract).
    period : Period
    monitored : Mapping[str, Iterable[str]], optional
        Per model, the partitions whose monitoring ran (e.g. materialised ``feature_drift``
        partitions from the Dagster instance); default: the partitions of its metric rows.
    verification : VerifyReport, optional
        The result of ``store.verify()`` to state in the report.

    Returns
    -------
    dict
        ``period``, ``summary``, ``models``, ``alerts``, ``incidents``, ``suppressions``,
        ``baselines``, ``baseline_changes``, ``verification``; no head (see :func:`render_markdown`).
    """
    days = period.days()
    until = (period.end + dt.timedelta(days=1)).isoformat()
    per_model, all_alerts, incidents, baselines, changes = [], [], [], [], []
    suppression_ids: set[int] = set()
    for name in sorted(models):
        config = models[name]
        alerts = [a for a in store.alerts(model=name, partition=days) if _is_day_in(a["partition"], period)]
        if monitored is not None:
            ran = sorted(p for p in set(monitored.get(name, ())) if _is_day_in(p, period))
        else:
            ran = sorted({m["partition"] for m in store.metrics(model=name, partition=days)})
        decisions = store.decisions(model=name, since=period.start.isoformat(), until=until)
        flagged = [a for a in alerts if a["severity"] != "INFO"]
        flagged.sort(key=lambda a: (_severity_rank(a["severity"]), a["partition"], a["family"], a["metric"],
                                    a["feature"] or "", a["id"]))
        all_alerts.extend(_alert_row(a) for a in flagged)
        suppression_ids.update(a["suppression_id"] for a in alerts if a["suppression_id"] is not None)
        configured = [d for d in days if config.partitioning.start.isoformat() <= d
                      <= config.partitioning.end.isoformat()]
        alert_ids = {a["id"] for a in alerts}
        model_incidents = [i for i in store.incidents(model=name) if i["alert_id"] in alert_ids]
        incidents.extend(model_incidents)
        versions = sorted({a["baseline_version"] for a in alerts if a["baseline_version"]})
        history = store.baselines(name)
        baselines.extend({"model": name, **{k: b[k] for k in ("version", "status", "window_start", "window_end",
                                                              "profile_fingerprint", "created_by")}}
                         for b in history if b["version"] in versions or b["status"] == "active")
        predictions = [d["prediction"] for d in decisions]
        confidences = [d["confidence"] for d in decisions if d["confidence"] is not None]
        per_model.append({
            "name": name,
            "risk_level": config.risk_level,
            "model_version": config.model.version,
            "source": config.source.kind,
            "partitions_configured": len(configured),
            "partitions_monitored": len(ran),
            "alerts": {s: sum(a["severity"] == s for a in alerts) for s in SEVERITIES},
            "alerts_by_family": dict(sorted(Counter(a["family"] for a in flagged).items())),
            "incidents": len(model_incidents),
            "open_incidents": sum(i["status"] in ("open", "acknowledged") for i in model_incidents),
            "decisions": {
                "count": len(decisions),
                "prediction_shares": {k: round(v / len(predictions), 4)
                                      for k, v in sorted(Counter(predictions).items())} if predictions else {},
                "mean_confidence": round(sum(confidences) / len(confidences), 4) if confidences else None,
                "pending_review": sum(d["review_status"] == "pending_review" for d in decisions),
                "anomalies": sum(bool(d["anomaly_flag"]) for d in decisions),
            } if config.source.kind == "decision_log" or decisions else None,
            "baseline_versions": versions,
        })
        start_ts, until_ts = period.start.isoformat(), until
        for event in _baseline_events(store, name):
            if start_ts <= event["created_at"] < until_ts:
                changes.append(event)
    suppressions = []
    for s in store.suppressions():
        overlaps = s["created_at"][:10] <= period.end.isoformat() and s["expires_at"][:10] >= period.start.isoformat()
        if s["model"] in models and (s["id"] in suppression_ids or overlaps):
            suppressions.append({k: s[k] for k in ("id", "model", "metric", "feature", "rationale", "approver",
                                                   "created_at", "expires_at")})
    incident_rows = [{k: i[k] for k in ("id", "alert_id", "model", "partition", "severity", "title", "status",
                                        "status_by", "status_at", "status_note")}
                     for i in sorted(incidents, key=lambda i: (i["model"], i["partition"], i["id"]))]
    totals = {s: sum(m["alerts"][s] for m in per_model) for s in SEVERITIES}
    return {
        "period": {"kind": period.kind, "key": period.key, "label": period.label,
                   "start": period.start.isoformat(), "end": period.end.isoformat()},
        "summary": {
            "models": len(per_model),
            "partitions_monitored": sum(m["partitions_monitored"] for m in per_model),
            "alerts": totals,
            "incidents": len(incident_rows),
            "open_incidents": sum(i["status"] in ("open", "acknowledged") for i in incident_rows),
            "suppressions": len(suppressions),
            "decisions": sum((m["decisions"] or {}).get("count", 0) for m in per_model),
        },
        "models": per_model,
        "alerts": all_alerts,
        "incidents": incident_rows,
        "suppressions": sorted(suppressions, key=lambda s: (s["model"], s["id"])),
        "baselines": sorted(baselines, key=lambda b: (b["model"], b["version"])),
        "baseline_changes": sorted(changes, key=lambda e: (e["created_at"], e["model"], e["version"])),
        "verification": None if verification is None else {
            # no record count: the report's own record would change it on every rerun; the
            # attested head (section 6) states the count
            "ok": bool(verification.ok), "problems": sorted(p.message for p in verification.problems)},
    }


def _baseline_events(store: Any, model: str) -> list[dict[str, Any]]:
    """Activations and archivals of a model's baselines (derived from :meth:`AuditStore.baselines`)."""
    events = []
    for b in store.baselines(model):
        events.append({"model": model, "version": b["version"], "event": "registered", "created_at": b["created_at"],
                       "actor": b["created_by"], "reason": b["reason"]})
    return events


def redact_report_data(data: Mapping[str, Any], redactor: Redactor | None = None) -> dict[str, Any]:
    """``data`` with every string scanned for PII (e-mails, phones, card numbers) and replaced."""
    return (redactor or Redactor()).scan_values(dict(data))


def report_fingerprint(data: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of the collected data (the report's content, head excluded)."""
    return chain.sha256_hex(chain.canonical_json(data))


# --------------------------------------------------------------------------- rendering


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _md_table(rows: list[Mapping[str, Any]], columns: list[str], empty: str) -> str:
    if not rows:
        return f"_{empty}_\n"
    cell = lambda v: _fmt(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _sections(data: Mapping[str, Any]) -> dict[str, Any]:
    """Rows shared by the Markdown and HTML renderings."""
    s = data["summary"]
    alerts = s["alerts"]
    executive = (
        f"{s['models']} models monitored over {s['partitions_monitored']} model-days in the {data['period']['label']} "
        f"({data['period']['start']} to {data['period']['end']}). Alerts: {alerts['CRITICAL']} CRITICAL, "
        f"{alerts['WARNING']} WARNING, {alerts['INFO']} INFO. Incidents: {s['incidents']} "
        f"({s['open_incidents']} open or acknowledged). Accepted risks in force or used: {s['suppressions']}. "
        f"Decisions logged: {s['decisions']}."
    )
    verification = data.get("verification")
    if verification is not None:
        executive += (" Audit chain verification: " + ("OK (every hash recomputed; head in section 6)."
                      if verification["ok"] else f"FAILED: {'; '.join(verification['problems'])}."))
    models = []
    for m in data["models"]:
        d = m["decisions"]
        models.append({
            "model": m["name"], "risk": m["risk_level"], "version": m["model_version"], "source": m["source"],
            "model-days": f"{m['partitions_monitored']} / {m['partitions_configured']}",
            "CRITICAL": m["alerts"]["CRITICAL"], "WARNING": m["alerts"]["WARNING"],
            "by family": ", ".join(f"{k} {v}" for k, v in m["alerts_by_family"].items()),
            "incidents": f"{m['incidents']} ({m['open_incidents']} open)",
            "decisions": "" if d is None else (
                f"{d['count']}; shares {json.dumps(d['prediction_shares'], sort_keys=True)}; "
                f"mean confidence {_fmt(d['mean_confidence'])}; pending review {d['pending_review']}; "
                f"anomalies {d['anomalies']}"),
            "baselines": ", ".join(m["baseline_versions"]),
        })
    alerts_rows, hidden = [], {}
    for m in data["models"]:
        rows = [a for a in data["alerts"] if a["model"] == m["name"]]
        alerts_rows += rows[:MAX_ALERT_ROWS]
        if len(rows) > MAX_ALERT_ROWS:
            hidden[m["name"]] = len(rows) - MAX_ALERT_ROWS
    more = [f"{name}: {n} more WARNING/CRITICAL alerts; list them with `drift-pipeline audit alerts --model "
            f"{name}` (partitions {data['period']['start']} to {data['period']['end']})"
            for name, n in sorted(hidden.items())]
    return {"executive": executive, "models": models, "alerts": alerts_rows, "more_alerts": more}


MODEL_COLUMNS = ["model", "risk", "version", "source", "model-days", "CRITICAL", "WARNING", "by family", "incidents",
                 "decisions", "baselines"]
ALERT_COLUMNS = ["id", "model", "partition", "severity", "family", "metric", "feature", "value", "suppression_id",
                 "message"]
INCIDENT_COLUMNS = ["id", "alert_id", "model", "partition", "severity", "status", "status_by", "status_at", "title"]
SUPPRESSION_COLUMNS = ["id", "model", "metric", "feature", "approver", "created_at", "expires_at", "rationale"]
BASELINE_COLUMNS = ["model", "version", "status", "window_start", "window_end", "profile_fingerprint"]
CHANGE_COLUMNS = ["created_at", "model", "version", "event", "actor", "reason"]
SIGNERS = ("Risk officer", "Compliance officer", "Chief Risk Officer (CRO)")


def render_markdown(data: Mapping[str, Any], *, head: tuple[int, str]) -> str:
    """The report as Markdown.

    Parameters
    ----------
    data : Mapping
        :func:`collect_audit_period`'s output (redacted with :func:`redact_report_data`).
    head : (int, str), keyword-only
        The audit chain's ``(seq, record_hash)`` the report attests to.

    Returns
    -------
    str
    """
    parts = _sections(data)
    p = data["period"]
    out = [f"# Model monitoring audit report: {p['label']}\n",
           (f"{p['kind'].capitalize()} report, period {p['start']} to {p['end']} (inclusive; alerts and "
            "incidents by data day, decisions by decision time).\n"),
           "## 1. Executive summary\n", parts["executive"] + "\n",
           "## 2. Per-model summaries\n", _md_table(parts["models"], MODEL_COLUMNS, "no models configured"),
           "## 3. Alerts and incidents\n", "### Alerts (WARNING and CRITICAL)\n",
           _md_table(parts["alerts"], ALERT_COLUMNS, "no WARNING or CRITICAL alerts in the period")]
    out.append("\n".join(f"- {line}" for line in parts["more_alerts"]))
    out += ["\n### Incidents\n", _md_table(data["incidents"], INCIDENT_COLUMNS, "no incidents for the period's alerts"),
            "## 4. Suppressions (accepted risk)\n",
            _md_table(data["suppressions"], SUPPRESSION_COLUMNS, "no suppressions in force or used"),
            "## 5. Baselines\n", "### Baselines in use\n",
            _md_table(data["baselines"], BASELINE_COLUMNS, "no baselines registered"),
            "### Baseline versions registered in the period\n",
            _md_table(data["baseline_changes"], CHANGE_COLUMNS, "no baseline versions registered in the period"),
            "## 6. Compliance mapping and audit chain\n",
            _md_table([{"framework": f, "requirement": r, "evidence": e} for f, r, e in COMPLIANCE_MAPPING],
                      ["framework", "requirement", "evidence"], ""),
            f"\nAudit chain head attested by this report: record #{head[0]}, hash `{head[1]}`.\n",
            ("Verify later (detects edits, deletions, reordering and truncation): "
             f"`drift-pipeline audit verify --expected-head {head[1]}`\n"),
            "\n## 7. Sign-off\n"]
    out.append("\n".join(f"- {role}: name ______________________  signature ______________________  "
                         "date ____________" for role in SIGNERS))
    return "\n\n".join(block.strip("\n") for block in out if block.strip()) + "\n"


_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Audit report: {{ p.label }}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#1f2933}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border:1px solid #cbd2d9;padding:4px 6px;
text-align:left;vertical-align:top}th{background:#f0f4f8}code{background:#f0f4f8;padding:1px 4px}
.CRITICAL{color:#b00020;font-weight:600}.WARNING{color:#a15c00}.sign{margin:1.2rem 0}
</style></head><body>
<h1>Model monitoring audit report: {{ p.label }}</h1>
<p>{{ p.kind|capitalize }} report, period {{ p.start }} to {{ p.end }} (inclusive; alerts and incidents by data day,
decisions by decision time).</p>
<h2>1. Executive summary</h2><p>{{ s.executive }}</p>
<h2>2. Per-model summaries</h2>{{ table(s.models, model_columns, "no models configured") }}
<h2>3. Alerts and incidents</h2><h3>Alerts (WARNING and CRITICAL)</h3>
{{ table(s.alerts, alert_columns, "no WARNING or CRITICAL alerts in the period") }}
{% for line in s.more_alerts %}<p>{{ line }}</p>{% endfor %}
<h3>Incidents</h3>{{ table(d.incidents, incident_columns, "no incidents for the period's alerts") }}
<h2>4. Suppressions (accepted risk)</h2>{{ table(d.suppressions, suppression_columns, "no suppressions in force or used") }}
<h2>5. Baselines</h2><h3>Baselines in use</h3>{{ table(d.baselines, baseline_columns, "no baselines registered") }}
<h3>Baseline versions registered in the period</h3>
{{ table(d.baseline_changes, change_columns, "no baseline versions registered in the period") }}
<h2>6. Compliance mapping and audit chain</h2>{{ table(mapping, ["framework", "requirement", "evidence"], "") }}
<p>Audit chain head attested by this report: record #{{ head[0] }}, hash <code>{{ head[1] }}</code>.<br>
Verify later (detects edits, deletions, reordering and truncation):
<code>drift-pipeline audit verify --expected-head {{ head[1] }}</code></p>
<h2>7. Sign-off</h2>
{% for role in signers %}<div class="sign">{{ role }}: name ______________________ signature ______________________
date ____________</div>{% endfor %}
</body></html>
"""

_TABLE = """{% if rows %}<table><tr>{% for c in columns %}<th>{{ c }}</th>{% endfor %}</tr>
{% for r in rows %}<tr>{% for c in columns %}<td{% if c == "severity" %} class="{{ r[c] }}"{% endif %}>{{ fmt(r[c]) }}</td>{% endfor %}</tr>
{% endfor %}</table>{% else %}<p><em>{{ empty }}</em></p>{% endif %}"""


def render_html(data: Mapping[str, Any], *, head: tuple[int, str]) -> str:
    """The report as one self-contained HTML page (no scripts, no external resources).

    Parameters
    ----------
    data : Mapping
        As for :func:`render_markdown`.
    head : (int, str), keyword-only

    Returns
    -------
    str
    """
    from jinja2 import Environment
    from markupsafe import Markup

    env = Environment(autoescape=True, keep_trailing_newline=True)
    table_template = env.from_string(_TABLE)

    def table(rows: list[Mapping[str, Any]], columns: list[str], empty: str) -> Markup:
        return Markup(table_template.render(rows=[{c: r.get(c) for c in columns} for r in rows], columns=columns,
                                            empty=empty, fmt=_fmt))

    mapping = [{"framework": f, "requirement": r, "evidence": e} for f, r, e in COMPLIANCE_MAPPING]
    return env.from_string(_HTML).render(
        p=data["period"], s=_sections(data), d=data, head=head, table=table, mapping=mapping, signers=SIGNERS,
        model_columns=MODEL_COLUMNS, alert_columns=ALERT_COLUMNS, incident_columns=INCIDENT_COLUMNS,
        suppression_columns=SUPPRESSION_COLUMNS, baseline_columns=BASELINE_COLUMNS, change_columns=CHANGE_COLUMNS,
    )
