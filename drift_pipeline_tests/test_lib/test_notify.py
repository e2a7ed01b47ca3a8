"""Notifications reach a real webhook and a real SMTP server exactly once; suppression and digests."""

from __future__ import annotations

import datetime as dt

import pytest

from drift_pipeline.lib.audit import AlertIn, AuditStore
from drift_pipeline.lib.notify import DeliveryLedger, Dispatcher, SlackWebhook, SmtpEmail, channels_from_settings
from drift_pipeline_tests.local_sinks import smtp_sink, webhook_server

T0 = dt.datetime(2013, 3, 4, 1, 0, tzinfo=dt.UTC)  # before the 02:00 digest hour


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def _alert(partition: str, severity: str, *, metric: str = "psi", feature: str | None = "dep_hour",
           fingerprint: str = "fp") -> AlertIn:
    return AlertIn(model="flights", partition=partition, run_id="r1", data_fingerprint=fingerprint, config_hash="c",
                   code_version="v", baseline_version="2013-01-31-v1", family="data", metric=metric,
                   feature=feature, severity=severity, message=f"flights {partition}: data.{metric} is {severity}",
                   value=0.3, band="WARNING >= 0.1, CRITICAL >= 0.25", rule="policy.bands.data.psi")


@pytest.fixture
def setup(tmp_path):
    clock = Clock(T0)
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    store = AuditStore(url, clock=clock)
    store.migrate()
    with webhook_server() as (hook, posted, control), smtp_sink() as (port, mails):
        channels = [SlackWebhook(hook), SmtpEmail("127.0.0.1", port, "drift@example.org", ("risk@example.org",))]

        def dispatcher(ledger: DeliveryLedger | None = None) -> Dispatcher:
            return Dispatcher(store=store, ledger=ledger or DeliveryLedger(url), channels=channels, clock=clock,
                              digest_hour=2, max_attempts=3)

        yield {"store": store, "clock": clock, "posted": posted, "mails": mails, "dispatcher": dispatcher,
               "control": control, "url": url}


def test_critical_is_sent_once_to_each_channel_and_opens_an_incident(setup):
    store, posted, mails = setup["store"], setup["posted"], setup["mails"]
    (critical,) = store.record_alerts([_alert("2013-03-03", "CRITICAL")]).ids
    store.record_alerts([_alert("2013-03-03", "INFO", metric="kl")])
    outcome = setup["dispatcher"]().process(0)
    assert outcome.cursor == critical
    assert len(posted) == 1 and "CRITICAL" in posted[0]["text"] and f"alert #{critical}" in posted[0]["text"]
    assert len(mails) == 1 and "Subject: CRITICAL drift alert: flights 2013-03-03 data.psi" in mails[0]
    incident = store.incidents(alert_id=critical)
    assert len(incident) == 1 and incident[0]["status"] == "open"
    assert f"incident #{incident[0]['id']}" in posted[0]["text"]

    # A re-materialised partition records no new alert; a restarted sensor (cursor lost) or a retry
    # with a new ledger object finds the deliveries and sends nothing.
    assert store.record_alerts([_alert("2013-03-03", "CRITICAL")]).inserted_ids == ()
    setup["dispatcher"]().process(outcome.cursor)
    setup["dispatcher"]().process(0)
    assert len(posted) == 1 and len(mails) == 1
    assert len(store.incidents(alert_id=critical)) == 1


def test_warnings_go_into_one_daily_digest(setup):
    store, clock, posted, mails = setup["store"], setup["clock"], setup["posted"], setup["mails"]
    ids = store.record_alerts([_alert("2013-03-03", "WARNING"), _alert("2013-03-03", "WARNING", metric="kl")]).ids
    dispatcher = setup["dispatcher"]()
    outcome = dispatcher.process(0)
    assert outcome.queued == list(ids) and not posted  # before the digest hour: queued only
    clock.now = T0.replace(hour=2)
    assert setup["dispatcher"]().process(outcome.cursor).digest == "digest 2013-03-04: 2 WARNING alert(s)"
    assert len(posted) == 1 and len(mails) == 1
    assert all(f"alert #{i}" in posted[0]["text"] for i in ids)
    # a later WARNING the same day waits for tomorrow's digest; the day's digest is never sent twice
    store.record_alerts([_alert("2013-03-04", "WARNING")])
    setup["dispatcher"]().process(ids[-1])
    assert len(posted) == 1
    clock.now = T0 + dt.timedelta(days=1, hours=1)
    setup["dispatcher"]().process(0)
    assert len(posted) == 2 and "2013-03-05: 1 WARNING" in posted[1]["text"]


