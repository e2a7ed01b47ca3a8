"""Plot assets, the plots job and partition summaries through the real asset graph."""

from __future__ import annotations

import dagster as dg
import pytest

from drift_pipeline.defs.reporting.plots import plot_definitions, plots_job_name
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline_tests.test_defs.harness import Harness
from drift_pipeline_tests.test_lib.test_summary_page import links_of

KEYS = ["2013-06-15", "2013-06-16"]  # a Saturday and a Sunday (compas explains weekly, on Sundays)


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plots")
    with dg.DagsterInstance.ephemeral() as instance:
        h = Harness(var=tmp / "var", instance=instance)
        h.definitions = dg.Definitions.merge(h.definitions, plot_definitions(PROJECT_ROOT / "config"))
        assert h.baseline("compas").success
        assert h.partitions("compas", *KEYS).success  # the monitoring job includes partition_summary
        assert h.definitions.resolve_job_def(plots_job_name("compas")).execute_in_process(instance=instance).success
        yield h


def test_every_plot_is_an_asset_with_an_inline_image_and_its_data(harness):
    for name in ("feature_drift_heatmap", "metric_trends", "fairness_over_time", "shap_importance_over_time",
                 "alert_timeline"):
        meta = harness.materializations("compas", name)[None]
        assert meta["plot"].startswith("![") and "](data:image/png;base64,iVBOR" in meta["plot"]
        assert meta["png_path"] == str(harness.var / "reports" / "compas" / "plots" / f"{name}.png")
        assert harness.var.joinpath("reports", "compas", "plots", f"{name}.csv").exists()
        assert meta["partitions"] == (1 if name == "shap_importance_over_time" else 2)
        assert meta["data"].startswith("| ")


def test_plots_job_selects_only_the_plots_of_its_model(harness):
    job = harness.definitions.resolve_job_def(plots_job_name("compas"))
    assert {tuple(k.path) for k in job.asset_layer.selected_asset_keys} == {
        ("compas", n) for n in ("feature_drift_heatmap", "metric_trends", "fairness_over_time",
                                "shap_importance_over_time", "alert_timeline")}
    flights = harness.definitions.resolve_job_def(plots_job_name("flights"))
    assert ("flights", "fairness_over_time") not in {tuple(k.path) for k in flights.asset_layer.selected_asset_keys}


def test_partition_summary_metadata_links_existing_pages(harness):
    meta = harness.materializations("compas", "partition_summary")
    assert sorted(meta) == KEYS
    for key in KEYS:
        health = harness.results.read_json("compas", "model_health", key)
        assert meta[key]["severity"] == health["severity"]
        page = harness.var / "reports" / "compas" / key / "summary.html"
        assert meta[key]["summary"] == page.resolve().as_uri() and page.exists()
        assert all(target.exists() for target in links_of(page))
    assert meta[KEYS[-1]]["evidently_report"] == "evidently.html"  # the latest partition of the run is rendered


def test_index_links_every_summary_and_plot(harness):
    index = harness.var / "reports" / "index.html"
    targets = links_of(index)
    assert {t.name for t in targets} >= {"summary.html", "evidently.html", "feature_drift_heatmap.png"}
    assert all(t.exists() for t in targets)
