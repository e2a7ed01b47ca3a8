"""The decision-log API, the decision log as a data source, seeding, and no PII anywhere (SPEC §7-8)."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import MetaData, select

from drift_pipeline.lib.audit import AuditStore
from drift_pipeline.lib.audit_report import (
    collect_audit_period,
    period_for,
    redact_report_data,
    render_html,
    render_markdown,
)
from drift_pipeline.lib.config import load_model_configs
from drift_pipeline.lib.decision_seed import (
    read_german_credit,
    replay_plan,
    seed_decision_log,
)
from drift_pipeline.lib.decision_source import load_decision_log
from drift_pipeline.lib.decisions import (
    DecisionBuffer,
    DecisionOutcome,
    decision_context,
    log_decisions,
    record_decision,
)
from drift_pipeline.lib.privacy import Redactor, input_hash
from drift_pipeline.lib.project import PROJECT_ROOT
from drift_pipeline.lib.sources import DataError, load_source

KEY = b"test-key"
REDACTOR = Redactor()
CREDIT = load_model_configs(Path(PROJECT_ROOT / "config"))["credit"]


@pytest.fixture
def store():
    audit = AuditStore("sqlite:///:memory:")
    audit.migrate()
    yield audit
    audit.close()


def _decorated(store, **options):
    @log_decisions(model="toy", model_version="v1", decision_type="approval", actor="service:toy", store=store,
                   redactor=REDACTOR, key=KEY, **options)
    def approve(applicant: dict) -> DecisionOutcome:
        return DecisionOutcome(prediction=applicant["income"] > 10, confidence=0.9,
                               explanation={"income": 0.4}, review_status=applicant.get("review"))

    return approve


def test_decorator_records_every_field_and_returns_the_outcome_unchanged(store):
    approve = _decorated(store)
    raw = {"income": 12, "email": "jo@x.example", "note": "ring +44 20 7946 0958"}
    with decision_context(actor="user:officer-7", trace_id="req-1", timestamp="2024-01-02T03:04:05+00:00"):
        result = approve(raw)
    assert result == DecisionOutcome(prediction=True, confidence=0.9, explanation={"income": 0.4})
    [row] = store.decisions(model="toy")
    assert row["timestamp"] == "2024-01-02T03:04:05.000000+00:00"
    assert (row["model"], row["model_version"], row["decision_type"]) == ("toy", "v1", "approval")
    assert row["features_json"] == '{"email":"[REDACTED:email]","income":12,"note":"ring [REDACTED:phone]"}'
    assert row["input_hash"] == input_hash(raw, key=KEY)
    assert (row["prediction"], row["confidence"], row["explanation_json"]) == ("true", 0.9, '{"income":0.4}')
    assert (row["actor"], row["trace_id"], row["anomaly_flag"]) == ("user:officer-7", "req-1", False)
    assert row["latency_ms"] >= 0 and row["review_status"] is None
    assert store.verify().ok


def test_identical_inputs_are_linkable_by_hash(store):
    approve = _decorated(store)
    approve({"income": 5, "name": "Ann"})
    approve({"name": "Ann", "income": 5})
    approve({"name": "Bob", "income": 5})
    hashes = [r["input_hash"] for r in store.decisions(model="toy")]
    assert hashes[0] == hashes[1] != hashes[2]


def test_outside_a_context_the_defaults_apply_and_pii_actors_are_pseudonymised(store):
    clock = lambda: dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    approve = _decorated(store, clock=clock, review_status="not_required")
    approve({"income": 1})
    with decision_context(actor="user:jo@x.example"):
        approve({"income": 1})
    first, second = store.decisions(model="toy")
    assert (first["actor"], first["timestamp"], first["review_status"]) == (
        "service:toy", "2024-05-01T12:00:00.000000+00:00", "not_required")
    assert second["actor"].startswith("actor:") and "jo@" not in second["actor"]


def test_a_failing_function_records_nothing_and_bad_confidence_is_an_anomaly(store):
    @log_decisions(model="toy", model_version="v1", decision_type="t", store=store, redactor=REDACTOR, key=KEY)
    def broken(x: int) -> int:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        broken(1)
    assert store.decisions(model="toy") == []
    record_decision(model="toy", model_version="v1", decision_type="t", features={"x": 1}, prediction="a",
                    actor="service:t", confidence=1.7, store=store, redactor=REDACTOR, key=KEY)
    assert store.decisions(model="toy")[0]["anomaly_flag"] is True


def test_non_mapping_arguments_are_recorded_by_name_and_buffers_write_once(store):
    buffer = DecisionBuffer()

    @log_decisions(model="toy", model_version="v1", decision_type="t", store=buffer, redactor=REDACTOR, key=KEY)
    def add(a: int, b: int = 2) -> int:
        return a + b

    assert add(1) == 3 and add(1, b=5) == 6
    assert store.decisions(model="toy") == []
    assert len(buffer.flush(store).inserted_ids) == 2 and buffer.pending == []
    assert [r["features_json"] for r in store.decisions(model="toy")] == ['{"a":1,"b":2}', '{"a":1,"b":5}']
    assert [r["prediction"] for r in store.decisions(model="toy")] == ["3", "6"]
    with pytest.raises(TypeError, match="unknown field"), decision_context(user="x"):
        pass


# --------------------------------------------------------------------------- canaries

CANARIES = {
    "email": "canary.person@leak-test.example",
    "first_name": "Zebulonia",
    "last_name": "Quartermaine",
    "phone": "+44 20 7946 0958",
    "ssn": "078-05-1120",
    "card_number": "4539 1488 0343 6467",
    "national_id": "QQ123456C",
    "password": "hunter2-canary",
    "api_token": "tok_canary_9f8e7d",
    "home_address": "221B Canary Street",
    "date_of_birth": "1961-07-04",
}
IN_TEXT = {"comment": "reach me at canary.person@leak-test.example or +44 20 7946 0958, "
                      "card 4539-1488-0343-6467"}


def _needles() -> set[str]:
    """Every canary, plus digit-only forms of the numbers (a reformatted leak is still a leak)."""
    needles = set(CANARIES.values()) | {"4539-1488-0343-6467"}
    for value in (CANARIES["phone"], CANARIES["card_number"], CANARIES["ssn"]):
        needles.add("".join(ch for ch in value if ch.isdigit()))
    return needles


def _dump_every_table(store: AuditStore) -> str:
    metadata = MetaData()
    metadata.reflect(store._engine)
    with store._engine.connect() as conn:
        return "\n".join(repr(row) for table in metadata.sorted_tables for row in conn.execute(select(table)))


def test_canary_pii_reaches_no_table_log_frame_or_report(store, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)

    @log_decisions(model="credit", model_version="credit-scorecard-v1", decision_type="credit_application",
                   store=store)  # the project's policy.yaml privacy settings
    def score(applicant: dict) -> dict:
        logging.getLogger("credit").info("scored an applicant")
        return {"prediction": True, "confidence": 0.8,
                "explanation": {"score": 0.8, "reason": f"email {applicant['email']}"}}

    applicant = read_german_credit().iloc[0].drop("bad_risk").to_dict()
    for day in range(1, 4):
        with decision_context(actor=f"user:{CANARIES['email']}", trace_id=f"req {CANARIES['phone']}",
                              timestamp=dt.datetime(2024, 3, day, 9, tzinfo=dt.UTC)):
            score({**applicant, **CANARIES, **IN_TEXT})
    dump = _dump_every_table(store)
    assert "[REDACTED:email]" in dump and "credit_application" in dump  # the dump is real
    frame = load_decision_log(CREDIT, store=store)
    data = redact_report_data(collect_audit_period(store, {"credit": CREDIT}, period_for("monthly", "2024-03-01"),
                                                   verification=store.verify()))
    reports = render_markdown(data, head=store.head()) + render_html(data, head=store.head())
    assert "3" in reports and data["summary"]["decisions"] == 3
    for name, text in {"audit store": dump, "logs": caplog.text, "source frame": frame.to_csv(),
                       "report": reports}.items():
        leaked = sorted(n for n in _needles() if n in text)
        assert not leaked, f"PII canaries {leaked} found in the {name}"


# --------------------------------------------------------------------------- source and seeding


def test_seeding_is_idempotent_and_feeds_the_source_frame(store):
    first = seed_decision_log(store=store)
    second = seed_decision_log(store=store)
    assert first.inserted == first.planned == second.existing and second.inserted == 0
    assert len(store.decisions(model="credit")) == first.planned and store.verify().ok
    frame = load_decision_log(CREDIT, store=store)
    assert list(frame.columns) == [c.name for c in CREDIT.schema_]
    assert pd.api.types.is_datetime64_any_dtype(frame["decided_at"])
    assert frame["decided_at"].min() >= pd.Timestamp("2024-01-01") and frame["decided_at"].max() < pd.Timestamp(
        "2024-04-01")
    assert frame["defaulted"].isna().all()  # outcomes are not in the decision log
    assert frame["score"].between(0, 1).all() and set(frame["prediction"]) == {True, False}
    assert ((frame["score"] > 0.5) == frame["prediction"]).all()


def test_replay_plan_is_deterministic_and_tells_the_scripted_story():
    data = read_german_credit()
    plan = replay_plan(CREDIT, data)
    pd.testing.assert_frame_equal(plan, replay_plan(CREDIT, data))
    days = plan["timestamp"].dt.date
    per_day = plan.groupby(days).size()
    assert per_day[dt.date(2024, 3, 18)] > 2 * per_day[:dt.date(2024, 1, 31)].mean()
    late = plan[days >= dt.date(2024, 3, 25)]
    assert (late["actor"] == "tenant:branch-03").mean() > 0.3
    assert plan["trace_id"].is_unique


def test_load_source_dispatches_to_the_decision_log(store, monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    monkeypatch.setenv("DRIFT_PIPELINE_AUDIT_URL", url)
    with pytest.raises(DataError, match=r"credit: cannot read the decision log: .*no audit schema"):
        load_source(CREDIT, PROJECT_ROOT)
    file_store = AuditStore(url)
    file_store.migrate()
    with pytest.raises(DataError, match=r"no decisions recorded for model 'credit'.*decisions seed credit"):
        load_source(CREDIT, PROJECT_ROOT)
    seed_decision_log(store=file_store)
    frame = load_source(CREDIT, PROJECT_ROOT)
    pd.testing.assert_frame_equal(frame, load_decision_log(CREDIT, store=file_store))


def test_cli_seeds_idempotently(monkeypatch, tmp_path, capsys):
    from drift_pipeline.cli import main

    monkeypatch.setenv("DRIFT_PIPELINE_AUDIT_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    assert main(["decisions", "seed", "credit"]) == 0
    assert main(["decisions", "seed", "credit"]) == 0
    first, second = capsys.readouterr().out.strip().splitlines()
    assert "decisions recorded, 0 already present" in first and second.startswith("credit: 0 decisions recorded")
    assert main(["decisions", "seed", "flights"]) == 2
    assert "only 'credit' has one" in capsys.readouterr().err
