"""Our one-page HTML summary of a partition, written beside Evidently's report, and the reports index.

The page leads with what a risk officer reads first: the overall severity and composite score,
the most drifted features with their statistics, fairness and performance in one table, what
changed since the previous partition, and the provenance (baseline, config hash, code version)
of every number. It is rendered from stored results only, so it is cheap enough for every
partition.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from drift_pipeline.lib.config import ModelConfig, Policy
from drift_pipeline.lib.reports import alert_onsets, report_path
from drift_pipeline.lib.results import ResultStore

SUMMARY_FILE = "summary.html"
INDEX_FILE = "index.html"
ASSET = "partition_summary"
SEVERITY_RANK = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}
BADGE = {"INFO": ("#2e7d32", "#e8f5e9"), "WARNING": ("#8a5300", "#fff3e0"), "CRITICAL": ("#b71c1c", "#ffebee")}
FEATURE_STATISTICS = ["feature", "type", "severity", "metric", "value", "psi", "ks_statistic", "p_adjusted",
                      "wasserstein_normed", "js_distance", "null_rate_current"]
PERFORMANCE_METRICS = ("accuracy", "roc_auc", "accuracy_drop", "prediction_distribution_shift",
                       "output_entropy_change")
PLOT_NAMES = ("feature_drift_heatmap", "metric_trends", "fairness_over_time", "shap_importance_over_time",
              "alert_timeline")
CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f6f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:4px 12px;border-radius:4px;font-weight:bold;font-size:15px}
.muted{color:#666;font-size:12px}code{background:#f4f6f8;padding:1px 4px}"""


def summary_path(reports_root: Path, model: str, partition: str) -> Path:
    return Path(reports_root) / model / partition / SUMMARY_FILE


def _previous_key(partition: str) -> str:
    return (dt.date.fromisoformat(partition) - dt.timedelta(days=1)).isoformat()


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return float(value)


def top_features(table: pd.DataFrame, n: int) -> list[dict]:
    """The ``n`` most drifted features: worst severity first, then largest PSI (as in feature_drift's metadata)."""
    ranked = table.assign(_rank=-table["severity"].map(SEVERITY_RANK).fillna(0))
    ranked = ranked.sort_values(["_rank", "psi"], ascending=[True, False], kind="stable", na_position="last")
    return ranked[[c for c in FEATURE_STATISTICS if c in ranked.columns]].head(n).to_dict("records")


def _verdict_severity(health: dict) -> dict[tuple[str, str, str], str]:
    return {(v["family"], v["metric"], v.get("feature") or ""): v["severity"] for v in health.get("verdicts", [])}


def _signal_rows(performance: dict, fairness: dict, explanation: dict, health: dict) -> list[dict]:
    """Performance, fairness and explanation in one table: value, interval, baseline and the policy's severity."""
    severity = _verdict_severity(health)
    rows = []
    for metric in PERFORMANCE_METRICS:
        if metric in performance:
            rows.append({"family": "model", "metric": metric, "attribute": "", "value": _number(performance[metric]),
                         "ci": None, "baseline": _number(performance.get("baseline_accuracy"))
                         if metric == "accuracy" else None,
                         "severity": severity.get(("model", metric, ""), "")})
    for item in fairness.get("drift", []):
        rows.append({"family": "fairness", "metric": item["metric"], "attribute": item["attribute"],
                     "value": _number(item.get("value")),
                     "ci": (_number(item.get("ci_low")), _number(item.get("ci_high"))),
                     "baseline": _number(item.get("baseline_value")), "drift": _number(item.get("drift")),
                     "severity": severity.get(("fairness", item.get("policy_metric", item["metric"]),
                                               item["attribute"]), "")})
    if explanation.get("status") == "ok":
        rows.append({"family": "explanation", "metric": "shap_rank_correlation", "attribute": "",
                     "value": _number(explanation.get("spearman")), "ci": None, "baseline": 1.0,
                     "severity": severity.get(("explanation", "shap_rank_correlation", ""), "")})
    elif explanation:
        rows.append({"family": "explanation", "metric": "shap_rank_correlation", "attribute": "", "value": None,
                     "ci": None, "baseline": None, "severity": explanation.get("status", "").replace("_", " ")
                     + (f" ({explanation['cadence']} cadence)" if explanation.get("cadence") else "")})
    return rows


