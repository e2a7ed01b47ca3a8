"""Read a model's rows from its declared source and cut reference and partition windows.

Every problem is raised as :class:`DataError` with the model, the partition (when there is
one), the file and what was expected, so the UI and the command line can show it as is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from drift_pipeline.lib.config import ModelConfig


class DataError(ValueError):
    """Bad input data: the message names the model, partition, file and problem."""


def _show(value) -> str:
    """A value as a user would write it (no ``np.int64(...)`` wrappers)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _where(config: ModelConfig, partition: str | None) -> str:
    return f"{config.name}" + (f", partition {partition}" if partition else "")


@dataclass(frozen=True)
class Window:
    """An inclusive range of calendar days."""

    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start} .. {self.end}"


def partition_window(config: ModelConfig, partition_key: str) -> Window:
    """The days a daily partition covers: the partition day and the ``window_days - 1`` before it."""
    try:
        day = dt.date.fromisoformat(partition_key)
    except ValueError:
        raise DataError(f"{config.name}: partition key {partition_key!r} is not a date (YYYY-MM-DD)") from None
    return Window(day - dt.timedelta(days=config.partitioning.window_days - 1), day)


def reference_window(config: ModelConfig) -> Window:
    return Window(config.reference.start, config.reference.end)


def source_path(config: ModelConfig, root: Path) -> Path:
    path = Path(config.source.path or "")
    return path if path.is_absolute() else Path(root) / path


def load_source(config: ModelConfig, root: Path, *, partition: str | None = None) -> pd.DataFrame:
    """All rows of the model's source file, filtered, with the time column parsed.

    Only declared source columns (and those the filters and prediction rule need) are kept.
    """
    if config.source.kind == "decision_log":  # recorded decisions in the audit store
        from drift_pipeline.lib.decision_source import load_decision_log

        return load_decision_log(config, partition=partition)
    path = source_path(config, root)
    where = _where(config, partition)
    if config.source.kind != "file":
        raise DataError(f"{where}: source kind {config.source.kind!r} is not readable as a file")
    if not path.exists():
        raise DataError(f"{where}: source file {path} does not exist")
    try:
        if config.source.resolved_format == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, na_values=config.source.na_values or None, low_memory=False)
    except Exception as exc:  # any parser failure becomes one clear message
        raise DataError(
            f"{where}: cannot read {path} as {config.source.resolved_format}: {type(exc).__name__}: {exc}"
        ) from None
    if config.time_column not in frame.columns:
        raise DataError(
            f"{where}: time column {config.time_column!r} is missing from {path} "
            f"(columns found: {', '.join(map(str, frame.columns[:12]))}{', ...' if len(frame.columns) > 12 else ''})"
        )
    for expression in config.source.filters:
        try:
            frame = frame.query(expression)
        except Exception as exc:
            raise DataError(f"{where}: source filter {expression!r} failed on {path}: {exc}") from None
    times = pd.to_datetime(frame[config.time_column], errors="coerce")
    bad = times.isna() & frame[config.time_column].notna()
    if bad.any():
        example = frame.loc[bad, config.time_column].iloc[0]
        raise DataError(
            f"{where}: {int(bad.sum())} values of time column {config.time_column!r} in {path} "
            f"are not dates (e.g. {_show(example)})"
        )
    frame = frame.assign(**{config.time_column: times})
    rule = config.model.prediction_rule
    if rule is not None:
        if rule.column not in frame.columns:
            raise DataError(f"{where}: prediction rule column {rule.column!r} is missing from {path}")
        frame = frame.assign(
            **{config.prediction_column: frame[rule.column].isin(rule.positive).where(frame[rule.column].notna())}
        )
    declared = [c.name for c in config.schema_ if c.name in frame.columns]
    return frame[declared].reset_index(drop=True)


def with_arrived_day(config: ModelConfig, source: pd.DataFrame, path: Path, day: str) -> pd.DataFrame:
    """``source`` with the rows of ``day`` replaced by those of a delivered day file.

    The arrival sensor has already checked the file's name, columns, types and dates; it is
    read exactly like the declared source (same filters and prediction rule), so history for
    a trailing window still comes from the source and the delivered day supersedes it.
    """
    delivered = config.model_copy(update={"source": config.source.model_copy(update={"path": str(path),
                                                                                     "format": None,
                                                                                     "kind": "file"})})
    rows = load_source(delivered, Path(path).parent, partition=day)
    days = source[config.time_column].to_numpy(dtype="datetime64[D]")
    kept = source.loc[days != np.datetime64(day)]
    return pd.concat([kept, rows], ignore_index=True).sort_values(config.time_column, kind="stable")


def rows_in_window(frame: pd.DataFrame, time_column: str, window: Window) -> pd.DataFrame:
    """Rows whose timestamp falls on a day inside ``window`` (inclusive)."""
    days = frame[time_column].to_numpy(dtype="datetime64[D]")
    mask = (days >= np.datetime64(window.start)) & (days <= np.datetime64(window.end))
    return frame.loc[mask].reset_index(drop=True)


def coerce_to_schema(frame: pd.DataFrame, config: ModelConfig, *, partition: str | None = None) -> pd.DataFrame:
    """Cast present columns to their declared type; report values that cannot be cast.

    Missing columns are left to validation (a CRITICAL expectation names them).
    """
    where = _where(config, partition)
    out = {}
    for spec in config.schema_:
        if spec.name not in frame.columns:
            continue
        column = frame[spec.name]
        if spec.type == "numeric":
            values = pd.to_numeric(column, errors="coerce")
            bad = values.isna() & column.notna()
            if bad.any():
                raise DataError(
                    f"{where}: column {spec.name!r} is declared numeric but holds "
                    f"{int(bad.sum())} non-numeric values (e.g. {_show(column[bad].iloc[0])})"
                )
            out[spec.name] = values.astype("float64")
        elif spec.type == "boolean":
            out[spec.name] = _as_boolean(column, spec.name, where)
        elif spec.type == "categorical":
            out[spec.name] = column.astype("object").where(column.notna(), None).map(
                lambda v: v if v is None else str(v)
            )
        else:
            out[spec.name] = column
    return frame.assign(**out)


def _as_boolean(column: pd.Series, name: str, where: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("boolean")
    mapping = {1: True, 0: False, "1": True, "0": False, "true": True, "false": False,  # 1.0 == 1 as a key
               "True": True, "False": False}
    mapped = column.map(lambda v: mapping.get(v, "bad") if pd.notna(v) else pd.NA)
    bad = mapped.eq("bad")
    if bad.any():
        raise DataError(
            f"{where}: column {name!r} is declared boolean but holds {_show(column[bad].iloc[0])} "
            "(expected true/false or 1/0)"
        )
    return mapped.astype("boolean")
