"""Small markdown renderings for Dagster metadata and reports."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd


def _cell(value) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3g}"
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table(rows: Iterable[Mapping] | pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    """A GitHub-flavoured markdown table; floats to 4 significant digits, NaN as blank."""
    if isinstance(rows, pd.DataFrame):
        frame = rows
        rows = frame.to_dict("records")
        columns = list(columns or frame.columns)
    rows = list(rows)
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    if not columns:
        return "_(nothing to show)_"
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    body = "".join("| " + " | ".join(_cell(r.get(c)) for c in columns) + " |\n" for r in rows)
    return head + (body or "| " + " | ".join("" for _ in columns) + " |\n")
