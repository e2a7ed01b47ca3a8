"""Production files arriving in a watched folder, mapped to daily partitions.

The contract (also in README "Automation"): a model's folder (``var/incoming/<model>/`` by
default) receives one file per day named ``YYYY-MM-DD.csv`` or ``YYYY-MM-DD.parquet``; the
name is the partition key, and every row's timestamp must fall on that day. A file is

- **malformed** when its name is not a date, its day is outside the model's partitions, the
  same day arrives twice (``.csv`` and ``.parquet``), it cannot be parsed, it is empty, a
  declared column is missing, a value cannot be cast to its declared type, or a timestamp
  lies outside the named day: it is reported and no run is requested;
- **late** when it was written (mtime) after its deadline, the end of its day plus a
  grace period (by default the daily analysis time the next morning): it is analysed all
  the same, and the lateness is reported.

Scanning is cheap on unchanged files: a file whose (size, mtime) is already in the
caller's state is not reread. Changed content gets a new fingerprint, so a corrected file
is a new delivery of its day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from drift_pipeline.lib.config import ModelConfig
from drift_pipeline.lib.sources import DataError, coerce_to_schema

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Arrival:
    """One file seen in the folder and what to do about it."""

    path: Path
    size: int
    mtime_ns: int
    partition: str | None
    fingerprint: str
    problems: tuple[str, ...] = ()
    late_by: dt.timedelta | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def state(self) -> list:
        """What the sensor cursor keeps about this file."""
        return [self.size, self.mtime_ns, self.fingerprint]

    def describe(self) -> str:
        if self.problems:
            return f"{self.path.name}: " + "; ".join(self.problems)
        if self.late_by is not None:
            return f"{self.path.name}: arrived {_hours(self.late_by)} after its deadline"
        return f"{self.path.name}: ok"


@dataclass
class Scan:
    """Files that are new or changed since the caller's state (and the new state)."""

    arrivals: list[Arrival] = field(default_factory=list)
    state: dict[str, list] = field(default_factory=dict)


def _hours(delta: dt.timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def file_fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _required_columns(config: ModelConfig) -> list[str]:
    """Declared columns a file must carry (the prediction may be derived by the model's rule)."""
    rule = config.model.prediction_rule
    needed = [c.name for c in config.schema_ if not (rule is not None and c.role == "prediction")]
    if rule is not None and rule.column not in needed:
        needed.append(rule.column)
    return needed


def inspect_file(
    path: Path,
    config: ModelConfig,
    *,
    first: dt.date,
    last: dt.date,
    deadline_after_day: dt.timedelta,
) -> Arrival:
    """Everything wrong with one arrived file (``problems``), and how late it is.

    Parameters
    ----------
    path : Path
        ``<folder>/YYYY-MM-DD.csv|parquet``.
    config : ModelConfig
        The model's contract: time column, declared schema and types, CSV null markers.
    first, last : date
        The model's partition range.
    deadline_after_day : timedelta
        How long after the end of the day (midnight UTC) the file may arrive on time.
    """
    stat = path.stat()
    fingerprint = file_fingerprint(path)
    where = f"{config.name}: incoming file {path}"
    match = _NAME.match(path.stem)
    day = None
    if match:
        try:
            day = dt.date.fromisoformat(match.group(1))
        except ValueError:
            day = None
    base = {"path": path, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "fingerprint": fingerprint}
    if day is None:
        return Arrival(partition=None, problems=(
            f"{where}: the name must be the partition day, YYYY-MM-DD{'|'.join(sorted(SUFFIXES))}",), **base)
    partition = day.isoformat()
    if not first <= day <= last:
        return Arrival(partition=partition, problems=(
            f"{where}: day {partition} is outside {config.name}'s partitions {first} .. {last}",), **base)
    problems = _content_problems(path, config, day, where)
    arrived = dt.datetime.fromtimestamp(stat.st_mtime_ns / 1e9, dt.UTC)
    deadline = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, dt.UTC) + deadline_after_day
    late_by = arrived - deadline if arrived > deadline else None
    return Arrival(partition=partition, problems=tuple(problems), late_by=late_by, **base)


def _content_problems(path: Path, config: ModelConfig, day: dt.date, where: str) -> list[str]:
    try:
        if SUFFIXES[path.suffix.lower()] == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, na_values=config.source.na_values or None, low_memory=False)
    except Exception as exc:  # any parser failure is one clear problem, never a crash
        return [f"{where}: cannot be read as {SUFFIXES[path.suffix.lower()]} ({type(exc).__name__}: {exc})"]
    if frame.empty:
        return [f"{where}: has no rows"]
    missing = [c for c in _required_columns(config) if c not in frame.columns]
    if missing:
        return [f"{where}: missing declared column(s) {', '.join(missing)}"]
    problems = []
    times = pd.to_datetime(frame[config.time_column], errors="coerce", utc=False)
    unparsed = int((times.isna() & frame[config.time_column].notna()).sum())
    if unparsed:
        problems.append(f"{where}: {unparsed} value(s) of {config.time_column!r} are not timestamps")
    days = times.dropna().dt.date
    outside = int((days != day).sum())
    if outside:
        problems.append(f"{where}: {outside} row(s) have a {config.time_column!r} outside {day} "
                        f"(e.g. {days[days != day].iloc[0]})")
    try:
        coerce_to_schema(frame.drop(columns=[config.time_column]), config, partition=day.isoformat())
    except DataError as exc:
        problems.append(f"{where}: {exc}")
    return problems


def scan_folder(
    folder: Path,
    config: ModelConfig,
    state: Mapping[str, list],
    *,
    first: dt.date,
    last: dt.date,
    deadline_after_day: dt.timedelta,
) -> Scan:
    """Inspect the files of ``folder`` that are new or changed since ``state``.

    ``state`` maps file names to ``[size, mtime_ns, fingerprint]`` as returned by a
    previous scan (the sensor cursor). Files of one day delivered in two formats are
    both reported as malformed.
    """
    scan = Scan(state={name: list(value) for name, value in state.items()})
    if not folder.is_dir():
        return scan
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES
                   and not p.name.startswith("."))
    stems: dict[str, list[Path]] = {}
    for path in files:
        stems.setdefault(path.stem, []).append(path)
    for path in files:
        stat = path.stat()
        known = state.get(path.name)
        if known is not None and known[0] == stat.st_size and known[1] == stat.st_mtime_ns:
            continue
        arrival = inspect_file(path, config, first=first, last=last, deadline_after_day=deadline_after_day)
        if known is not None and known[2] == arrival.fingerprint:
            scan.state[path.name] = arrival.state  # touched, same bytes: nothing new
            continue
        if len(stems[path.stem]) > 1:
            others = ", ".join(p.name for p in stems[path.stem] if p != path)
            arrival = Arrival(path=arrival.path, size=arrival.size, mtime_ns=arrival.mtime_ns,
                              partition=arrival.partition, fingerprint=arrival.fingerprint,
                              problems=(f"{config.name}: incoming file {path} delivers day {path.stem} again "
                                        f"(also {others}); keep one file per day",))
        scan.arrivals.append(arrival)
        scan.state[path.name] = arrival.state
    return scan
