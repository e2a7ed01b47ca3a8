"""Loading sources and cutting windows, including every bad input the loader can meet."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from drift_pipeline.lib.config import load_model_configs
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline.lib.sources import (
    DataError,
    coerce_to_schema,
    load_source,
    partition_window,
    reference_window,
    rows_in_window,
)

MODELS = load_model_configs(PROJECT_ROOT / "config")


def test_compas_filter_reproduces_propublica_row_count():
    # ProPublica's notebook reports 6,172 rows after its filter of the two-year file.
    frame = load_source(MODELS["compas"], PROJECT_ROOT)
    assert len(frame) == 6172
    assert frame["prediction"].mean() == pytest.approx((frame["decile_score"] >= 5).mean(), abs=0)


def test_trailing_window_of_compas_partition():
    window = partition_window(MODELS["compas"], "2013-04-28")
    assert (window.start, window.end) == (dt.date(2013, 4, 1), dt.date(2013, 4, 28))
    assert partition_window(MODELS["flights"], "2013-02-01").start == dt.date(2013, 2, 1)


def test_rows_in_window_is_inclusive():
    frame = pd.DataFrame({"t": pd.to_datetime(["2013-01-31 23:59", "2013-02-01 00:00", "2013-02-02 10:00"])})
    window = partition_window(MODELS["flights"], "2013-02-01")
    assert rows_in_window(frame, "t", window)["t"].dt.day.tolist() == [1]


def test_flights_reference_is_january():
    frame = load_source(MODELS["flights"], PROJECT_ROOT)
    ref = rows_in_window(frame, "sched_departure", reference_window(MODELS["flights"]))
    assert ref["sched_departure"].dt.month.unique().tolist() == [1]
    assert 26_000 < len(ref) < 28_000


def test_bad_partition_key():
    with pytest.raises(DataError, match="not a date"):
        partition_window(MODELS["flights"], "yesterday")


def _config_with_source(tmp_path, body: str, name="data.csv"):
    path = tmp_path / name
    path.write_text(body)
    config = MODELS["compas"].model_copy(
        update={"source": MODELS["compas"].source.model_copy(update={"path": str(path), "filters": []})}
    )
    return config


def test_missing_file_names_model_and_path(tmp_path):
    config = _config_with_source(tmp_path, "")
    (tmp_path / "data.csv").unlink()
    with pytest.raises(DataError, match=r"compas: source file .*data.csv does not exist"):
        load_source(config, PROJECT_ROOT)


def test_unparseable_file_names_model_and_format(tmp_path):
    config = _config_with_source(tmp_path, "", name="data.csv")
    with pytest.raises(DataError, match=r"compas, partition 2013-05-01: cannot read .*data.csv as csv"):
        load_source(config, PROJECT_ROOT, partition="2013-05-01")


def test_missing_time_column(tmp_path):
    config = _config_with_source(tmp_path, "id,age\n1,20\n")
    with pytest.raises(DataError, match="time column 'compas_screening_date' is missing"):
        load_source(config, PROJECT_ROOT)


def test_bad_dates_are_counted(tmp_path):
    config = _config_with_source(tmp_path, "id,compas_screening_date,score_text\n1,2013-01-01,Low\n2,soon,Low\n")
    with pytest.raises(DataError, match=r"1 values of time column .* are not dates \(e.g. 'soon'\)"):
        load_source(config, PROJECT_ROOT)


def test_non_numeric_value_names_column():
    frame = pd.DataFrame({"age": ["31", "forty"], "compas_screening_date": pd.to_datetime(["2013-05-01"] * 2)})
    with pytest.raises(DataError, match=r"column 'age' is declared numeric .* 'forty'"):
        coerce_to_schema(frame, MODELS["compas"], partition="2013-05-01")


def test_bad_boolean_names_column():
    frame = pd.DataFrame({"two_year_recid": [0, 1, 7]})
    with pytest.raises(DataError, match=r"column 'two_year_recid' is declared boolean but holds 7"):
        coerce_to_schema(frame, MODELS["compas"])
