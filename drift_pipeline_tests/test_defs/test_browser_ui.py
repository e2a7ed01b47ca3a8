"""End to end in a real browser: launch one COMPAS partition from the Dagster UI and find its results there.

Starts ``dagster-webserver`` on the project's own workspace (temporary DAGSTER_HOME and output
folder, a free port on 127.0.0.1), drives Debian's headless Chromium with Playwright, and checks
the same run through Dagster's GraphQL API. Screenshots go to ``test-artifacts/browser``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from drift_pipeline.defs.jobs import baseline_job_name
from drift_pipeline.defs.models import build_definitions
from drift_pipeline.defs.reporting.plots import plot_definitions, plots_job_name
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline.lib.results import ResultStore

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "browser"
MODEL, PARTITION = "compas", "2013-06-16"
LOCATION = "drift_pipeline"  # workspace.yaml location_name
# The webserver alone runs no daemon: launch runs at once instead of queueing them.
INSTANCE_YAML = """run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
telemetry:
  enabled: false
"""
RUN_QUERY = """query Run($id: ID!) { runOrError(runId: $id) { __typename ... on Run {
  runId status jobName tags { key value }
  stats { ... on RunStatsSnapshot { stepsSucceeded stepsFailed materializations } } } } }"""

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query, "variables": variables or {}})
                                     .encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def _wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _served(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/server_info", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture
def webserver(tmp_path, monkeypatch):
    """A webserver on the project's workspace over a fresh instance whose baseline is already built."""
    home, var = tmp_path / "dagster_home", tmp_path / "var"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DRIFT_PIPELINE_VAR", str(var))
    definitions = dg.Definitions.merge(build_definitions(config_dir=PROJECT_ROOT / "config", var=var),
                                       plot_definitions(PROJECT_ROOT / "config"))
    instance = dg.DagsterInstance.from_config(str(home))
    assert definitions.resolve_job_def(baseline_job_name(MODEL)).execute_in_process(instance=instance).success
    port = _free_port()
    log = (tmp_path / "webserver.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1",
         "-p", str(port)], cwd=PROJECT_ROOT, env=os.environ.copy(), stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _served(base) or server.poll() is not None, 120, "dagster-webserver to answer")
        assert server.poll() is None, (tmp_path / "webserver.log").read_text()[-3000:]
        yield base, instance, definitions, ResultStore(var / "results")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        instance.dispose()


def _dismiss_welcome(page, wait_ms: int = 3_000) -> None:
    """Close the UI's onboarding dialog, which can open a moment after the page renders."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(state="visible", timeout=wait_ms)
    except PlaywrightTimeout:
        return
    skip.click()


def test_launch_a_partition_from_the_ui_and_find_its_results(webserver):
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium; .ci/run does this)")
    from playwright.sync_api import sync_playwright

    base, instance, definitions, store = webserver
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)

        # 1. The asset graph of the model.
        page.goto(f"{base}/locations/{LOCATION}/asset-groups/{MODEL}/lineage")
        for node in ("production_batch", "model_health", "partition_summary", "alert_timeline"):
            page.get_by_text(node, exact=True).first.wait_for()
        _dismiss_welcome(page)
        page.screenshot(path=ARTIFACTS / "01_asset_graph.png")

        # 2. Launch one partition of the monitoring job from the launchpad (in-process executor: one process).
        page.goto(f"{base}/locations/{LOCATION}/jobs/{MODEL}_monitoring_job/playground")
        page.get_by_role("button", name="Launch Run").wait_for()
        _dismiss_welcome(page)
        partition = page.get_by_placeholder("Partition")
        partition.click()
        partition.fill(PARTITION)
        page.keyboard.press("Enter")
        page.get_by_text(f"partition: {PARTITION}").wait_for()
        page.keyboard.press("Escape")  # the partition suggestions popover can stay open over the editor
        _dismiss_welcome(page, wait_ms=1_000)
        page.screenshot(path=ARTIFACTS / "02a_partition_selected.png")
        page.locator(".CodeMirror").click()
        page.keyboard.press("Control+End")
        page.keyboard.press("Enter")
        page.keyboard.type("execution: {config: {in_process: {}}}")
        page.screenshot(path=ARTIFACTS / "02_launchpad.png")
        page.get_by_role("button", name="Launch Run").click()
        page.wait_for_url("**/runs/*")
        run_id = page.url.rstrip("/").rsplit("/", 1)[-1]

        # 3. The same run through GraphQL: wait for it to finish, then check what it did.
        def finished():
            run = _graphql(base, RUN_QUERY, {"id": run_id})["data"]["runOrError"]
            return run if run["status"] in {"SUCCESS", "FAILURE", "CANCELED"} else None

        run = _wait_until(finished, 180, f"run {run_id} to finish")
        assert run["status"] == "SUCCESS", run
        assert run["jobName"] == f"{MODEL}_monitoring_job"
        assert {t["key"]: t["value"] for t in run["tags"]}["dagster/partition"] == PARTITION
        assert run["stats"]["stepsFailed"] == 0 and run["stats"]["materializations"] >= 8
        page.reload()
        page.get_by_text("Success", exact=True).first.wait_for()
        page.screenshot(path=ARTIFACTS / "03_run_succeeded.png")

        # 4. The asset page shows the partition's severity summary ...
        severity = store.read_json(MODEL, "model_health", PARTITION)["severity"]
        page.goto(f"{base}/assets/{MODEL}/model_health?view=partitions&partition={PARTITION}")
        row = page.locator("tr", has=page.get_by_text("severity", exact=True))
        row.get_by_text(severity, exact=True).wait_for()
        assert page.locator("tr", has=page.get_by_text("composite_score", exact=True)).count() == 1
        page.screenshot(path=ARTIFACTS / "04_model_health_severity.png", full_page=True)

        # ... and the Evidently report link of the (latest, hence rendered) partition resolves to a file.
        page.goto(f"{base}/assets/{MODEL}/drift_report?view=partitions&partition={PARTITION}")
        link = page.locator("a[href$='evidently.html']").first
        link.wait_for()
        report = Path(urllib.request.url2pathname(link.get_attribute("href").removeprefix("file://")))
        assert report.exists() and report.parent.name == PARTITION
        page.screenshot(path=ARTIFACTS / "05_drift_report_link.png", full_page=True)

        # 5. The summary page and the plots, materialised on the same instance, show in the UI too.
        summaries = dg.define_asset_job("summaries", selection=[dg.AssetKey([MODEL, "partition_summary"])])
        assert dg.Definitions.merge(definitions, dg.Definitions(jobs=[summaries])).resolve_job_def(
            "summaries").execute_in_process(instance=instance, partition_key=PARTITION).success
        assert definitions.resolve_job_def(plots_job_name(MODEL)).execute_in_process(instance=instance).success
        page.goto(f"{base}/assets/{MODEL}/partition_summary?view=partitions&partition={PARTITION}")
        summary = page.locator("a[href$='summary.html']").first
        summary.wait_for()
        assert Path(urllib.request.url2pathname(summary.get_attribute("href").removeprefix("file://"))).exists()
        page.screenshot(path=ARTIFACTS / "06_partition_summary.png", full_page=True)
        page.goto(f"{base}/assets/{MODEL}/feature_drift_heatmap")
        page.locator("tr", has=page.get_by_text("plot", exact=True)).get_by_text("[Show Markdown]").click()
        image = page.locator("img[src^='data:image/png;base64,']").first
        image.wait_for()
        assert image.evaluate("img => img.naturalWidth") > 500
        page.screenshot(path=ARTIFACTS / "07_heatmap_in_metadata.png")
        browser.close()
