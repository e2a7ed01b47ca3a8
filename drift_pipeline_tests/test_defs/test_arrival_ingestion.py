"""A delivered day file is what the run analyses for its day; history still comes from the source."""

from __future__ import annotations

import dagster as dg
import pandas as pd

from drift_pipeline.defs.ingestion.assets import ARRIVED_FILE_TAG
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline_tests.test_defs.harness import Harness

DAY = "2013-05-10"


def test_arrived_file_supersedes_the_source_for_its_day(tmp_path):
    source = pd.read_csv(PROJECT_ROOT / "data" / "compas" / "compas-scores-two-years-deidentified.csv",
                         low_memory=False)
    delivered = source[source["compas_screening_date"] == DAY].copy()
    delivered["age"] = delivered["age"] + 40  # the delivered day differs from the bundled history
    path = tmp_path / "incoming" / "compas" / f"{DAY}.csv"
    path.parent.mkdir(parents=True)
    delivered.to_csv(path, index=False)
    (tmp_path / "dagster").mkdir()
    with dg.DagsterInstance.local_temp(str(tmp_path / "dagster")) as instance:
        harness = Harness(var=tmp_path / "var", instance=instance)
        assert harness.baseline("compas").success
        assert harness.partitions("compas", DAY, tags={ARRIVED_FILE_TAG: str(path)}).success
        batch = harness.results.read_frame("compas", "production_batch", DAY)
        day = batch["compas_screening_date"].dt.strftime("%Y-%m-%d") == DAY
        assert day.any() and (~day).any()  # a trailing 28-day window: the day plus its history
        expected = (delivered["age"][delivered["days_b_screening_arrest"].between(-30, 30)]).sort_values()
        assert sorted(batch.loc[day, "age"]) == sorted(expected.astype(float))
        assert batch.loc[~day, "age"].max() < 100  # history untouched
        meta = harness.results.read_json("compas", "production_batch", DAY)
        assert meta["input_files"][-1] == str(path)
        drift = harness.results.read_frame("compas", "feature_drift", DAY).set_index("feature")
        assert drift.loc["age", "out_of_range_share"] > 0  # the delivered ages reach the drift statistics
