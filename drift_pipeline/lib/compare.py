"""``drift-pipeline compare``: drift between any two tables, without a model config.

:func:`run_compare` reads a reference and a current file (parquet or CSV), profiles the
reference, computes :func:`drift_pipeline.lib.drift.feature_drift`, assesses it with
``config/policy.yaml`` and optionally writes JSON and a self-contained HTML page.
:func:`render_compare_table` gives the text the command prints. The CLI wiring lives
in ``drift_pipeline/cli.py``.

Columns and types come from a schema file in the format of the ``schema:`` list of
``config/models/*.yaml`` (a list of ``{name, role, type}``; a model file itself is also
accepted). Without one, types are read from the dtypes (bool -> boolean, numbers ->
numeric, text and categories -> categorical, datetimes skipped), never from the values,
and the inferred schema is returned as YAML so it can be saved, edited and passed back.
Columns with role ``id`` or ``timestamp`` and ``datetime`` columns are not compared.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from drift_pipeline.lib.config import (
    ColumnSpec,
    ConfigError,
    DataDriftSettings,
    load_policy,
)
from drift_pipeline.lib.drift import assess_feature_drift, feature_drift
from drift_pipeline.lib.profile import DriftInputError, ReferenceProfile

__all__ = [
    "JSON_FIELDS",
    "CompareError",
    "CompareResult",
    "compare_json",
    "infer_schema",
    "load_schema",
    "read_table",
    "render_compare",
    "render_compare_html",
    "render_compare_table",
    "run_compare",
]

JSON_FIELDS: list[str] = [
    "feature",
    "type",
    "n_reference",
    "n_current",
    "psi",
    "ks_statistic",
    "ks_pvalue",
    "ks_threshold",
    "wasserstein",
    "wasserstein_normed",
    "kl",
    "js_distance",
    "chi2_pvalue",
    "null_rate_reference",
    "null_rate_current",
    "p_adjusted",
    "severity",
]
_SKIPPED_ROLES = {"id", "timestamp"}
_COMPARED_TYPES = {"numeric", "categorical", "boolean"}


class CompareError(ValueError):
    """The compare command cannot run on these inputs (names the file or column)."""


@dataclass(frozen=True)
class CompareResult:
    """What ``drift-pipeline compare`` computed and wrote."""

    table: pd.DataFrame  # feature_drift + assess_feature_drift columns
    schema: list[dict]  # [{name, role, type}] actually used
    schema_inferred: bool
    reference_path: Path
    current_path: Path
    profile_fingerprint: str
    settings: DataDriftSettings
    json_path: Path | None = None
    html_path: Path | None = None

    @property
    def schema_yaml(self) -> str:
        """The schema as YAML (the format ``--schema`` accepts)."""
        return yaml.safe_dump(self.schema, sort_keys=False, default_flow_style=None)

    @property
    def worst_severity(self) -> str:
        order = ["INFO", "WARNING", "CRITICAL"]
        return max(self.table["severity"], key=order.index, default="INFO")


# --------------------------------------------------------------------------- inputs


def read_table(path: Path) -> pd.DataFrame:
    """Read a parquet (``.parquet``/``.pq``) or CSV (``.csv``, ``.csv.gz``, ``.txt``) file."""
    path = Path(path)
    if not path.exists():
        raise CompareError(f"{path}: file not found")
    if not path.is_file():
        raise CompareError(f"{path}: not a file")
    suffixes = [s.lower() for s in path.suffixes]
    try:
        if suffixes and suffixes[-1] in {".parquet", ".pq"}:
            return pd.read_parquet(path)
        if suffixes and (suffixes[-1] in {".csv", ".txt"} or suffixes[-2:] in ([".csv", ".gz"], [".csv", ".zip"])):
            return pd.read_csv(path)
    except (OSError, ValueError) as exc:  # parser, decoding, empty-file and Arrow errors are ValueErrors
        raise CompareError(f"{path}: cannot be read ({type(exc).__name__}: {exc})") from None
    raise CompareError(f"{path}: unknown file type (expected .parquet, .pq or .csv)")


def infer_schema(frame: pd.DataFrame) -> list[dict]:
    """A schema from dtypes only: bool -> boolean, numbers -> numeric, datetimes -> timestamp, else categorical."""
    schema = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kind, role = "boolean", "feature"
        elif pd.api.types.is_numeric_dtype(dtype):
            kind, role = "numeric", "feature"
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kind, role = "datetime", "timestamp"
        elif pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(frame[name], skipna=True) == "boolean":
            kind, role = "boolean", "feature"  # CSV booleans with missing values
        else:
            kind, role = "categorical", "feature"
        schema.append({"name": str(name), "role": role, "type": kind})
    return schema


def load_schema(path: Path) -> list[dict]:
    """Read a schema file: a list of ``{name, role, type}`` or a model file with a ``schema:`` key."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise CompareError(f"{path}: schema file not found") from None
    except (OSError, yaml.YAMLError) as exc:
        raise CompareError(f"{path}: not a readable YAML file ({exc})") from None
    if isinstance(data, dict) and "schema" in data:
        data = data["schema"]
    if not isinstance(data, list) or not data:
        raise CompareError(f"{path}: expected a non-empty list of {{name, role, type}} entries")
    schema = []
    for index, entry in enumerate(data):
        try:
            spec = ColumnSpec.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise CompareError(f"{path}: schema entry {index} ({entry!r}): {problems}") from None
        schema.append({"name": spec.name, "role": spec.role, "type": spec.type})
    names = [s["name"] for s in schema]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CompareError(f"{path}: schema declares these columns twice: {duplicated}")
    return schema


