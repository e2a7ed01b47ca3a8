"""Tell people about alerts exactly once: CRITICAL at once, WARNING in one daily digest, INFO never.

Deliveries are persisted in a small ledger table (``notification_deliveries``) in the same
database as the audit store (same URL, its own metadata, never one of the chained tables).
Why a table and not a JSON file under ``var/``: the ledger's unique constraint on
``(alert_id, channel)`` is an atomic *claim* shared by every process that can evaluate the
sensor (daemon, ``dagster dev``, a second machine on PostgreSQL), so two evaluations can
never both send one alert; a JSON file is per machine and racy. The ledger is operational
state (it is updated: ``pending`` → ``sent``), which is exactly why it is not in the
append-only chain.

Delivery protocol per alert and channel (``slack``, ``email``, or ``digest`` for WARNING):

1. insert a ``pending`` row (the unique key makes this the claim; a duplicate claim is a no-op),
2. send,
3. mark the row ``sent`` (or ``failed`` with the error; failed rows are retried by the next
   evaluation up to ``max_attempts``).

A process killed between 2 and 3 leaves a ``pending`` row that is *not* resent: the
contract is "never twice", so such rows are listed by :meth:`DeliveryLedger.stuck` for a
human instead. Suppressed alerts get a ``suppressed`` row per channel and nothing is sent.
"""

from __future__ import annotations

import datetime as dt
import json
import smtplib
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from drift_pipeline.lib.audit.models import Alert

NOTIFIED_SEVERITIES = ("WARNING", "CRITICAL")
"""SPEC §6: INFO is dashboard only."""

DIGEST_CHANNEL = "digest"

metadata = MetaData()

deliveries = Table(
    "notification_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", Integer, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("model", String, nullable=False),
    Column("severity", String(8), nullable=False),
    # pending | sent | failed | suppressed | queued (WARNING waiting for its digest)
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("digest_day", String(10)),
    Column("detail", Text, nullable=False, default=""),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("alert_id", "channel", name="uq_notification_deliveries_alert_channel"),
)

