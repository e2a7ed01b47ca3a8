"""Partition summary pages and the reports index, from fixed stored results."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from drift_pipeline.lib import summary_page
from drift_pipeline.lib.reports import report_path
from drift_pipeline.lib.results import ResultStore
from drift_pipeline_tests.test_lib.test_plots import COMPAS, DAYS, POLICY, write_history


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.hrefs += [value for name, value in attrs if tag == "a" and name == "href"]


def links_of(page: Path) -> list[Path]:
    """Every link target of an HTML page, resolved against the page's folder."""
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return [(page.parent / href).resolve() for href in parser.hrefs]


@pytest.fixture
def written(tmp_path):
    store, reports = ResultStore(tmp_path / "results"), tmp_path / "reports"
    write_history(store)
    report = report_path(reports, "compas", DAYS[2])
    report.parent.mkdir(parents=True)
    report.write_text("<html>evidently</html>")
    (reports / "compas" / "plots").mkdir(parents=True)
    (reports / "compas" / "plots" / "alert_timeline.png").write_bytes(b"\x89PNG")
    records = {key: summary_page.write_partition_summary(
        store, COMPAS, POLICY, key, reports_root=reports, code_version="0.1.0+abc",
        plots=summary_page.existing_plots(reports, "compas")) for key in DAYS}
    return store, reports, records


def test_summary_leads_with_severity_composite_and_provenance(written):
    _, reports, records = written
    record = records["2013-06-03"]
    assert (record["severity"], record["composite"]) == ("CRITICAL", 0.35)
    assert record["alerts"] == {"CRITICAL": 2, "WARNING": 1}
    assert record["provenance"] == {"baseline_version": "2013-03-31-v1", "config_hash": "cafe",
                                    "code_version": "0.1.0+abc", "run_id": "run-2013-06-03",
                                    "data_fingerprint": "fp-2013-06-03", "rows": 300}
    page = summary_page.summary_path(reports, "compas", "2013-06-03").read_text()
    assert page.index("CRITICAL") < page.index("Top drifted features")
    assert "composite score <b id='composite'>0.350</b>" in page
    for text in ("2013-03-31-v1", "cafe", "0.1.0+abc", "href='evidently.html'"):
        assert text in page


def test_top_features_and_signal_table(written):
    record = written[2]["2013-06-03"]
    assert [f["feature"] for f in record["top_features"]] == ["age", "priors_count"]  # CRITICAL first
    assert record["top_features"][0]["psi"] == 0.31 and record["top_features"][0]["ks_statistic"] == 0.3
    signals = {(s["family"], s["metric"], s["attribute"]): s for s in record["signals"]}
    ratio = signals[("fairness", "disparate_impact_ratio", "race")]
    assert (ratio["value"], ratio["ci"], ratio["baseline"], ratio["severity"]) == (0.6, (0.45, 0.78), 0.95, "WARNING")
    assert signals[("model", "accuracy", "")]["baseline"] == 0.64
    assert signals[("explanation", "shap_rank_correlation", "")]["value"] == 0.8


def test_what_changed_since_the_previous_partition(written):
    records = written[2]
    assert records["2013-06-01"]["changes"] == ["No previous partition is stored: nothing to compare with."]
    blocked = records["2013-06-02"]
    assert blocked["status"] == "blocked" and blocked["validation_alerts"] == 1
    assert blocked["changes"][0].startswith("Overall severity INFO → CRITICAL")
    assert any("WARNING data.psi(priors_count)" in line for line in blocked["changes"])  # resolved
    last = records["2013-06-03"]["changes"]
    assert "CRITICAL data.psi(age)" in last[1] and "WARNING fairness.disparate_impact_ratio(race)" in last[1]


def test_blocked_partition_page_says_why(written):
    page = summary_page.summary_path(written[1], "compas", "2013-06-02").read_text()
    assert "Validation blocked this partition" in page and "row count 0 &lt; 50" in page
    assert "drift-pipeline report compas 2013-06-02" in page  # no Evidently report: the on-demand command


def test_every_link_of_every_page_and_the_index_resolves(written):
    store, reports, _ = written
    index = summary_page.write_index(store, reports)
    pages = [index] + [summary_page.summary_path(reports, "compas", key) for key in DAYS]
    targets = [target for page in pages for target in links_of(page)]
    assert len(targets) >= 3 * 2 + 3  # index: summaries, Evidently, a plot; pages: index, plot, Evidently
    missing = [str(t) for t in targets if not t.exists()]
    assert not missing
    text = index.read_text()
    assert re.search(r"<td>2013-06-03</td><td><span[^>]*>CRITICAL</span></td><td class='n'>0.350</td>", text)
    assert "compas/2013-06-03/evidently.html" in text and "3 partitions: 2 CRITICAL, 0 WARNING, 1 INFO" in text