def test_suppressed_alerts_are_recorded_not_sent_and_expiry_reenables(setup):
    store, clock, posted = setup["store"], setup["clock"], setup["posted"]
    suppression = store.add_suppression("flights", "psi", "dep_hour", rationale="seasonal", approver="cro",
                                        expires_at=T0 + dt.timedelta(days=2))
    (suppressed,) = store.record_alerts([_alert("2013-03-03", "CRITICAL")]).ids
    assert store.alerts()[0]["suppression_id"] == suppression["id"]
    outcome = setup["dispatcher"]().process(0)
    assert outcome.suppressed == [suppressed] and not posted and not setup["mails"]
    ledger = DeliveryLedger(setup["url"])
    assert {r["status"] for r in ledger.rows(suppressed)} == {"suppressed"}
    assert store.incidents(alert_id=suppressed)[0]["note"].startswith("suppressed by accepted risk")

    clock.now = T0 + dt.timedelta(days=3)  # expired: the next alert of that metric is notified again
    (fresh,) = store.record_alerts([_alert("2013-03-06", "CRITICAL", fingerprint="fp2")]).ids
    assert store.alerts(partition="2013-03-06")[0]["suppression_id"] is None
    setup["dispatcher"]().process(outcome.cursor)
    assert len(posted) == 1 and f"alert #{fresh}" in posted[0]["text"]


def test_an_alert_recorded_before_a_suppression_is_not_sent_once_it_is_in_force(setup):
    store, posted = setup["store"], setup["posted"]
    store.record_alerts([_alert("2013-03-03", "CRITICAL")])
    store.add_suppression("flights", "psi", None, rationale="accepted", approver="cro",
                          expires_at=T0 + dt.timedelta(days=1))
    assert setup["dispatcher"]().process(0).suppressed and not posted


def test_a_failing_channel_is_retried_without_resending_the_other(setup):
    store, posted, mails, control = setup["store"], setup["posted"], setup["mails"], setup["control"]
    control["status"] = 500
    (alert_id,) = store.record_alerts([_alert("2013-03-03", "CRITICAL")]).ids
    outcome = setup["dispatcher"]().process(0)
    assert outcome.failures and "HTTP 500" in outcome.failures[0] and len(mails) == 1 and not posted
    control["status"] = 200
    setup["dispatcher"]().process(outcome.cursor)
    assert len(posted) == 1 and len(mails) == 1
    statuses = {r["channel"]: (r["status"], r["attempts"]) for r in DeliveryLedger(setup["url"]).rows(alert_id)}
    assert statuses == {"slack": ("sent", 2), "email": ("sent", 1)}


def test_a_claimed_delivery_is_never_sent_by_a_second_evaluation(setup):
    store = setup["store"]
    (alert_id,) = store.record_alerts([_alert("2013-03-03", "CRITICAL")]).ids
    ledger = DeliveryLedger(setup["url"])
    alert = ledger.alert(alert_id)
    assert ledger.claim(alert, "slack", "pending", T0) is True
    assert ledger.claim(alert, "slack", "pending", T0) is False  # the unique key is the claim
    setup["dispatcher"](ledger).process(0)
    assert not setup["posted"]  # a crash left it pending: listed for a human, never resent
    assert [r["channel"] for r in ledger.stuck()] == ["slack"]


def test_channels_are_optional_and_email_needs_sender_and_recipients():
    assert channels_from_settings(slack_webhook=None, smtp_host=None, smtp_port=25, smtp_from=None,
                                  smtp_to=None) == []
    with pytest.raises(ValueError, match="needs a sender and at least one recipient"):
        channels_from_settings(slack_webhook=None, smtp_host="mail", smtp_port=25, smtp_from=None, smtp_to=None)
    both = channels_from_settings(slack_webhook="http://x", smtp_host="mail", smtp_port=25, smtp_from="a@b",
                                  smtp_to="c@d, e@f")
    assert [c.name for c in both] == ["slack", "email"] and both[1].recipients == ("c@d", "e@f")
