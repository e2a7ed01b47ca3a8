"""Evidently reports are small, reproducible to the byte, and say how they sampled."""

from __future__ import annotations

import numpy as np
import pandas as pd

from drift_pipeline.lib.reports import render_evidently_report


def _frames(seed=0):
    rng = np.random.default_rng(seed)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.choice(list("xyz"), 3000)})
    cur = pd.DataFrame({"a": rng.normal(0.4, size=800), "b": rng.choice(list("xyzw"), 800)})
    return ref, cur


def _render(tmp_path, name, ref, cur, max_rows=5000):
    return render_evidently_report(ref, cur, numeric=["a"], categorical=["b"], out_path=tmp_path / "m" / name,
                                   reports_root=tmp_path, max_rows=max_rows, seed=7, title="m · 2013-05-01")


def test_same_inputs_give_identical_html(tmp_path):
    ref, cur = _frames()
    first = _render(tmp_path, "one.html", ref, cur)
    second = _render(tmp_path, "two.html", ref, cur)
    assert first["sha256"] == second["sha256"]
    assert (tmp_path / "m" / "one.html").read_bytes() == (tmp_path / "m" / "two.html").read_bytes()


def test_bundle_is_shared_not_inlined(tmp_path):
    ref, cur = _frames()
    result = _render(tmp_path, "r.html", ref, cur)
    html = (tmp_path / "m" / "r.html").read_text()
    assert result["bytes"] < 500_000  # the inlined bundle alone is ~3.5 MB
    assert 'src="../_static/evidently-' in html
    assert list((tmp_path / "_static").glob("evidently-*.js"))


def test_sampling_is_seeded_and_printed(tmp_path):
    ref, cur = _frames()
    result = _render(tmp_path, "s.html", ref, cur, max_rows=500)
    assert result["sampled"]
    html = (tmp_path / "m" / "s.html").read_text()
    assert "seeded sample (seed 7, at most 500 rows per side" in html
    assert "authoritative drift statistics" in html


def _alerts(*items):
    return {"status": "ok", "alerts": [{"family": f, "metric": m, "feature": x, "severity": s} for f, m, x, s in items]}


def test_render_policy_onsets_escalations_latest_and_blocked():
    from drift_pipeline.lib.config import load_policy
    from drift_pipeline.lib.project import PROJECT_ROOT
    from drift_pipeline.lib.reports import should_render

    policy = load_policy(PROJECT_ROOT / "config")
    warn = _alerts(("data", "psi", "temp", "WARNING"))
    crit = _alerts(("data", "psi", "temp", "CRITICAL"))
    assert should_render(policy, warn, None, force=False, latest=False).yes  # onset
    assert not should_render(policy, warn, warn, force=False, latest=False).yes  # persists
    assert should_render(policy, crit, warn, force=False, latest=False).reason.startswith("alert onset: CRITICAL")
    assert not should_render(policy, warn, crit, force=False, latest=False).yes  # de-escalation
    assert should_render(policy, _alerts(), None, force=False, latest=True).yes
    assert should_render(policy, _alerts(), None, force=True, latest=False).yes
    blocked = {"status": "blocked", "alerts": []}
    assert not should_render(policy, blocked, None, force=True, latest=True).yes


def test_a_column_empty_on_one_side_is_named_not_fatal(tmp_path):
    ref, cur = _frames()
    cur = cur.assign(a=np.nan)  # e.g. the weather feed missing for a whole day
    result = render_evidently_report(ref, cur, numeric=["a"], categorical=["b"], out_path=tmp_path / "m" / "e.html",
                                     reports_root=tmp_path, max_rows=5000, seed=7, title="m · 2013-12-31")
    assert "Not shown (no values on one side): a." in result["sampling"]
    assert "Not shown (no values on one side): a." in (tmp_path / "m" / "e.html").read_text()
