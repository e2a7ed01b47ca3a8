"""Build the small bundled datasets in ``data/`` from the public sources in ``shared/data``.

The bundle is committed; this module documents and reproduces exactly how it was made
(``drift-pipeline bundle-data --shared ../shared/data``).
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

COMPAS_FILE = "compas-scores-two-years-deidentified.csv"
FLIGHTS_OUT = "flights_2013.parquet"
WEATHER_COLUMNS = ["temp", "wind_speed", "precip", "visib"]
DELAY_MINUTES = 15


def build_flights(shared_dir: Path) -> pd.DataFrame:
    """Flights with what is known before departure, the origin's weather, and the label.

    The label ``arr_delayed`` is ``arr_delay > 15`` and missing for cancelled or diverted
    flights (no ``arr_delay``), so they never count as on time.
    """
    src = Path(shared_dir) / "nycflights13"
    flights = pd.read_csv(src / "flights.csv.gz")
    weather = pd.read_csv(src / "weather.csv", usecols=["origin", "time_hour", *WEATHER_COLUMNS])
    weather = weather.drop_duplicates(["origin", "time_hour"])
    frame = flights.merge(weather, on=["origin", "time_hour"], how="left", validate="many_to_one")
    sched = pd.to_datetime(
        dict(year=frame["year"], month=frame["month"], day=frame["day"], hour=frame["hour"], minute=frame["minute"])
    )
    label = pd.array(np.where(frame["arr_delay"].isna(), pd.NA, frame["arr_delay"] > DELAY_MINUTES), dtype="boolean")
    out = pd.DataFrame(
        {
            "flight_id": sched.dt.strftime("%Y-%m-%d-")
            + frame["carrier"]
            + frame["flight"].astype(str)
            + "-"
            + frame["origin"],
            "sched_departure": sched,
            "carrier": frame["carrier"],
            "origin": frame["origin"],
            "dest": frame["dest"],
            "distance": frame["distance"].astype("float64"),
            "sched_dep_hour": frame["hour"].astype("float64"),
            "weekday": sched.dt.day_name().str[:3],
            **{c: frame[c].astype("float64") for c in WEATHER_COLUMNS},
            "arr_delayed": label,
        }
    )
    return out.sort_values(["sched_departure", "flight_id"], kind="stable").reset_index(drop=True)


def bundle(shared_dir: Path, data_dir: Path) -> dict[str, str]:
    """Write the bundle into ``data_dir``; return ``{relative path: sha256}`` of what was written."""
    data_dir = Path(data_dir)
    (data_dir / "flights").mkdir(parents=True, exist_ok=True)
    (data_dir / "compas").mkdir(parents=True, exist_ok=True)
    flights_path = data_dir / "flights" / FLIGHTS_OUT
    build_flights(shared_dir).to_parquet(flights_path, index=False, compression="zstd", row_group_size=50_000)
    compas_path = data_dir / "compas" / COMPAS_FILE
    shutil.copyfile(Path(shared_dir) / "compas" / COMPAS_FILE, compas_path)
    return {str(p.relative_to(data_dir)): sha256_file(p) for p in (flights_path, compas_path)}


def sha256_file(path: Path, *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