digests = Table(
    "notification_digests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", String(10), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("alert_ids", Text, nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("updated_at", String(32), nullable=False),
    UniqueConstraint("day", "channel", name="uq_notification_digests_day_channel"),
)


class NotifyError(ValueError):
    """A notification channel could not deliver; the message names the channel and target."""


# --------------------------------------------------------------------------- channels


class Channel(Protocol):
    name: str

    def send(self, subject: str, text: str) -> None: ...


@dataclass(frozen=True)
class SlackWebhook:
    """A Slack-compatible incoming webhook: ``POST {"text": ...}`` as JSON."""

    url: str
    timeout_seconds: float = 10.0
    name: str = "slack"

    def send(self, subject: str, text: str) -> None:
        body = json.dumps({"text": f"*{subject}*\n{text}"}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                if response.status >= 300:
                    raise NotifyError(f"slack webhook answered HTTP {response.status}")
        except urllib.error.HTTPError as exc:
            raise NotifyError(f"slack webhook answered HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise NotifyError(f"slack webhook unreachable: {getattr(exc, 'reason', exc)}") from None


@dataclass(frozen=True)
class SmtpEmail:
    """Plain SMTP (optionally STARTTLS and login) to a list of recipients."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_seconds: float = 10.0
    name: str = "email"

    def send(self, subject: str, text: str) -> None:
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, self.sender, ", ".join(self.recipients)
        message.set_content(text)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(message)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"email via {self.host}:{self.port} failed: {exc}") from None


# --------------------------------------------------------------------------- messages


def alert_line(alert: Mapping[str, Any]) -> str:
    """One alert as a line a risk officer can act on (id, model, partition, message)."""
    return f"[{alert['severity']}] alert #{alert['id']} {alert['model']} {alert['partition']}: {alert['message']}"


def critical_message(alert: Mapping[str, Any], incident_id: int | None) -> tuple[str, str]:
    subject = f"CRITICAL drift alert: {alert['model']} {alert['partition']} {alert['family']}.{alert['metric']}"
    lines = [alert_line(alert), f"rule: {alert['rule']} ({alert['band']})",
             f"baseline {alert['baseline_version']}, config {alert['config_hash']}, run {alert['run_id']}"]
    if incident_id is not None:
        lines.append(f"incident #{incident_id} is open: drift-pipeline incident show {incident_id}")
    lines.append(f"trace: drift-pipeline audit trace {alert['id']}")
    return subject, "\n".join(lines)


def digest_message(day: str, alerts: Sequence[Mapping[str, Any]]) -> tuple[str, str]:
    models = sorted({a["model"] for a in alerts})
    subject = f"Daily drift digest {day}: {len(alerts)} WARNING alert(s) ({', '.join(models)})"
    return subject, "\n".join(alert_line(a) for a in alerts)


# --------------------------------------------------------------------------- the ledger


def _now_text(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


class DeliveryLedger:
    """Which alert went to which channel, in the audit store's database (own tables)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        options: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            options["connect_args"] = {"timeout": 30, "check_same_thread": False}
            if not parsed.database or parsed.database == ":memory:":
                options["poolclass"] = StaticPool
        elif parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg2")
        self.engine: Engine = create_engine(parsed, **options)
        metadata.create_all(self.engine)

    # -- reading the audit store's alerts (read only) --------------------------------
    def alerts_after(self, alert_id: int, *, limit: int) -> list[dict[str, Any]]:
        """WARNING and CRITICAL alerts with an id above ``alert_id``, oldest first.

        Alert ids are assigned inside the audit store's serialised append, so they grow
        in commit order and ``id > cursor`` never skips a later commit.
        """
        table = Alert.__table__
        query = (select(table).where(table.c.id > alert_id, table.c.severity.in_(NOTIFIED_SEVERITIES))
                 .order_by(table.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def alerts_by_id(self, alert_ids: Sequence[int]) -> list[dict[str, Any]]:
        table = Alert.__table__
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(
                select(table).where(table.c.id.in_(list(alert_ids))).order_by(table.c.id)).mappings()]

    def alert(self, alert_id: int) -> dict[str, Any]:
        return self.alerts_by_id([alert_id])[0]

    def last_alert_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(Alert.__table__.c.id).order_by(Alert.__table__.c.id.desc()).limit(1)) or 0)

    # -- claims -------------------------------------------------------------------------
    def claim(self, alert: Mapping[str, Any], channel: str, status: str, now: dt.datetime) -> bool:
        """Insert the (alert, channel) row; False when it already exists (someone claimed it)."""
        row = {"alert_id": alert["id"], "channel": channel, "model": alert["model"], "severity": alert["severity"],
               "status": status, "attempts": 0, "detail": "", "updated_at": _now_text(now)}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(deliveries).values(**row))
        except IntegrityError:
            return False
        return True

    def retry_claim(self, alert_id: int, channel: str, now: dt.datetime, max_attempts: int) -> bool:
        """Take back a ``failed`` row for another attempt (atomically, so only one evaluation does)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(deliveries)
                .where(deliveries.c.alert_id == alert_id, deliveries.c.channel == channel,
                       deliveries.c.status == "failed", deliveries.c.attempts < max_attempts)
                .values(status="pending", updated_at=_now_text(now))
            )
        return result.rowcount == 1

    def finish(self, alert_id: int, channel: str, status: str, now: dt.datetime, detail: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.alert_id == alert_id, deliveries.c.channel == channel)
                .values(status=status, detail=detail, updated_at=_now_text(now),
                        attempts=deliveries.c.attempts + (1 if status in ("sent", "failed") else 0))
            )

    def failed(self, max_attempts: int) -> list[dict[str, Any]]:
        query = select(deliveries).where(deliveries.c.status == "failed", deliveries.c.attempts < max_attempts,
                                         deliveries.c.channel != DIGEST_CHANNEL)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query.order_by(deliveries.c.id)).mappings()]

    def stuck(self) -> list[dict[str, Any]]:
        """Rows left ``pending`` by a process that died mid-send (never resent automatically)."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(deliveries).where(deliveries.c.status == "pending"))
                    .mappings()]

    def rows(self, alert_id: int | None = None) -> list[dict[str, Any]]:
        query = select(deliveries).order_by(deliveries.c.id)
        if alert_id is not None:
            query = query.where(deliveries.c.alert_id == alert_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # -- digests ------------------------------------------------------------------------
    def queued(self) -> list[int]:
        query = select(deliveries.c.alert_id).where(deliveries.c.channel == DIGEST_CHANNEL,
                                                    deliveries.c.status == "queued").order_by(deliveries.c.alert_id)
        with self.engine.connect() as conn:
            return list(conn.scalars(query))

    def claim_digest(self, day: str, channel: str, alert_ids: Sequence[int], now: dt.datetime) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(digests).values(day=day, channel=channel, status="pending",
                                                    alert_ids=json.dumps(list(alert_ids)), detail="",
                                                    updated_at=_now_text(now)))
        except IntegrityError:
            return False
        return True

    def finish_digest(self, day: str, channel: str, status: str, now: dt.datetime, detail: str = "") -> None:
        with self.engine.begin() as conn:
            conn.execute(update(digests).where(digests.c.day == day, digests.c.channel == channel)
                         .values(status=status, detail=detail, updated_at=_now_text(now)))

    def digest_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(digests).order_by(digests.c.id)).mappings()]

    def mark_digested(self, alert_ids: Sequence[int], day: str, now: dt.datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(deliveries)
                         .where(deliveries.c.channel == DIGEST_CHANNEL, deliveries.c.alert_id.in_(list(alert_ids)),
                                deliveries.c.status == "queued")
                         .values(status="sent", digest_day=day, updated_at=_now_text(now)))

    def close(self) -> None:
        self.engine.dispose()


