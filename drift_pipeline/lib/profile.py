"""Reference profiles and mergeable batch summaries (SPEC §9).

A :class:`ReferenceProfile` is computed once per baseline version and reused by every
partition: for each monitored column it holds everything the drift statistics need
(the exact reference ECDF as distinct sorted finite values with counts, PSI bin edges
and reference bin counts, category domain and counts, null and non-finite counts,
mean / std / min / max).

A production batch is reduced chunk by chunk into :class:`BatchSummary` objects
(``BatchSummary.from_frame(chunk, profile)``) that merge exactly (``a.merge(b)``), so
memory is bounded by the reference, not by the batch, and chunks can be summarised on
different machines. Per numeric column a merged summary holds the occupied ECDF cells
(:class:`drift_pipeline.lib.stats.EcdfCells`) while they are small and otherwise the
fixed-size :class:`drift_pipeline.lib.stats.DenseCells` (32 bytes per distinct
reference value), into which streamed chunks are added in place; per categorical
column one count per reference category plus one for unseen categories.

Columns are summarised in parallel threads (numpy's sort and pandas' string hashing
release the GIL); :func:`worker_threads` sets how many.

Values are coerced per declared type, never guessed: ``numeric`` accepts numbers,
booleans and numeric strings; ``categorical`` compares canonical text (``1``, ``1.0``
and ``"1"`` are the same category); ``boolean`` is categorical over ``False``/``True``
and accepts ``True``/``False``, ``0``/``1`` and their usual spellings. A value that
cannot be coerced raises :class:`DriftInputError` naming the column.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

import numpy as np
import pandas as pd

from drift_pipeline.lib.config import DataDriftSettings
from drift_pipeline.lib.stats import DenseCells, EcdfCells, ReferenceGrid

__all__ = [
    "BatchSummary",
    "CategoricalReference",
    "CategoricalSummary",
    "DriftInputError",
    "NumericReference",
    "NumericSummary",
    "ReferenceProfile",
    "batch_columns",
    "feature_drift_from_parquet",
    "map_columns",
    "summarise_column",
    "summarize_parquet",
    "worker_threads",
]

T = TypeVar("T")
FeatureType = Literal["numeric", "categorical", "boolean"]
FEATURE_TYPES: tuple[str, ...] = ("numeric", "categorical", "boolean")
_FORMAT_VERSION = 1
_BOOLEAN_DOMAIN = ("False", "True")
_TRUE_WORDS = {"true", "t", "yes", "y", "1"}
_FALSE_WORDS = {"false", "f", "no", "n", "0"}


class DriftInputError(ValueError):
    """Input data cannot be profiled or compared as declared (names the column and what was expected)."""


# --------------------------------------------------------------------------- coercion


def _numeric_values(series: pd.Series, name: str) -> np.ndarray:
    """Column as float64 with nulls as NaN; non-numeric values raise :class:`DriftInputError`."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DriftInputError(f"column {name!r}: expected numeric values, found {dtype} (declare it as another type)")
    values = series.astype(object) if isinstance(dtype, pd.CategoricalDtype) else series
    coerced = pd.to_numeric(values, errors="coerce")
    bad = coerced.isna() & values.notna()
    if bad.any():
        raise DriftInputError(f"column {name!r}: expected numeric values, found {values[bad].iloc[0]!r}")
    return np.asarray(coerced, dtype=np.float64)


def _canonical(value: object, kind: str, name: str) -> str:
    """Canonical text of one category value (see module docstring)."""
    if kind == "boolean":
        if isinstance(value, (bool, np.bool_)):
            return "True" if value else "False"
        if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
            return "True" if value == 1 else "False"
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS | _FALSE_WORDS:
            return "True" if value.strip().lower() in _TRUE_WORDS else "False"
        raise DriftInputError(f"column {name!r}: expected boolean values (True/False or 1/0), found {value!r}")
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return str(int(value)) if float(value).is_integer() else str(float(value))
    return str(value)