def _changes(health: dict, alerts: dict, previous_health: dict, previous_alerts: dict) -> list[str]:
    """What changed since the previous partition, most important first."""
    if not previous_health:
        return ["No previous partition is stored: nothing to compare with."]
    lines = []
    before, now = previous_health.get("severity", "n/a"), health.get("severity", "n/a")
    composite, previous = _number(health.get("composite")), _number(previous_health.get("composite"))
    delta = f" (composite {previous:.3f} → {composite:.3f}, {composite - previous:+.3f})" \
        if composite is not None and previous is not None else ""
    lines.append(f"Overall severity {before} → {now}{delta}." if before != now
                 else f"Overall severity unchanged at {now}{delta}.")
    onsets = alert_onsets(alerts, previous_alerts)
    eased = alert_onsets(previous_alerts, alerts)
    lines.append("New or escalated: " + ", ".join(onsets) + "." if onsets else "No new or escalated alert.")
    if eased:
        lines.append("Resolved or eased (severity yesterday): " + ", ".join(eased) + ".")
    was, is_ = _verdict_severity(previous_health), _verdict_severity(health)
    moved = [f"{key[2]} {was[key]} → {is_[key]}" for key in sorted(is_)
             if key[0] == "data" and key in was and was[key] != is_[key]]
    if moved:
        lines.append("Feature severities changed: " + ", ".join(moved) + ".")
    return lines


def collect_summary(store: ResultStore, config: ModelConfig, policy: Policy, partition: str, *,
                    reports_root: Path, code_version: str) -> dict:
    """Everything the page shows for one partition, read from the stored results (JSON-serialisable)."""
    name = config.name
    health, alerts = store.read_json_or_empty(name, "model_health", partition), store.read_json_or_empty(name, "drift_alerts", partition)
    batch = store.read_json_or_empty(name, "production_batch", partition)
    previous = _previous_key(partition)
    record = {
        "model": name, "partition": partition, "status": health.get("status", "missing"),
        "reason": health.get("reason", ""), "severity": health.get("severity", "n/a"),
        "composite": _number(health.get("composite")), "family_scores": health.get("family_scores", {}),
        "family_severity": health.get("family_severity", {}),
        "alerts": {s: sum(a["severity"] == s for a in alerts.get("alerts", [])) for s in ("CRITICAL", "WARNING")},
        "validation_alerts": len(alerts.get("validation_alert_ids", [])),
        "top_features": [], "signals": [],
        "changes": _changes(health, alerts, store.read_json_or_empty(name, "model_health", previous),
                            store.read_json_or_empty(name, "drift_alerts", previous)),
        "previous_partition": previous,
        "provenance": {"baseline_version": alerts.get("baseline_version"), "config_hash": alerts.get("config_hash"),
                       "code_version": code_version, "run_id": alerts.get("run_id"),
                       "data_fingerprint": batch.get("data_fingerprint"), "rows": batch.get("rows")},
        "thresholds": {"warning_above": policy.composite.warning_above,
                       "critical_above": policy.composite.critical_above},
        "evidently": "evidently.html" if report_path(reports_root, name, partition).exists() else None,
    }
    if record["status"] == "ok":
        drift_file = store.path(name, "feature_drift", partition, "parquet")
        record["top_features"] = (top_features(pd.read_parquet(drift_file), int(policy.reports.get("top_features", 5)))
                                  if drift_file.exists() else [])  # data drift not scheduled for this partition
        record["signals"] = _signal_rows(store.read_json_or_empty(name, "model_performance", partition),
                                         store.read_json_or_empty(name, "fairness_metrics", partition),
                                         store.read_json_or_empty(name, "explanation_drift", partition), health)
    return record