# --------------------------------------------------------------------------- the dispatcher


@dataclass
class Outcome:
    """What one evaluation did, for the sensor's log and cursor."""

    cursor: int
    sent: list[str] = field(default_factory=list)
    suppressed: list[int] = field(default_factory=list)
    queued: list[int] = field(default_factory=list)
    incidents: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    digest: str | None = None
    attempted: set[tuple[int, str]] = field(default_factory=set)

    @property
    def summary(self) -> str:
        parts = [f"cursor at alert #{self.cursor}"]
        for label, items in (("sent", self.sent), ("suppressed", self.suppressed), ("queued for digest", self.queued),
                             ("incidents opened/kept", self.incidents), ("failed", self.failures)):
            if items:
                parts.append(f"{label}: {', '.join(map(str, items))}")
        if self.digest:
            parts.append(self.digest)
        return "; ".join(parts)


@dataclass
class Dispatcher:
    """Turns new alerts into incidents, immediate messages and digest entries, exactly once.

    Parameters
    ----------
    store : AuditStore
        For suppressions in force and incidents (its public API only).
    ledger : DeliveryLedger
    channels : sequence of Channel
        Configured channels; none configured means alerts are recorded as ``skipped``.
    clock : callable
        The current UTC time.
    digest_hour : int
        The UTC hour from which the day's WARNING digest may be sent.
    max_attempts : int
        How often a failing channel is retried for one alert.
    """

    store: Any
    ledger: DeliveryLedger
    channels: Sequence[Channel]
    clock: Callable[[], dt.datetime]
    digest_hour: int
    max_attempts: int
    batch_size: int = 500

    def _suppression(self, alert: Mapping[str, Any]) -> int | None:
        if alert["suppression_id"] is not None:
            return int(alert["suppression_id"])
        active = self.store.active_suppression(alert["model"], alert["metric"], alert["feature"], at=self.clock())
        return int(active["id"]) if active else None

    def _send(self, alert_id: int, channel: Channel, subject: str, text: str, outcome: Outcome) -> None:
        outcome.attempted.add((alert_id, channel.name))
        try:
            channel.send(subject, text)
        except NotifyError as exc:
            self.ledger.finish(alert_id, channel.name, "failed", self.clock(), str(exc))
            outcome.failures.append(f"#{alert_id} {channel.name}: {exc}")
        else:
            self.ledger.finish(alert_id, channel.name, "sent", self.clock())
            outcome.sent.append(f"#{alert_id} {channel.name}")

    def _critical(self, alert: Mapping[str, Any], outcome: Outcome) -> None:
        incident = self.store.open_incident(alert["id"], opened_by="alert_notification_sensor",
                                            note="opened automatically for a CRITICAL alert")
        outcome.incidents.append(incident["id"])
        subject, text = critical_message(alert, incident["id"])
        for channel in self.channels:
            if self.ledger.claim(alert, channel.name, "pending", self.clock()):
                self._send(alert["id"], channel, subject, text, outcome)

    def process(self, cursor: int) -> Outcome:
        """Handle every WARNING/CRITICAL alert after ``cursor``, retry failed sends, send a due digest."""
        outcome = Outcome(cursor=cursor)
        for alert in self.ledger.alerts_after(cursor, limit=self.batch_size):
            suppression = self._suppression(alert)
            if suppression is not None:
                names = [c.name for c in self.channels] if alert["severity"] == "CRITICAL" else [DIGEST_CHANNEL]
                for name in names or ["none"]:
                    self.ledger.claim(alert, name, "suppressed", self.clock())
                outcome.suppressed.append(alert["id"])
                if alert["severity"] == "CRITICAL":  # accepted risk: still an incident record, no message
                    outcome.incidents.append(self.store.open_incident(
                        alert["id"], opened_by="alert_notification_sensor",
                        note=f"suppressed by accepted risk #{suppression}")["id"])
            elif alert["severity"] == "CRITICAL":
                self._critical(alert, outcome)
            elif self.ledger.claim(alert, DIGEST_CHANNEL, "queued", self.clock()):
                outcome.queued.append(alert["id"])
            outcome.cursor = alert["id"]
        self._retry_failed(outcome)
        self._digest(outcome)
        return outcome

    def _retry_failed(self, outcome: Outcome) -> None:
        by_name = {c.name: c for c in self.channels}
        for row in self.ledger.failed(self.max_attempts):
            channel = by_name.get(row["channel"])
            if (row["alert_id"], row["channel"]) in outcome.attempted:
                continue  # failed in this very evaluation: retry on the next one
            if channel is None or not self.ledger.retry_claim(row["alert_id"], row["channel"], self.clock(),
                                                               self.max_attempts):
                continue
            found = self.ledger.alert(row["alert_id"])
            incident = self.store.incidents(alert_id=found["id"])
            subject, text = critical_message(found, incident[0]["id"] if incident else None)
            self._send(found["id"], channel, subject, text, outcome)

    def _digest(self, outcome: Outcome) -> None:
        now = self.clock().astimezone(dt.UTC)
        if now.hour < self.digest_hour or not self.channels:
            return
        day = now.date().isoformat()
        queued = self.ledger.queued()
        if not queued:
            return
        wanted = set(queued)
        alerts = [a for a in self.ledger.alerts_by_id(queued) if a["id"] in wanted]
        subject, text = digest_message(day, alerts)
        sent_any = False
        for channel in self.channels:
            if not self.ledger.claim_digest(day, channel.name, queued, now):
                continue  # today's digest already went out on this channel
            try:
                channel.send(subject, text)
            except NotifyError as exc:
                self.ledger.finish_digest(day, channel.name, "failed", now, str(exc))
                outcome.failures.append(f"digest {day} {channel.name}: {exc}")
            else:
                self.ledger.finish_digest(day, channel.name, "sent", now)
                sent_any = True
        if sent_any:
            self.ledger.mark_digested(queued, day, now)
            outcome.digest = f"digest {day}: {len(queued)} WARNING alert(s)"


def channels_from_settings(
    *,
    slack_webhook: str | None,
    smtp_host: str | None,
    smtp_port: int,
    smtp_from: str | None,
    smtp_to: str | None,
    smtp_username: str | None = None,
    smtp_password: str | None = None,
    smtp_starttls: bool = False,
) -> list[Channel]:
    """The configured channels; each is optional (SPEC §6). ``smtp_to`` is comma-separated."""
    channels: list[Channel] = []
    if slack_webhook:
        channels.append(SlackWebhook(slack_webhook))
    if smtp_host:
        recipients = tuple(r.strip() for r in (smtp_to or "").split(",") if r.strip())
        if not smtp_from or not recipients:
            raise NotifyError(f"email via {smtp_host}:{smtp_port} needs a sender and at least one recipient "
                              "(DRIFT_PIPELINE_SMTP_FROM, DRIFT_PIPELINE_SMTP_TO)")
        channels.append(SmtpEmail(smtp_host, smtp_port, smtp_from, recipients, smtp_username, smtp_password,
                                  smtp_starttls))
    return channels