def _compared(schema: list[dict]) -> dict[str, str]:
    return {s["name"]: s["type"] for s in schema if s["role"] not in _SKIPPED_ROLES and s["type"] in _COMPARED_TYPES}


# --------------------------------------------------------------------------- run


def run_compare(
    reference_path: Path,
    current_path: Path,
    schema_path: Path | None = None,
    json_out: Path | None = None,
    html_out: Path | None = None,
    config_dir: Path = Path("config"),
) -> CompareResult:
    """Compare two tables column by column with the data-drift policy.

    Raises
    ------
    CompareError
        A file is missing or unreadable, a schema column is missing from the data, a
        value cannot be read as its declared type, or the policy cannot be loaded.
    """
    reference_path, current_path = Path(reference_path), Path(current_path)
    try:
        policy = load_policy(Path(config_dir))
    except ConfigError as exc:
        raise CompareError(str(exc)) from None
    reference = read_table(reference_path)
    current = read_table(current_path)
    if schema_path is not None:
        schema, inferred = load_schema(Path(schema_path)), False
    else:
        schema, inferred = infer_schema(reference), True
    types = _compared(schema)
    if not types:
        raise CompareError("no columns to compare: the schema has no numeric, categorical or boolean feature columns")
    for frame, path in ((reference, reference_path), (current, current_path)):
        missing = [name for name in types if name not in frame.columns]
        if missing:
            raise CompareError(f"{path}: missing column(s) {', '.join(map(repr, missing))} declared in the schema")
    settings = policy.data_drift
    try:
        profile = ReferenceProfile.build(reference, types, settings)
        table = feature_drift(profile, current, settings)
    except DriftInputError as exc:
        raise CompareError(str(exc)) from None
    assessed = assess_feature_drift(table, policy, model=None)
    result = CompareResult(
        table=assessed,
        schema=schema,
        schema_inferred=inferred,
        reference_path=reference_path,
        current_path=current_path,
        profile_fingerprint=profile.fingerprint,
        settings=settings,
        json_path=Path(json_out) if json_out is not None else None,
        html_path=Path(html_out) if html_out is not None else None,
    )
    if result.json_path is not None:
        _write(result.json_path, json.dumps(compare_json(result), indent=2, allow_nan=False) + "\n")
    if result.html_path is not None:
        _write(result.html_path, render_compare_html(result))
    return result


