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
from pathlib import Path

import pandas as pd

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