def _cell(value: Any) -> str:
    if value is None:
        return '<td class="n">—</td>'
    if isinstance(value, float):
        text = "—" if not math.isfinite(value) else f"{value:.3g}" if value and abs(value) < 1e-3 else f"{value:.4f}"
        return f'<td class="n">{text}</td>'
    if isinstance(value, tuple):
        low, high = value
        text = "—" if low is None or high is None else f"[{low:.3f}, {high:.3f}]"
        return f'<td class="n">{text}</td>'
    return f"<td>{_severity_html(value) if value in BADGE else html.escape(str(value))}</td>"


def _severity_html(severity: str) -> str:
    colour, background = BADGE.get(severity, ("#333", "#eee"))
    return f'<span style="color:{colour};background:{background};padding:0 6px;border-radius:3px">{severity}</span>'


def _table(rows: list[dict], columns: list[str], headers: list[str] | None = None) -> str:
    if not rows:
        return '<p class="muted">nothing to show</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers or columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_summary_html(record: dict, *, plots: list[str] = ()) -> str:
    """The page for one partition (``plots``: names of the model's plots to link, relative to the page)."""
    e = html.escape
    model, partition, severity = record["model"], record["partition"], record["severity"]
    colour, background = BADGE.get(severity, ("#333", "#eee"))
    composite = record["composite"]
    thresholds = record["thresholds"]
    parts = [
        (f"<!doctype html><html><head><meta charset='utf-8'><title>{e(model)} {e(partition)}: {e(severity)}"
         f"</title><style>{CSS}</style></head><body>"),
        f"<p class='muted'><a href='../../{INDEX_FILE}'>all models and partitions</a></p>",
        f"<h1>{e(model)} · partition {e(partition)}</h1>",
        f"<p><span class='badge' id='severity' style='color:{colour};background:{background}'>{e(severity)}</span>"
        + (f" &nbsp;composite score <b id='composite'>{composite:.3f}</b> <span class='muted'>(WARNING above "
           f"{thresholds['warning_above']:g}, CRITICAL above {thresholds['critical_above']:g}; 0 = healthy)</span>"
           if composite is not None else "")
        + f" &nbsp;alerts: {record['alerts']['CRITICAL'] + record['validation_alerts']} CRITICAL, "
          f"{record['alerts']['WARNING']} WARNING</p>",
    ]
    if record["evidently"]:
        parts.append(f"<p>Evidently drift report: <a id='evidently' href='{e(record['evidently'])}'>"
                     f"{e(record['evidently'])}</a></p>")
    else:
        parts.append(f"<p class='muted'>Evidently report not rendered for this partition (render policy); render it "
                     f"with <code>drift-pipeline report {e(model)} {e(partition)}</code>.</p>")
    if record["status"] != "ok":
        parts.append(f"<h2>Validation blocked this partition</h2><p>{e(record['reason'] or record['status'])}</p>")
    else:
        families = [{"family": f, "score": s, "severity": record["family_severity"].get(f, "")}
                    for f, s in record["family_scores"].items()]
        parts += ["<h2>Signal families</h2>", _table(families, ["family", "score", "severity"],
                                                      ["family", "score (0–1, 1 = at CRITICAL)", "severity"])]
        columns = [c for c in FEATURE_STATISTICS if any(c in row for row in record["top_features"])]
        parts += ["<h2>Top drifted features</h2>", _table(record["top_features"], columns)]
        parts += ["<h2>Fairness and performance</h2>",
                  _table(record["signals"], ["family", "metric", "attribute", "value", "ci", "baseline", "drift",
                                            "severity"],
                         ["family", "metric", "attribute", "value", "95 % CI", "baseline", "|drift|", "severity"])]
    parts += ["<h2>What changed since " + e(record["previous_partition"]) + "</h2><ul>"
              + "".join(f"<li>{e(line)}</li>" for line in record["changes"]) + "</ul>"]
    provenance = [{"field": k, "value": "" if v is None else str(v)} for k, v in record["provenance"].items()]
    parts += ["<h2>Provenance</h2>", _table(provenance, ["field", "value"])]
    if plots:
        parts.append("<h2>History plots</h2><p>" + " · ".join(
            f"<a href='../plots/{e(p)}.png'>{e(p.replace('_', ' '))}</a>" for p in plots) + "</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def existing_plots(reports_root: Path, model: str) -> list[str]:
    folder = Path(reports_root) / model / "plots"
    return [p for p in PLOT_NAMES if (folder / f"{p}.png").exists()]


def write_partition_summary(store: ResultStore, config: ModelConfig, policy: Policy, partition: str, *,
                            reports_root: Path, code_version: str, plots: list[str] = ()) -> dict:
    """Write ``<reports_root>/<model>/<partition>/summary.html`` and its record (``<model>/partition_summary``)."""
    record = collect_summary(store, config, policy, partition, reports_root=reports_root, code_version=code_version)
    path = summary_path(reports_root, config.name, partition)
    _atomic_write_text(path, render_summary_html(record, plots=plots))
    record["path"] = str(path)
    store.write_json(config.name, ASSET, partition, record)
    return record


def render_index(models: dict[str, list[dict]], plots: dict[str, list[str]]) -> str:
    """The reports index: per model, its plots and every summarised partition (newest first)."""
    e = html.escape
    parts = [(f"<!doctype html><html><head><meta charset='utf-8'><title>drift_pipeline reports</title>"
              f"<style>{CSS}</style></head><body><h1>drift_pipeline reports</h1>")]
    for model, records in models.items():
        counts = {s: sum(r["severity"] == s for r in records) for s in ("CRITICAL", "WARNING", "INFO")}
        parts.append(f"<h2 id='{e(model)}'>{e(model)}</h2><p>{len(records)} partitions: "
                     + ", ".join(f"{n} {s}" for s, n in counts.items()) + "</p>")
        if plots.get(model):
            parts.append("<p>Plots: " + " · ".join(f"<a href='{e(model)}/plots/{e(p)}.png'>{e(p.replace('_', ' '))}"
                                                    "</a>" for p in plots[model]) + "</p>")
        rows = []
        for r in sorted(records, key=lambda r: r["partition"], reverse=True):
            base = f"{e(model)}/{e(r['partition'])}"
            links = f"<a href='{base}/{SUMMARY_FILE}'>summary</a>" + (
                f" · <a href='{base}/{e(r['evidently'])}'>evidently</a>" if r.get("evidently") else "")
            composite = "—" if r.get("composite") is None else f"{r['composite']:.3f}"
            rows.append(f"<tr><td>{e(r['partition'])}</td><td>{_severity_html(r['severity'])}</td>"
                        f"<td class='n'>{composite}</td><td class='n'>{r['alerts']['CRITICAL'] + r['validation_alerts']}"
                        f"</td><td class='n'>{r['alerts']['WARNING']}</td><td>{links}</td></tr>")
        parts.append("<table><tr><th>partition</th><th>severity</th><th>composite</th><th>CRITICAL</th>"
                     "<th>WARNING</th><th>pages</th></tr>" + "".join(rows) + "</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_index(store: ResultStore, reports_root: Path) -> Path:
    """Write ``<reports_root>/index.html`` from every stored partition summary record."""
    models: dict[str, list[dict]] = {}
    for folder in sorted(p for p in store.root.glob(f"*/{ASSET}") if p.is_dir()):
        model = folder.parent.name
        models[model] = [store.read_json(model, ASSET, p.stem) for p in sorted(folder.glob("*.json"))
                         if not p.name.startswith(".")]
    path = Path(reports_root) / INDEX_FILE
    _atomic_write_text(path, render_index(models, {m: existing_plots(reports_root, m) for m in models}))
    return path
