"""``drift-pipeline incident ...`` and ``drift-pipeline suppress ...``: what risk officers do with alerts.

Registered by :func:`register` from ``drift_pipeline.cli.build_parser``; errors are ``ValueError``
subclasses (``AuditError``) that the CLI prints as one ``error:`` line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

INCIDENT_COLUMNS = ["id", "alert_id", "model", "partition", "severity", "status", "status_by", "status_at", "title"]
SUPPRESSION_COLUMNS = ["id", "model", "metric", "feature", "approver", "created_at", "expires_at", "rationale"]


def _store():
    from drift_pipeline.cli import _audit_store

    return _audit_store()


def _print(rows: list[dict], as_json: bool, columns: list[str]) -> None:
    from drift_pipeline.cli import _print_rows

    _print_rows(rows, as_json, columns)


def cmd_incident(args: argparse.Namespace) -> int:
    store = _store()
    if args.incident_command == "list":
        _print(store.incidents(model=args.model, status=args.status, limit=args.limit), args.json, INCIDENT_COLUMNS)
        return 0
    if args.incident_command == "show":
        incident = store.incident(args.incident_id)
        if args.json:
            print(json.dumps(incident, indent=2, default=str))
            return 0
        for key in ("id", "alert_id", "model", "partition", "severity", "status", "opened_by", "created_at", "title"):
            print(f"{key:>10}: {incident[key]}")
        for event in incident["events"]:
            print(f"{event['created_at']}  {event['from_status']} -> {event['to_status']}  by {event['actor']}"
                  + (f": {event['note']}" if event["note"] else ""))
        print(f"     trace: drift-pipeline audit trace {incident['alert_id']}")
        return 0
    status = {"ack": "acknowledged", "resolve": "resolved", "accept-risk": "accepted_risk"}[args.incident_command]
    incident = store.transition_incident(args.incident_id, status, actor=args.actor, note=args.note or "")
    print(f"incident {incident['id']} ({incident['model']} {incident['partition']}) is now {incident['status']}")
    if status == "accepted_risk" and args.expires:
        alert = store.trace(incident["alert_id"])["alert"]
        suppression = store.add_suppression(alert["model"], alert["metric"], alert["feature"],
                                            rationale=args.note or "accepted risk", approver=args.actor,
                                            expires_at=_expiry(args.expires), incident_id=incident["id"])
        print(f"suppression {suppression['id']} of {alert['model']}.{alert['metric']}"
              + (f".{alert['feature']}" if alert["feature"] else "") + f" until {suppression['expires_at']}")
    return 0


def _expiry(text: str) -> dt.datetime:
    """``YYYY-MM-DD[THH:MM]`` (UTC) or a number of days from now such as ``14d``."""
    if text.endswith("d") and text[:-1].isdigit():
        return dt.datetime.now(dt.UTC) + dt.timedelta(days=int(text[:-1]))
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expiry {text!r} must be an ISO date/time (UTC) or a number of days such as 14d") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def cmd_suppress(args: argparse.Namespace) -> int:
    store = _store()
    if args.suppress_command == "add":
        row = store.add_suppression(args.model, args.metric, args.feature, rationale=args.rationale,
                                    approver=args.approver, expires_at=_expiry(args.expires),
                                    incident_id=args.incident)
        scope = f"{row['model']}.{row['metric']}" + (f".{row['feature']}" if row["feature"] else " (all features)")
        print(f"suppression {row['id']} of {scope} approved by {row['approver']} until {row['expires_at']}; "
              "matching alerts are still recorded but not notified")
        return 0
    active_at = None if args.all else dt.datetime.now(dt.UTC)
    _print(store.suppressions(model=args.model, active_at=active_at), args.json, SUPPRESSION_COLUMNS)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``incident`` and ``suppress`` commands to the ``drift-pipeline`` parser."""
    incident = subparsers.add_parser("incident", help="list, show and move incidents (open → acknowledged → "
                                                      "resolved | accepted_risk)")
    sub = incident.add_subparsers(dest="incident_command", required=True)
    listing = sub.add_parser("list", help="incidents with their current status")
    listing.add_argument("--model")
    listing.add_argument("--status", choices=["open", "acknowledged", "resolved", "accepted_risk"])
    listing.add_argument("--limit", type=int)
    listing.add_argument("--json", action="store_true")
    show = sub.add_parser("show", help="one incident and its history")
    show.add_argument("incident_id", type=int)
    show.add_argument("--json", action="store_true")
    for name, help_text in (("ack", "acknowledge an open incident"), ("resolve", "resolve an incident"),
                            ("accept-risk", "close an acknowledged incident as accepted risk")):
        move = sub.add_parser(name, help=help_text)
        move.add_argument("incident_id", type=int)
        move.add_argument("--actor", required=True, help="who (recorded)")
        move.add_argument("--note", help="why (recorded)")
        if name == "accept-risk":
            move.add_argument("--expires", help="also suppress the alert's metric until then (≤ 30 days; e.g. 14d)")
    incident.set_defaults(func=cmd_incident)

    suppress = subparsers.add_parser("suppress", help="accepted risk: stop notifying one model.metric[.feature]")
    sub = suppress.add_subparsers(dest="suppress_command", required=True)
    add = sub.add_parser("add", help="add a suppression (alerts are still recorded)")
    add.add_argument("model")
    add.add_argument("metric")
    add.add_argument("--feature", help="one feature (default: every feature of the metric)")
    add.add_argument("--rationale", required=True)
    add.add_argument("--approver", required=True)
    add.add_argument("--expires", required=True, help="ISO date/time (UTC) or days such as 14d; at most 30 days")
    add.add_argument("--incident", type=int, help="the incident this accepts")
    listing = sub.add_parser("list", help="suppressions in force (or --all)")
    listing.add_argument("--model")
    listing.add_argument("--all", action="store_true", help="include expired suppressions")
    listing.add_argument("--json", action="store_true")
    suppress.set_defaults(func=cmd_suppress)