def _write(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise CompareError(f"{path}: cannot write ({exc})") from None


# --------------------------------------------------------------------------- outputs


def _plain(value: object) -> object:
    """A JSON-safe scalar: NaN and ±inf become null, numpy scalars Python ones."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return str(value)


def compare_json(result: CompareResult) -> dict:
    """The JSON document: inputs, settings and one record per feature (null where not applicable)."""
    features = []
    for _, row in result.table.iterrows():
        record = {field: _plain(row[field]) for field in JSON_FIELDS}
        record.update(status=row["status"], metric=row["metric"], gated_by=row["gated_by"])
        features.append(record)
    s = result.settings
    return {
        "reference": str(result.reference_path),
        "current": str(result.current_path),
        "schema_inferred": result.schema_inferred,
        "profile_fingerprint": result.profile_fingerprint,
        "settings": {
            "alpha": s.alpha,
            "correction": s.correction,
            "min_sample_size": s.min_sample_size,
            "psi_bins": s.psi_bins,
            "ks_permutations": s.ks_permutations,
            "seed": s.seed,
            "effect_size_gate": list(s.effect_size_gate),
        },
        "worst_severity": result.worst_severity,
        "features": features,
    }


_TABLE_COLUMNS = [
    ("feature", "feature", "{}"),
    ("type", "type", "{}"),
    ("n_ref", "n_reference", "{:d}"),
    ("n_cur", "n_current", "{:d}"),
    ("psi", "psi", "{:.3f}"),
    ("ks", "ks_statistic", "{:.3f}"),
    ("ks_thr", "ks_threshold", "{:.3f}"),
    ("w_norm", "wasserstein_normed", "{:.3f}"),
    ("js", "js_distance", "{:.3f}"),
    ("null_ref", "null_rate_reference", "{:.1%}"),
    ("null_cur", "null_rate_current", "{:.1%}"),
    ("p_adj", "p_adjusted", "{:.2g}"),
    ("severity", "severity", "{}"),
    ("driven_by", "metric", "{}"),
]


def _cell(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "-"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def render_compare_table(result: CompareResult) -> str:
    """The per-feature table the command prints (fixed-width text, '-' where not applicable)."""
    header = [title for title, _, _ in _TABLE_COLUMNS]
    rows = [[_cell(row[col], fmt) for _, col, fmt in _TABLE_COLUMNS] for _, row in result.table.iterrows()]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    numeric_from = 2  # right-align the numbers

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < numeric_from or i >= 12 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]
    return "\n".join(out)


def render_compare(result: CompareResult) -> str:
    """Everything the command prints: the inferred schema (if any), the table and what was written."""
    parts = []
    if result.schema_inferred:
        parts.append("# Inferred schema (from dtypes); save it, edit it and pass it with --schema:")
        parts.append(result.schema_yaml.rstrip())
        parts.append("")
    s = result.settings
    parts.append(
        f"Drift of {result.current_path} against {result.reference_path} "
        f"(alpha {s.alpha:g}, {s.correction} correction, effect-size gate: {', '.join(s.effect_size_gate)})"
    )
    parts.append(render_compare_table(result))
    parts.append(f"Worst severity: {result.worst_severity}")
    for label, path in (("JSON", result.json_path), ("HTML", result.html_path)):
        if path is not None:
            parts.append(f"{label} written to {path}")
    return "\n".join(parts) + "\n"


_SEVERITY_COLOURS = {"INFO": "#e8f5e9", "WARNING": "#fff3cd", "CRITICAL": "#f8d7da"}


def render_compare_html(result: CompareResult) -> str:
    """A self-contained HTML page with the per-feature table (no scripts, no external assets)."""
    head = "".join(f"<th>{html.escape(title)}</th>" for title, _, _ in _TABLE_COLUMNS) + "<th>decision</th>"
    body = []
    for _, row in result.table.iterrows():
        colour = _SEVERITY_COLOURS.get(str(row["severity"]), "#ffffff")
        cells = "".join(f"<td>{html.escape(_cell(row[col], fmt))}</td>" for _, col, fmt in _TABLE_COLUMNS)
        body.append(f'<tr style="background:{colour}">{cells}<td>{html.escape(str(row["gated_by"]))}</td></tr>')
    s = result.settings
    title = f"Drift: {result.current_path.name} vs {result.reference_path.name}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }}
th {{ background: #f0f0f0; }}
td:first-child, td:nth-child(2), td:nth-last-child(-n+3) {{ text-align: left; }}
</style></head>
<body>
<h1>{html.escape(title)}</h1>
<p>Reference <code>{html.escape(str(result.reference_path))}</code>, current
<code>{html.escape(str(result.current_path))}</code>. Alpha {s.alpha:g} with {html.escape(s.correction)}
correction over every feature's value and null-rate tests; a shift alerts only when significant and one of
{html.escape(", ".join(s.effect_size_gate))} reaches its WARNING band. Worst severity:
<strong>{html.escape(result.worst_severity)}</strong>. Reference profile
<code>{html.escape(result.profile_fingerprint[:16])}</code>.</p>
<table><thead><tr>{head}</tr></thead><tbody>
{chr(10).join(body)}
</tbody></table>
</body></html>
"""