def _factorized(series: pd.Series, kind: str, name: str) -> tuple[np.ndarray, list[str]]:
    """(codes with -1 for null, canonical text of each code); hashing once, canonicalising uniques only.

    Python hashes ``True`` like ``1`` (and ``False`` like ``0``), so one hash pass would count
    them as one category; in a categorical column mixing booleans and numbers the booleans
    are factorised apart (their canonical text is ``True``/``False``, not ``1``/``0``).
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        uniques: Iterable[object] = series.cat.categories
    elif (
        kind == "categorical"
        and series.dtype == object
        and pd.api.types.infer_dtype(series, skipna=True) in ("mixed", "mixed-integer")
    ):
        values = series.to_numpy()
        is_bool = np.fromiter((isinstance(v, (bool, np.bool_)) for v in values), dtype=bool, count=values.size)
        bool_codes, bool_uniques = pd.factorize(values[is_bool])
        other_codes, other_uniques = pd.factorize(values[~is_bool], use_na_sentinel=True)
        codes = np.empty(values.size, dtype=np.intp)
        codes[is_bool] = bool_codes
        codes[~is_bool] = np.where(other_codes >= 0, other_codes + len(bool_uniques), -1)
        uniques = [*bool_uniques, *other_uniques]
    else:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.intp), [_canonical(u, kind, name) for u in uniques]


def _column(frame: pd.DataFrame, name: str, where: str) -> pd.Series:
    if name not in frame.columns:
        raise DriftInputError(f"column {name!r} is profiled but missing from the {where}")
    column = frame[name]
    if isinstance(column, pd.DataFrame):
        raise DriftInputError(f"column {name!r} appears more than once in the {where}")
    return column


def _nan_to_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


# --------------------------------------------------------------------------- reference side


@dataclass(frozen=True, eq=False)
class NumericReference:
    """Reference statistics of one numeric column."""

    name: str
    n_rows: int
    n_null: int
    n_posinf: int
    n_neginf: int
    grid: ReferenceGrid
    mean: float
    std: float
    min: float
    max: float
    edges: np.ndarray  # interior PSI bin edges (reference values)
    bin_counts: np.ndarray  # reference counts per PSI bin, ±inf included
    type: str = "numeric"

    @classmethod
    def build(cls, name: str, series: pd.Series, n_bins: int) -> NumericReference:
        x = _numeric_values(series, name)
        null = np.isnan(x)
        finite = np.sort(x[np.isfinite(x)])
        grid = ReferenceGrid.from_values(finite)
        edges = grid.quantile_edges(n_bins)
        n_posinf = int(np.count_nonzero(x == np.inf))
        n_neginf = int(np.count_nonzero(x == -np.inf))
        counts = np.bincount(
            np.searchsorted(edges, grid.values, side="left"), weights=grid.counts, minlength=edges.size + 1
        )
        counts = np.rint(counts).astype(np.int64)
        counts[0] += n_neginf
        counts[-1] += n_posinf
        return cls(
            name=name,
            n_rows=int(x.size),
            n_null=int(null.sum()),
            n_posinf=n_posinf,
            n_neginf=n_neginf,
            grid=grid,
            mean=float(finite.mean()) if finite.size else math.nan,
            std=float(finite.std()) if finite.size else math.nan,
            min=float(finite[0]) if finite.size else math.nan,
            max=float(finite[-1]) if finite.size else math.nan,
            edges=edges,
            bin_counts=counts,
        )

    @property
    def n_values(self) -> int:
        """Non-null values (finite and ±inf)."""
        return self.n_rows - self.n_null

    @cached_property
    def edge_cells(self) -> np.ndarray:
        """Cell id ``2i + 1`` of each PSI edge ``d_i`` (edges are reference values): bins are
        ``(e_{j-1}, e_j]``, so a value is in bin ``j`` when its cell id is above edge cell
        ``j - 1`` and at most edge cell ``j``."""
        return 2 * np.searchsorted(self.grid.values, self.edges).astype(np.int64) + 1

    def _meta(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "n_rows": self.n_rows,
            "n_null": self.n_null,
            "n_posinf": self.n_posinf,
            "n_neginf": self.n_neginf,
            "mean": _nan_to_none(self.mean),
            "std": _nan_to_none(self.std),
            "min": _nan_to_none(self.min),
            "max": _nan_to_none(self.max),
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "values": self.grid.values,
            "counts": self.grid.counts,
            "edges": self.edges,
            "bin_counts": self.bin_counts,
        }

    @classmethod
    def _restore(cls, meta: dict, arrays: Mapping[str, np.ndarray]) -> NumericReference:
        return cls(
            name=meta["name"],
            n_rows=meta["n_rows"],
            n_null=meta["n_null"],
            n_posinf=meta["n_posinf"],
            n_neginf=meta["n_neginf"],
            grid=ReferenceGrid(arrays["values"].astype(np.float64), arrays["counts"].astype(np.int64)),
            mean=_none_to_nan(meta["mean"]),
            std=_none_to_nan(meta["std"]),
            min=_none_to_nan(meta["min"]),
            max=_none_to_nan(meta["max"]),
            edges=arrays["edges"].astype(np.float64),
            bin_counts=arrays["bin_counts"].astype(np.int64),
        )


@dataclass(frozen=True, eq=False)
class CategoricalReference:
    """Reference statistics of one categorical (or boolean) column."""

    name: str
    type: str  # "categorical" | "boolean"
    n_rows: int
    n_null: int
    categories: tuple[str, ...]  # sorted canonical text (False, True for booleans)
    counts: np.ndarray  # int64 per category

    @classmethod
    def build(cls, name: str, series: pd.Series, kind: str) -> CategoricalReference:
        codes, texts = _factorized(series, kind, name)
        domain = sorted(set(texts)) if kind == "categorical" else list(_BOOLEAN_DOMAIN)
        lookup = pd.Index(domain).get_indexer(texts)
        present = codes >= 0
        counts = np.bincount(lookup[codes[present]], minlength=len(domain)).astype(np.int64)
        return cls(name, kind, int(codes.size), int((~present).sum()), tuple(domain), counts)

    @property
    def n_values(self) -> int:
        return self.n_rows - self.n_null

    @cached_property
    def index(self) -> pd.Index:
        return pd.Index(self.categories)

    @cached_property
    def _table(self) -> object | None:
        """pandas' object hash table of the categories (half the time of ``Index.get_indexer``,
        which first scans the values to infer their type); None if this pandas lacks it."""
        try:
            from pandas._libs.hashtable import PyObjectHashTable

            table = PyObjectHashTable(len(self.categories))
            table.map_locations(np.array(self.categories, dtype=object))
            return table
        except (ImportError, AttributeError, TypeError):  # pragma: no cover - other pandas versions
            return None

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Position of each value among the categories (exact text match), -1 where absent."""
        table = self._table
        if table is not None:
            return np.asarray(table.lookup(values), dtype=np.intp)
        return self.index.get_indexer(values)  # pragma: no cover - other pandas versions

    def _meta(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "n_rows": self.n_rows,
            "n_null": self.n_null,
            "categories": list(self.categories),
        }

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"counts": self.counts}

    @classmethod
    def _restore(cls, meta: dict, arrays: Mapping[str, np.ndarray]) -> CategoricalReference:
        return cls(
            meta["name"],
            meta["type"],
            meta["n_rows"],
            meta["n_null"],
            tuple(meta["categories"]),
            arrays["counts"].astype(np.int64),
        )


