"""Evidently 0.7 HTML drift reports, made small and reproducible.

Evidently inlines its 3.5 MB JavaScript bundle and a font into every report and gives each
dashboard a random id. For hundreds of partitions we write the bundle once per reports
folder and reference it, and replace the random ids by ids derived from the content, so the
same inputs give byte-identical HTML (the report's sha256 is recorded in the audit trail).
Evidently's own numbers are informative: the authoritative statistics are ours.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from drift_pipeline.lib.config import ModelConfig, Policy
from drift_pipeline.lib.results import ResultStore

STATIC_DIR = "_static"
_UUID_HEX = re.compile(
    r"(?<![0-9a-f])(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?![0-9a-f])"
)


def _evidently_static() -> tuple[Path, str]:
    import evidently

    return Path(evidently.__path__[0]) / "nbextension" / "static", evidently.__version__


def _ensure_static(reports_root: Path) -> tuple[Path, Path]:
    static_src, version = _evidently_static()
    target = reports_root / STATIC_DIR
    target.mkdir(parents=True, exist_ok=True)
    lib = target / f"evidently-{version}.js"
    font = target / "material-ui-icons.woff2"
    for src, dst in ((static_src / "index.js", lib), (static_src / "material-ui-icons.woff2", font)):
        if not dst.exists():
            tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
    return lib, font


def _stable_ids(html: str, seed: str) -> str:
    """Replace Evidently's random uuids by ids derived from ``seed`` and their order."""
    mapping: dict[str, str] = {}

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token not in mapping:
            digest = hashlib.sha256(f"{seed}:{len(mapping)}".encode()).hexdigest()
            mapping[token] = digest[:32] if "-" not in token else "-".join(
                (digest[:8], digest[8:12], digest[12:16], digest[16:20], digest[20:32])
            )
        return mapping[token]

    return _UUID_HEX.sub(replace, html)


def sample_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> tuple[pd.DataFrame, bool]:
    """At most ``max_rows`` rows, drawn with a seeded generator (order preserved)."""
    if len(frame) <= max_rows:
        return frame, False
    return frame.sample(n=max_rows, random_state=seed).sort_index(), True


def render_evidently_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: list[str],
    categorical: list[str],
    out_path: Path,
    reports_root: Path,
    max_rows: int,
    seed: int,
    title: str,
) -> dict:
    """Write the Evidently DataDriftPreset report for ``current`` vs ``reference``.

    Returns the path, its sha256, and the sampling applied (printed on the page too).
    """
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    # Evidently refuses a column with no value on either side (e.g. weather missing for a
    # day); those are left out of its page and named on it. Our statistics still cover them.
    empty = [c for c in numeric + categorical if reference[c].notna().sum() == 0 or current[c].notna().sum() == 0]
    numeric = [c for c in numeric if c not in empty]
    categorical = [c for c in categorical if c not in empty]
    columns = numeric + categorical
    ref, ref_sampled = sample_rows(reference[columns], max_rows, seed)
    cur, cur_sampled = sample_rows(current[columns], max_rows, seed)
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    for frame in (ref, cur):
        for name in categorical:
            frame[name] = frame[name].astype("object").where(frame[name].notna(), None).astype(str)
    snapshot = Report([DataDriftPreset()]).run(
        Dataset.from_pandas(cur.reset_index(drop=True), data_definition=definition),
        Dataset.from_pandas(ref.reset_index(drop=True), data_definition=definition),
    )
    html = snapshot.get_html_str(as_iframe=False)
    lib, font = _ensure_static(reports_root)
    static_src, _ = _evidently_static()
    rel_lib = os.path.relpath(lib, out_path.parent)
    rel_font = os.path.relpath(font, out_path.parent)
    html = html.replace(f"<script>{(static_src / 'index.js').read_text(encoding='utf-8')}</script>",
                        f'<script src="{rel_lib}"></script>')
    html = re.sub(r"url\(data:font/ttf;base64,[A-Za-z0-9+/=]+\)", f"url({rel_font})", html)
    sampling = (
        f"Evidently ran on a seeded sample (seed {seed}, at most {max_rows:,} rows per side: "
        f"reference {len(ref):,} of {len(reference):,}, current {len(cur):,} of {len(current):,})."
        if ref_sampled or cur_sampled
        else f"Evidently ran on all rows (reference {len(reference):,}, current {len(current):,})."
    )
    if empty:
        sampling += f" Not shown (no values on one side): {', '.join(empty)}."
    banner = (
        f'<div style="font-family:sans-serif;padding:8px 16px;background:#f4f6f8;border-bottom:1px solid #ccd">'
        f"<b>{title}</b><br>{sampling} The authoritative drift statistics and severities are drift_pipeline's "
        "(see the feature_drift and drift_alerts assets); Evidently's are shown for comparison.</div>"
    )
    html = html.replace("<body>", f"<body>{banner}", 1)
    html = _stable_ids(html, seed=title)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out_path)
    return {
        "path": str(out_path),
        "sha256": hashlib.sha256(html.encode("utf-8")).hexdigest(),
        "sampled": ref_sampled or cur_sampled,
        "sampling": sampling,
        "bytes": len(html.encode("utf-8")),
    }


