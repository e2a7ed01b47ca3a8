"""Seeded synthetic data for the benchmarks: realistic shapes, known shifts.

Two generators:

* :func:`speed_frame` — the speed/memory benchmark's 20 numeric + 5 categorical columns
  (heavy tails, ties, NaNs) with a few known shifts in the batch. Large frames are drawn
  in chunks so that a 10,000,000-row parquet file can be written without holding it.
* :func:`detection_frame` — the detection benchmark's 20 mixed features, drawn under a
  named :class:`Scenario` (no shift, a mean shift of ``k`` sigma, a variance ratio, a
  category-frequency change, a new category, a rise in missing values).

Every draw takes an explicit seed; nothing uses global random state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- speed data

SPEED_NUMERIC = [f"x{i}" for i in range(20)]
SPEED_CATEGORICAL = [f"c{i}" for i in range(5)]
SPEED_TYPES: dict[str, str] = {
    **dict.fromkeys(SPEED_NUMERIC, "numeric"),
    **dict.fromkeys(SPEED_CATEGORICAL, "categorical"),
}

_LEVELS = {
    "c0": np.array(["low", "mid", "high"], dtype=object),
    "c1": np.array(["A", "B", "C", "D", "E"], dtype=object),
    "c2": np.array([f"region_{i:02d}" for i in range(12)], dtype=object),
    "c3": np.array([f"merchant_{i:03d}" for i in range(50)], dtype=object),
    "c4": np.array(["no", "yes"], dtype=object),
}
_NEW_LEVEL = np.array(["F_new"], dtype=object)


def _zipf_probs(k: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** s
    return w / w.sum()


def _with_nans(x: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    if rate > 0:
        x[rng.random(x.size) < rate] = np.nan
    return x


def _with_missing(x: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    if rate > 0:
        x = x.copy()
        x[rng.random(x.size) < rate] = None
    return x


def _speed_chunk(n: int, rng: np.random.Generator, *, shifted: bool) -> pd.DataFrame:
    """One chunk of the speed data; ``shifted`` applies the batch's known shifts."""
    s = 1.0 if shifted else 0.0
    cols: dict[str, np.ndarray] = {}
    # Gaussian with different scales; x0 shifted by 0.2 sigma in the batch.
    cols["x0"] = rng.normal(0.2 * s, 1.0, n)
    cols["x1"] = rng.normal(50.0, 10.0, n)
    cols["x2"] = _with_nans(rng.normal(-3.0, 0.1, n), 0.02, rng)
    cols["x3"] = rng.normal(1e4, 2e3, n)
    cols["x4"] = _with_nans(rng.normal(0.0, 1.0, n), 0.05 + 0.05 * s, rng)  # null rate rises
    cols["x5"] = rng.normal(0.0, 1.0 + 0.3 * s, n)  # variance change
    # Log-normal (income-like); x6 heavier in the batch.
    cols["x6"] = rng.lognormal(10.0, 1.0 + 0.2 * s, n)
    cols["x7"] = _with_nans(rng.lognormal(0.0, 0.5, n), 0.01, rng)
    cols["x8"] = rng.lognormal(3.0, 1.5, n)
    cols["x9"] = rng.lognormal(-1.0, 0.8, n)
    # Pareto (very heavy tails, infinite variance for alpha <= 2); x10's tail thickens.
    cols["x10"] = (rng.pareto(2.5 - 0.5 * s, n) + 1.0) * 100.0
    cols["x11"] = _with_nans((rng.pareto(1.5, n) + 1.0), 0.03, rng)
    cols["x12"] = (rng.pareto(3.0, n) + 1.0) * 5.0
    cols["x13"] = rng.pareto(1.2, n) + 1.0
    # Student t and exponential.
    cols["x14"] = rng.standard_t(3, n)
    cols["x15"] = rng.standard_t(5, n) * 2.0
    cols["x19"] = rng.exponential(3.0, n)
    # Discrete counts stored as floats: many ties.
    cols["x16"] = rng.poisson(3.0 + 0.5 * s, n).astype(np.float64)
    cols["x17"] = _with_nans(rng.poisson(20.0, n).astype(np.float64), 0.01, rng)
    cols["x18"] = rng.uniform(0.0, 1.0, n)
    frame = {name: cols[name] for name in SPEED_NUMERIC}
    # Categoricals as object strings, as they come out of CSV or parquet readers.
    p0 = np.array([0.5, 0.3, 0.2]) if not shifted else np.array([0.4, 0.35, 0.25])
    frame["c0"] = rng.choice(_LEVELS["c0"], n, p=p0)
    c1 = rng.choice(_LEVELS["c1"], n, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    if shifted:  # a new category at 2 %
        c1[rng.random(n) < 0.02] = _NEW_LEVEL[0]
    frame["c1"] = _with_missing(c1, 0.02, rng)
    frame["c2"] = rng.choice(_LEVELS["c2"], n, p=_zipf_probs(12, 0.5))
    frame["c3"] = _with_missing(rng.choice(_LEVELS["c3"], n, p=_zipf_probs(50)), 0.01, rng)
    frame["c4"] = rng.choice(_LEVELS["c4"], n, p=[0.9, 0.1])
    return pd.DataFrame(frame)


def speed_chunks(rows: int, *, seed: int, shifted: bool, chunk_rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
    """The speed data in chunks of ``chunk_rows`` (the last may be shorter), each seeded."""
    children = np.random.SeedSequence([seed, int(shifted)]).spawn(max(1, -(-rows // chunk_rows)))
    done = 0
    for child in children:
        n = min(chunk_rows, rows - done)
        if n <= 0:
            break
        yield _speed_chunk(n, np.random.default_rng(child), shifted=shifted)
        done += n


def speed_frame(rows: int, *, seed: int, shifted: bool) -> pd.DataFrame:
    """``rows`` rows of the speed data as one frame (reference: ``shifted=False``)."""
    chunks = list(speed_chunks(rows, seed=seed, shifted=shifted))
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks, ignore_index=True)


def write_speed_parquet(path: Path, rows: int, *, seed: int, shifted: bool, row_group_rows: int) -> Path:
    """Write the speed data to parquet in row groups, never holding more than one chunk."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in speed_chunks(rows, seed=seed, shifted=shifted, chunk_rows=row_group_rows):
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=row_group_rows)
    finally:
        if writer is not None:
            writer.close()
    return path


# --------------------------------------------------------------------------- detection data

# 20 features of mixed types. The scenario targets are fixed features so that the
# remaining 19 (or so) keep contributing false alarms exactly as in the no-shift case.
DETECTION_NUMERIC = [
    "age",  # normal: target of mean shifts and the variance change
    "score",  # normal
    "income",  # log-normal, 2 % missing: target of the missing-rate rise
    "balance",  # log-normal
    "claims",  # pareto
    "latency",  # pareto
    "temperature",  # t(4)
    "ratio",  # uniform
    "wait",  # exponential
    "visits",  # poisson: ties
    "items",  # poisson: ties
    "tenure",  # gamma
    "utilisation",  # beta
    "noise",  # normal with 1 % missing
]
DETECTION_CATEGORICAL = ["segment", "channel", "region", "device", "plan", "flag"]
DETECTION_TYPES: dict[str, str] = {
    **dict.fromkeys(DETECTION_NUMERIC, "numeric"),
    **dict.fromkeys(DETECTION_CATEGORICAL, "categorical"),
}
_SEGMENT = np.array(["a", "b", "c", "d"], dtype=object)
_SEGMENT_P = np.array([0.4, 0.3, 0.2, 0.1])
_CHANNEL = np.array(["web", "app", "branch"], dtype=object)
_REGION = np.array([f"r{i:02d}" for i in range(15)], dtype=object)
_DEVICE = np.array(["ios", "android", "desktop", "other"], dtype=object)
_PLAN = np.array(["basic", "plus", "pro", "enterprise", "trial"], dtype=object)
_FLAG = np.array(["N", "Y"], dtype=object)
INCOME_NULL_RATE = 0.02


@dataclass(frozen=True)
class Scenario:
    """A named change applied to one feature of the detection data.

    ``kind`` is one of ``none``, ``mean_shift`` (``size`` in reference sigmas, on ``age``),
    ``variance_ratio`` (``size`` = var ratio, on ``age``), ``category_tv`` (move ``size``
    of probability mass from ``segment``'s commonest to its rarest level: total variation
    = ``size``), ``new_category`` (a share ``size`` of ``channel`` becomes an unseen level),
    ``missing_rise`` (``income``'s null rate rises by ``size``).
    """

    name: str
    kind: str
    size: float = 0.0

    @property
    def feature(self) -> str | None:
        return {
            "mean_shift": "age",
            "variance_ratio": "age",
            "category_tv": "segment",
            "new_category": "channel",
            "missing_rise": "income",
        }.get(self.kind)


NO_SHIFT = Scenario("no shift", "none")
POWER_SCENARIOS = [
    Scenario("mean +0.05σ", "mean_shift", 0.05),
    Scenario("mean +0.1σ", "mean_shift", 0.1),
    Scenario("mean +0.2σ", "mean_shift", 0.2),
    Scenario("mean +0.5σ", "mean_shift", 0.5),
    Scenario("variance ×1.5", "variance_ratio", 1.5),
    Scenario("category TV 0.05", "category_tv", 0.05),
    Scenario("new category 5%", "new_category", 0.05),
    Scenario("missing +5 pts", "missing_rise", 0.05),
]
MATERIALITY = Scenario("mean +0.02σ", "mean_shift", 0.02)


def detection_frame(n: int, rng: np.random.Generator, scenario: Scenario = NO_SHIFT) -> pd.DataFrame:
    """``n`` rows of the 20 detection features under ``scenario``."""
    k = scenario.kind
    age_mu, age_sd = 40.0, 10.0
    if k == "mean_shift":
        age_mu += scenario.size * age_sd
    elif k == "variance_ratio":
        age_sd *= float(np.sqrt(scenario.size))
    income_null = INCOME_NULL_RATE + (scenario.size if k == "missing_rise" else 0.0)
    f: dict[str, np.ndarray] = {
        "age": rng.normal(age_mu, age_sd, n),
        "score": rng.normal(600.0, 50.0, n),
        "income": _with_nans(rng.lognormal(10.5, 0.7, n), income_null, rng),
        "balance": rng.lognormal(7.0, 1.5, n),
        "claims": (rng.pareto(2.0, n) + 1.0) * 1000.0,
        "latency": rng.pareto(1.3, n) + 1.0,
        "temperature": rng.standard_t(4, n) * 3.0 + 20.0,
        "ratio": rng.uniform(0.0, 1.0, n),
        "wait": rng.exponential(12.0, n),
        "visits": rng.poisson(2.0, n).astype(np.float64),
        "items": rng.poisson(15.0, n).astype(np.float64),
        "tenure": rng.gamma(2.0, 18.0, n),
        "utilisation": rng.beta(2.0, 5.0, n),
        "noise": _with_nans(rng.normal(0.0, 1.0, n), 0.01, rng),
    }
    p_segment = _SEGMENT_P.copy()
    if k == "category_tv":
        p_segment[0] -= scenario.size
        p_segment[-1] += scenario.size
    f["segment"] = rng.choice(_SEGMENT, n, p=p_segment)
    channel = rng.choice(_CHANNEL, n, p=[0.5, 0.35, 0.15])
    if k == "new_category":
        channel[rng.random(n) < scenario.size] = "kiosk"
    f["channel"] = channel
    f["region"] = rng.choice(_REGION, n, p=_zipf_probs(15, 0.8))
    f["device"] = _with_missing(rng.choice(_DEVICE, n, p=[0.35, 0.4, 0.2, 0.05]), 0.01, rng)
    f["plan"] = rng.choice(_PLAN, n, p=[0.5, 0.25, 0.15, 0.05, 0.05])
    f["flag"] = rng.choice(_FLAG, n, p=[0.85, 0.15])
    return pd.DataFrame({name: f[name] for name in [*DETECTION_NUMERIC, *DETECTION_CATEGORICAL]})