FeatureReference = NumericReference | CategoricalReference


def _write_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """An ``.npz`` with fixed member order and timestamps, so equal content gives equal bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for key in sorted(arrays):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, buffer.getvalue())


@dataclass(frozen=True, eq=False)
class ReferenceProfile:
    """Everything the drift statistics need from one baseline, computed once and reused."""

    features: Mapping[str, FeatureReference]
    psi_bins: int

    @classmethod
    def build(
        cls, reference: pd.DataFrame, schema: Mapping[str, str], settings: DataDriftSettings
    ) -> ReferenceProfile:
        """Profile ``reference`` for the columns of ``schema`` (column -> numeric | categorical | boolean)."""
        features: dict[str, FeatureReference] = {}
        for name, kind in schema.items():
            if kind not in FEATURE_TYPES:
                raise DriftInputError(f"column {name!r}: type {kind!r} cannot be profiled (expected one of {FEATURE_TYPES})")
            series = _column(reference, name, "reference data")
            if kind == "numeric":
                features[name] = NumericReference.build(name, series, settings.psi_bins)
            else:
                features[name] = CategoricalReference.build(name, series, kind)
        profile = cls(features=features, psi_bins=settings.psi_bins)
        profile.fingerprint  # noqa: B018  (computed once here, not in the first partition)
        return profile

    @property
    def schema(self) -> dict[str, str]:
        """Column -> declared type, in profile order."""
        return {name: ref.type for name, ref in self.features.items()}

    def _content(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta = {
            "format_version": _FORMAT_VERSION,
            "psi_bins": self.psi_bins,
            "features": [ref._meta() for ref in self.features.values()],
        }
        arrays = {
            f"{i:04d}.{key}": value
            for i, ref in enumerate(self.features.values())
            for key, value in ref._arrays().items()
        }
        return meta, arrays

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical content (JSON metadata with sorted keys, then each array's dtype, shape and bytes)."""
        meta, arrays = self._content()
        digest = hashlib.sha256(json.dumps(meta, sort_keys=True, separators=(",", ":"), allow_nan=False).encode())
        for key in sorted(arrays):
            array = np.ascontiguousarray(arrays[key])
            little = array.astype(array.dtype.newbyteorder("<"), copy=False)
            digest.update(f"|{key}|{little.dtype.str}|{little.shape}|".encode())
            digest.update(little.tobytes())
        return digest.hexdigest()

    def save(self, directory: Path) -> Path:
        """Write ``profile.json`` and ``arrays.npz`` to ``directory`` (same content, same bytes)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta, arrays = self._content()
        meta = {**meta, "fingerprint": self.fingerprint}
        (directory / "profile.json").write_text(json.dumps(meta, sort_keys=True, indent=2, allow_nan=False) + "\n")
        _write_npz(directory / "arrays.npz", arrays)
        return directory

    @classmethod
    def load(cls, directory: Path) -> ReferenceProfile:
        """Read a profile written by :meth:`save`; the stored fingerprint must match the content."""
        directory = Path(directory)
        try:
            meta = json.loads((directory / "profile.json").read_text())
            with np.load(directory / "arrays.npz", allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except FileNotFoundError as exc:
            raise DriftInputError(f"{directory}: no saved reference profile ({exc.filename} missing)") from None
        if meta.get("format_version") != _FORMAT_VERSION:
            raise DriftInputError(f"{directory}: unsupported profile format {meta.get('format_version')!r}")
        features: dict[str, FeatureReference] = {}
        for i, feature_meta in enumerate(meta["features"]):
            prefix = f"{i:04d}."
            own = {key[len(prefix) :]: value for key, value in arrays.items() if key.startswith(prefix)}
            kind = NumericReference if feature_meta["type"] == "numeric" else CategoricalReference
            features[feature_meta["name"]] = kind._restore(feature_meta, own)
        profile = cls(features=features, psi_bins=meta["psi_bins"])
        if profile.fingerprint != meta.get("fingerprint"):
            raise DriftInputError(f"{directory}: profile content does not match its stored fingerprint")
        return profile

    def summary_table(self) -> pd.DataFrame:
        """One row per feature: type, rows, null rate, mean/std/min/max, categories and the top one."""
        rows = []
        for name, ref in self.features.items():
            row = {
                "feature": name,
                "type": ref.type,
                "n": ref.n_rows,
                "null_rate": ref.n_null / ref.n_rows if ref.n_rows else math.nan,
                "mean": math.nan,
                "std": math.nan,
                "min": math.nan,
                "max": math.nan,
                "n_categories": pd.NA,
                "top_category": None,
            }
            if isinstance(ref, NumericReference):
                row.update(mean=ref.mean, std=ref.std, min=ref.min, max=ref.max)
            else:
                row["n_categories"] = len(ref.categories)
                if ref.counts.sum():
                    row["top_category"] = ref.categories[int(np.argmax(ref.counts))]
            rows.append(row)
        table = pd.DataFrame(rows, columns=list(rows[0]) if rows else ["feature"])
        if "n_categories" in table:
            table["n_categories"] = table["n_categories"].astype("Int64")
        return table


# --------------------------------------------------------------------------- batch side

_PARALLEL_MIN_ROWS = 50_000
_CELL_BYTES = 40  # one occupied EcdfCells cell: id, count, sum, min, max


def worker_threads() -> int:
    """Threads for per-column work: ``DRIFT_PIPELINE_THREADS`` if set, else the usable cores (at most 8)."""
    configured = os.environ.get("DRIFT_PIPELINE_THREADS", "").strip()
    if configured:
        try:
            return max(1, int(configured))
        except ValueError:
            raise DriftInputError(f"DRIFT_PIPELINE_THREADS={configured!r}: expected a positive integer") from None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def map_columns(function: Callable[[str], T], names: list[str], *, rows: int) -> list[T]:
    """``[function(name) for name in names]``, in threads when the columns are long enough to gain.

    Results keep the order of ``names``; the first error is raised as it is. Each
    column's result depends only on that column, so threads never change a number.
    """
    threads = min(worker_threads(), len(names))
    if threads <= 1 or rows < _PARALLEL_MIN_ROWS:
        return [function(name) for name in names]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="drift-column") as pool:
        return list(pool.map(function, names))



@dataclass(frozen=True, eq=False)
class NumericSummary:
    """One numeric column of a batch: null and ±inf counts and the finite values.

    A summary of one chunk keeps the chunk's sorted finite values (the exact fast
    path of :func:`drift_pipeline.lib.drift.numeric_statistics`, no bigger than the
    chunk itself). Merged summaries keep only ECDF cells against the reference grid:
    occupied cells while they are smaller than the grid's :class:`DenseCells`, then
    that fixed-size form, so a merged summary never outgrows ``32`` bytes per distinct
    reference value whatever the batch size.
    """

    n_rows: int
    n_null: int
    n_posinf: int
    n_neginf: int
    grid: ReferenceGrid
    values: np.ndarray | None = None  # sorted finite values of a single chunk
    merged_cells: EcdfCells | None = None
    dense: DenseCells | None = None

    @classmethod
    def build(cls, ref: NumericReference, series: pd.Series) -> NumericSummary:
        x = _numeric_values(series, ref.name)
        finite = np.isfinite(x)
        if finite.all():
            xs = np.sort(x)
            n_posinf = n_neginf = n_null = 0
        else:
            xs = x[finite]
            xs.sort()  # in place: one copy of the column, not two
            rest = x[~finite]  # nulls and infinities only
            n_posinf = int(np.count_nonzero(rest == np.inf))
            n_neginf = int(np.count_nonzero(rest == -np.inf))
            n_null = int(rest.size - n_posinf - n_neginf)
        return cls(int(x.size), n_null, n_posinf, n_neginf, ref.grid, values=xs)

    @property
    def cells(self) -> EcdfCells:
        """The finite values as ECDF cells against the reference grid (computed on each access)."""
        if self.dense is not None:
            return self.dense.cells(self.grid)
        if self.merged_cells is not None:
            return self.merged_cells
        return EcdfCells.from_sorted(self.grid, self.values)

    @property
    def n_values(self) -> int:
        return self.n_rows - self.n_null

    @property
    def n_finite(self) -> int:
        return self.n_values - self.n_posinf - self.n_neginf

    def densified(self, expected_rows: int) -> NumericSummary:
        """This summary in the fixed-size form if ``expected_rows`` values could need more memory as cells."""
        if self.dense is not None or expected_rows * _CELL_BYTES <= DenseCells.nbytes_for(self.grid):
            return self
        dense = DenseCells.of(self.grid, self.cells)
        return NumericSummary(self.n_rows, self.n_null, self.n_posinf, self.n_neginf, self.grid, dense=dense)

    def merge(self, other: NumericSummary, *, reuse: bool = False) -> NumericSummary:
        """Summary of both parts. ``reuse=True`` lets the result take over this summary's
        fixed-size cells instead of copying them (for a caller that drops this summary)."""
        dense: DenseCells | None = None
        cells: EcdfCells | None = None
        if self.dense is not None or other.dense is not None:
            base, extra = (self, other) if self.dense is not None else (other, self)
            dense = base.dense if reuse and base is self else base.dense.copy()
            if extra.dense is not None:
                dense.add_dense(extra.dense)
            else:
                dense.add(extra.cells)
        else:
            cells = self.cells.merge(other.cells)
            if cells.nbytes > DenseCells.nbytes_for(self.grid):
                dense, cells = DenseCells.of(self.grid, cells), None
        return NumericSummary(
            self.n_rows + other.n_rows,
            self.n_null + other.n_null,
            self.n_posinf + other.n_posinf,
            self.n_neginf + other.n_neginf,
            self.grid,
            merged_cells=cells,
            dense=dense,
        )

    def equals(self, other: NumericSummary) -> bool:
        same = (self.n_rows, self.n_null, self.n_posinf, self.n_neginf)
        return same == (other.n_rows, other.n_null, other.n_posinf, other.n_neginf) and self.cells.equals(other.cells)


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """One categorical column of a batch: counts per reference category, then one unseen count."""

    n_rows: int
    n_null: int
    counts: np.ndarray  # int64, len(categories) + 1

    @classmethod
    def build(cls, ref: CategoricalReference, series: pd.Series) -> CategoricalSummary:
        k = len(ref.categories)
        counts = np.zeros(k + 1, dtype=np.int64)
        rest = series
        if ref.type == "categorical" and (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
            # Text equal to a reference category is already canonical: look it up directly
            # and send only the rest (other spellings, unseen values, nulls) through canonicalisation.
            hit = ref.lookup(series.to_numpy(dtype=object))
            found = hit >= 0
            counts[:k] = np.bincount(hit[found], minlength=k)
            rest = series[~found] if not found.all() else series.iloc[:0]
        codes, texts = _factorized(rest, ref.type, ref.name)
        lookup = ref.index.get_indexer(texts)
        lookup = np.where(lookup < 0, k, lookup)
        present = codes >= 0
        counts += np.bincount(lookup[codes[present]], minlength=k + 1)
        return cls(int(series.size), int((~present).sum()), counts)

    @property
    def n_values(self) -> int:
        return self.n_rows - self.n_null

    def densified(self, expected_rows: int) -> CategoricalSummary:
        """Itself: a categorical summary is fixed-size already."""
        return self

    def merge(self, other: CategoricalSummary, *, reuse: bool = False) -> CategoricalSummary:
        return CategoricalSummary(self.n_rows + other.n_rows, self.n_null + other.n_null, self.counts + other.counts)

    def equals(self, other: CategoricalSummary) -> bool:
        return (self.n_rows, self.n_null) == (other.n_rows, other.n_null) and np.array_equal(self.counts, other.counts)


FeatureSummary = NumericSummary | CategoricalSummary


def batch_columns(chunk: pd.DataFrame, profile: ReferenceProfile, columns: Iterable[str] | None = None) -> list[str]:
    """The columns to summarise (every profiled one by default), each checked to be profiled and present once."""
    names = list(profile.features) if columns is None else list(columns)
    for name in names:
        if name not in profile.features:
            raise DriftInputError(f"column {name!r} is not in the reference profile")
        _column(chunk, name, "batch")
    return names


def summarise_column(profile: ReferenceProfile, chunk: pd.DataFrame, name: str) -> FeatureSummary:
    """Summary of one profiled column of ``chunk`` (see :func:`batch_columns` for the checks)."""
    ref = profile.features[name]
    kind = NumericSummary if isinstance(ref, NumericReference) else CategoricalSummary
    return kind.build(ref, chunk[name])


@dataclass(frozen=True, eq=False)
class BatchSummary:
    """Mergeable summary of (part of) a production batch against one reference profile."""

    profile_fingerprint: str
    features: Mapping[str, FeatureSummary]

    @classmethod
    def from_frame(
        cls, chunk: pd.DataFrame, profile: ReferenceProfile, *, columns: Iterable[str] | None = None
    ) -> BatchSummary:
        """Summarise ``chunk`` for every profiled feature (or only ``columns``)."""
        names = batch_columns(chunk, profile, columns)
        parts = map_columns(lambda name: summarise_column(profile, chunk, name), names, rows=len(chunk))
        return cls(profile.fingerprint, dict(zip(names, parts)))

    @classmethod
    def from_chunks(
        cls,
        chunks: Iterable[pd.DataFrame],
        profile: ReferenceProfile,
        *,
        columns: Iterable[str] | None = None,
        expected_rows: int | None = None,
    ) -> BatchSummary | None:
        """Summarise chunks one at a time, merging each into the running summary in place.

        Peak memory is the running summary (bounded by the reference) plus one chunk.
        With ``expected_rows`` (the batch's total), a numeric column whose occupied
        cells could outgrow its fixed-size :class:`DenseCells` accumulates in that form
        from the first chunk on. None when there are no chunks.
        """
        summary: BatchSummary | None = None
        for chunk in chunks:
            part = cls.from_frame(chunk, profile, columns=columns)
            if summary is None and expected_rows is not None:
                part = BatchSummary(
                    part.profile_fingerprint,
                    {name: f.densified(expected_rows) for name, f in part.features.items()},
                )
            summary = part if summary is None else summary.merge(part, reuse=True)
        return summary

    @property
    def n_rows(self) -> int:
        return max((s.n_rows for s in self.features.values()), default=0)

    def merge(self, other: BatchSummary, *, reuse: bool = False) -> BatchSummary:
        """Summary of both parts; both must come from the same profile and columns.

        ``reuse=True`` lets the result take over this summary's fixed-size buffers
        (this summary must not be used afterwards).
        """
        if other.profile_fingerprint != self.profile_fingerprint:
            raise DriftInputError("cannot merge summaries made against different reference profiles")
        if list(other.features) != list(self.features):
            raise DriftInputError(
                f"cannot merge summaries of different columns: {list(self.features)} vs {list(other.features)}"
            )
        return BatchSummary(
            self.profile_fingerprint,
            {name: s.merge(other.features[name], reuse=reuse) for name, s in self.features.items()},
        )

    def equals(self, other: BatchSummary) -> bool:
        """Same counts, cells and extremes (sums to 1e-12 relative): the test of exact merging."""
        return (
            self.profile_fingerprint == other.profile_fingerprint
            and list(self.features) == list(other.features)
            and all(s.equals(other.features[name]) for name, s in self.features.items())
        )


def summarize_parquet(
    profile: ReferenceProfile, path: Path, *, columns: Iterable[str] | None = None, batch_rows: int = 131_072
) -> BatchSummary:
    """Summarise a parquet file record batch by record batch (memory bounded by ``batch_rows``).

    Text columns are read dictionary-encoded, so a chunk's categories are hashed once
    per distinct value rather than once per row.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = list(profile.features) if columns is None else list(columns)
    unknown = [name for name in names if name not in profile.features]
    if unknown:
        raise DriftInputError(f"columns not in the reference profile: {unknown}")
    try:
        schema = pq.read_schema(path)
        text = [
            name
            for name in names
            if isinstance(profile.features[name], CategoricalReference)
            and name in schema.names
            and (pa.types.is_string(schema.field(name).type) or pa.types.is_large_string(schema.field(name).type))
        ]
        parquet = pq.ParquetFile(path, read_dictionary=text)
    except FileNotFoundError:
        raise DriftInputError(f"{path}: file not found") from None
    except (OSError, pa.ArrowException) as exc:
        raise DriftInputError(f"{path}: not a readable parquet file ({exc})") from None
    missing = [name for name in names if name not in schema.names]
    if missing:
        raise DriftInputError(f"{path}: profiled columns missing from the file: {missing}")
    # One row group at a time: a single iter_batches over the whole file keeps the
    # decoded column chunks of every row group it has read (peak memory grew with the file).
    chunks = (
        batch.to_pandas()
        for group in range(parquet.num_row_groups)
        for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=[group], columns=names)
    )
    summary = BatchSummary.from_chunks(chunks, profile, columns=names, expected_rows=parquet.metadata.num_rows)
    if summary is None:
        summary = BatchSummary.from_frame(parquet.schema_arrow.empty_table().to_pandas(), profile, columns=names)
    return summary


def feature_drift_from_parquet(profile: ReferenceProfile, path: Path, settings: DataDriftSettings, **kwargs: object):
    """Alias of :func:`drift_pipeline.lib.drift.feature_drift_from_parquet` (streams the file's record batches)."""
    from drift_pipeline.lib.drift import (
        feature_drift_from_parquet as streamed,  # drift imports this module
    )

    return streamed(profile, path, settings, **kwargs)