@dataclass(frozen=True)
class RenderDecision:
    yes: bool
    reason: str


_RANK = {"INFO": 0, "WARNING": 1, "CRITICAL": 2}


def alert_onsets(alerts: dict, previous: list[dict] | dict | None) -> list[str]:
    """Alerts of this partition more severe than any of the same finding on the previous partitions."""
    history = [previous] if isinstance(previous, dict) else (previous or [])
    before: dict[tuple, str] = {}
    for earlier in history:
        for a in earlier.get("alerts", []):
            key = (a["family"], a["metric"], a.get("feature") or "")
            if _RANK[a["severity"]] > _RANK.get(before.get(key, "INFO"), 0):
                before[key] = a["severity"]
    onsets = []
    for a in alerts.get("alerts", []):
        key = (a["family"], a["metric"], a.get("feature") or "")
        if _RANK[a["severity"]] > _RANK.get(before.get(key, "INFO"), 0):
            onsets.append(f"{a['severity']} {a['family']}.{a['metric']}" + (f"({key[2]})" if key[2] else ""))
    return onsets


def should_render(
    policy: Policy, alerts: dict, previous: list[dict] | dict | None, *, force: bool, latest: bool
) -> RenderDecision:
    """Render policy (``policy.reports.render``).

    ``alerting_and_latest`` renders a partition when an alert starts or escalates there (a
    finding more severe than on any of the previous ``reports.onset_lookback_days``
    partitions), and the latest partition of a run; a condition that persists, or comes
    and goes within the lookback, keeps the report of its onset.
    ``all`` renders every partition, ``none`` none; every report is also available on demand.
    """
    mode = "all" if force else policy.reports.get("render", "alerting_and_latest")
    if alerts.get("status") not in (None, "ok"):
        return RenderDecision(False, "validation blocked this partition: there is no valid batch to compare")
    if mode == "all":
        return RenderDecision(True, "rendering forced" if force else "policy renders every partition")
    if mode == "none":
        return RenderDecision(False, "policy renders no reports")
    onsets = alert_onsets(alerts, previous)
    if onsets:
        shown = ", ".join(onsets[:4]) + (f" and {len(onsets) - 4} more" if len(onsets) > 4 else "")
        return RenderDecision(True, f"alert onset: {shown}")
    if latest:
        return RenderDecision(True, "latest partition of the run")
    if alerts.get("alerts"):
        return RenderDecision(False, "alerts already reported in the previous days (see the onset's report)")
    return RenderDecision(False, "no alerts")


def report_path(reports_root: Path, model: str, partition: str) -> Path:
    return Path(reports_root) / model / partition / "evidently.html"


def render_partition_report(
    config: ModelConfig,
    policy: Policy,
    store: ResultStore,
    reports_root: Path,
    partition: str,
    audit,
    *,
    run_id: str,
    config_hash: str,
) -> dict:
    """Render one partition's Evidently report from stored results and record it in the audit trail."""
    from drift_pipeline.lib.audit import ReportIn
    from drift_pipeline.lib.project import code_version

    reference = store.read_frame(config.name, "reference_dataset", None)
    batch = store.read_frame(config.name, "production_batch", partition)
    batch_meta = store.read_json(config.name, "production_batch", partition)
    alerts = store.read_json(config.name, "drift_alerts", partition)
    columns = [c for c in config.monitored_columns if c.name in batch.columns]
    numeric = [c.name for c in columns if c.type == "numeric"]
    categorical = [c.name for c in columns if c.type in {"categorical", "boolean"}]
    out = report_path(reports_root, config.name, partition)
    rendered = render_evidently_report(
        reference, batch, numeric=numeric, categorical=categorical, out_path=out, reports_root=Path(reports_root),
        max_rows=int(policy.reports.get("evidently_max_rows", 5000)), seed=policy.data_drift.seed,
        title=f"{config.name} · partition {partition} · baseline {alerts.get('baseline_version', 'n/a')}",
    )
    audit.record_report(ReportIn(
        model=config.name, partition=partition, report_type="evidently_html", path=str(out),
        file_sha256=rendered["sha256"], summary={"sampling": rendered["sampling"]}, run_id=run_id,
        input_files=batch_meta.get("input_files", []), data_fingerprint=batch_meta["data_fingerprint"], config_hash=config_hash,
        baseline_version=alerts.get("baseline_version"), code_version=code_version(),
    ))
    return {**rendered, "url": out.resolve().as_uri()}
