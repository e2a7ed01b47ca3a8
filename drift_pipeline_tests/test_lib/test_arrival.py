"""Arrived files map to partitions by name; malformed and late files are reported, never raised."""

from __future__ import annotations

import datetime as dt
import os

import pandas as pd
import pytest

from drift_pipeline.lib.arrival import inspect_file, scan_folder
from drift_pipeline.lib.config import load_model_config
from drift_pipeline.lib.project import PROJECT_ROOT

GRACE = dt.timedelta(hours=26)


@pytest.fixture(scope="module")
def compas():
    return load_model_config(PROJECT_ROOT / "config" / "models" / "compas.yaml")


@pytest.fixture(scope="module")
def source(compas):
    frame = pd.read_csv(PROJECT_ROOT / compas.source.path)
    return frame.assign(day=pd.to_datetime(frame[compas.time_column]).dt.date.astype(str))


def write_day(folder, source, day: str, *, suffix: str = "csv", on_time: bool = True, frame=None):
    folder.mkdir(parents=True, exist_ok=True)
    rows = source[source["day"] == day].drop(columns="day") if frame is None else frame
    path = folder / f"{day}.{suffix}"
    rows.to_parquet(path) if suffix == "parquet" else rows.to_csv(path, index=False)
    moment = dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC) + (
        dt.timedelta(hours=20) if on_time else dt.timedelta(days=3))
    os.utime(path, (moment.timestamp(), moment.timestamp()))
    return path


def _scan(folder, compas, state=None):
    return scan_folder(folder, compas, state or {}, first=compas.partitioning.start, last=compas.partitioning.end,
                       deadline_after_day=GRACE)


def test_a_good_day_file_maps_to_its_partition(tmp_path, compas, source):
    write_day(tmp_path, source, "2013-05-06")
    write_day(tmp_path, source, "2013-05-07", suffix="parquet")
    scan = _scan(tmp_path, compas)
    assert [(a.partition, a.ok, a.late_by) for a in scan.arrivals] == [("2013-05-06", True, None),
                                                                        ("2013-05-07", True, None)]
    assert set(scan.state) == {"2013-05-06.csv", "2013-05-07.parquet"}


def test_unchanged_or_touched_files_are_not_new_and_a_corrected_file_is(tmp_path, compas, source):
    path = write_day(tmp_path, source, "2013-05-06")
    first = _scan(tmp_path, compas)
    assert _scan(tmp_path, compas, first.state).arrivals == []
    os.utime(path, None)  # touched, same bytes
    touched = _scan(tmp_path, compas, first.state)
    assert touched.arrivals == [] and touched.state[path.name][2] == first.state[path.name][2]
    rows = source[source["day"] == "2013-05-06"].drop(columns="day").head(5)
    write_day(tmp_path, source, "2013-05-06", frame=rows)
    corrected = _scan(tmp_path, compas, touched.state).arrivals
    assert len(corrected) == 1 and corrected[0].fingerprint != first.arrivals[0].fingerprint


@pytest.mark.parametrize(("name", "content", "problem"), [
    ("notadate.csv", "x\n1\n", "the name must be the partition day"),
    ("2013-02-30.csv", "x\n1\n", "the name must be the partition day"),
    ("2012-01-01.csv", "x\n1\n", "outside compas's partitions 2013-04-01 .. 2014-03-31"),
    ("2013-05-06.csv", "", "cannot be read as csv"),
    ("2013-05-06.parquet", "not parquet", "cannot be read as parquet"),
    ("2013-05-06.csv", "compas_screening_date,age\n2013-05-06,30\n", "missing declared column(s) id, age_cat"),
])
def test_malformed_files_name_the_file_and_the_problem(tmp_path, compas, name, content, problem):
    (tmp_path / name).write_text(content)
    (arrival,) = _scan(tmp_path, compas).arrivals
    assert not arrival.ok and problem in arrival.describe() and name in arrival.describe()


def test_rows_of_another_day_and_bad_types_are_malformed(tmp_path, compas, source):
    rows = source[source["day"].isin(["2013-05-06", "2013-05-07"])].drop(columns="day")
    write_day(tmp_path, source, "2013-05-06", frame=rows)
    (arrival,) = _scan(tmp_path, compas).arrivals
    assert "outside 2013-05-06" in arrival.describe()
    bad = source[source["day"] == "2013-05-08"].drop(columns="day").assign(age="old")
    path = write_day(tmp_path / "b", source, "2013-05-08", frame=bad)
    result = inspect_file(path, compas, first=compas.partitioning.start, last=compas.partitioning.end,
                          deadline_after_day=GRACE)
    assert "'age' is declared numeric" in result.describe()


def test_a_day_delivered_twice_is_malformed(tmp_path, compas, source):
    write_day(tmp_path, source, "2013-05-06")
    write_day(tmp_path, source, "2013-05-06", suffix="parquet")
    arrivals = _scan(tmp_path, compas).arrivals
    assert len(arrivals) == 2 and all("delivers day 2013-05-06 again" in a.describe() for a in arrivals)


def test_a_late_file_is_analysed_and_reported(tmp_path, compas, source):
    write_day(tmp_path, source, "2013-05-06", on_time=False)
    (arrival,) = _scan(tmp_path, compas).arrivals
    assert arrival.ok and arrival.late_by == dt.timedelta(days=2) - GRACE
    assert "arrived 22.0 h after its deadline" in arrival.describe()


def test_a_missing_folder_is_an_empty_scan(tmp_path, compas):
    assert _scan(tmp_path / "absent", compas).arrivals == []
