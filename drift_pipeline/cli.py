"""``drift-pipeline``: the product's command line.

Every known failure (bad config, bad data, unreachable database) is printed as one clear
``error:`` line and exit code 2; a stack trace is never the user interface.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path

from drift_pipeline.lib import project

EXIT_USAGE = 2


def _console(quiet: bool):
    from rich.console import Console

    console = Console(quiet=quiet, highlight=False)
    if not console.is_terminal:
        console.width = 120  # a log file or CI: no terminal to wrap the summary table to
    return console


def _progress_bar(console, enabled: bool):
    """A rich progress bar and a ``progress(description, done, total)`` callback driving it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, disable=not enabled, transient=False)
    task = bar.add_task("starting", total=1)

    def update(description: str, done: int, total: int) -> None:
        bar.update(task, description=description, completed=done, total=max(total, 1))

    return bar, update


def cmd_demo(args: argparse.Namespace) -> int:
    from rich.table import Table

    from drift_pipeline.demo import run_backfill

    console = _console(args.quiet or args.json)
    console.print("[bold]drift_pipeline demo[/]: backfilling every monitored model over its whole history")
    bar, update = _progress_bar(console, enabled=not (args.quiet or args.json))
    with bar:
        outcomes, seconds = run_backfill(args.models, start=args.start, end=args.end, progress=update)
    home = os.environ.get("DAGSTER_HOME", str(project.dagster_home()))
    reports = project.var_dir() / "reports"
    summary = {
        "wall_seconds": round(seconds, 1),
        "dagster_home": home,
        "audit_store": project.audit_url(),
        "reports": str(reports),
        "models": [o.__dict__ for o in outcomes],
    }
    if args.json:
        print(json.dumps(summary, indent=2, default=str))
    else:
        table = Table(title="Monitoring summary")
        for column in ("model", "partitions run", "blocked", "CRITICAL", "WARNING", "new alerts", "reports",
                       "failed runs"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for o in outcomes:
            table.add_row(o.model, str(o.partitions), str(o.blocked_partitions), str(o.alerts.get("CRITICAL", 0)),
                          str(o.alerts.get("WARNING", 0)), str(o.new_alerts), str(o.reports), str(len(o.failed_runs)))
        console.print(table)
        for o in outcomes:
            for failure in o.failed_runs:
                console.print(f"[red]{o.model} run failed[/]: {failure}")
        console.print(f"Alerts (all runs, de-duplicated) are in the audit store: {project.audit_url()}")
        console.print(f"Reports: {reports}  (index: {reports / 'index.html'})")
        console.print(f"Results: {project.var_dir() / 'results'}")
        dagster = Path(sys.executable).parent / "dagster"
        console.print("Open the UI on the same instance (from the project root):\n"
                      f"  DAGSTER_HOME={home} {dagster} dev -w workspace.yaml   # then http://127.0.0.1:3000")
        console.print(f"Wall time: {seconds:.1f} s")
    return 0 if all(not o.failed_runs for o in outcomes) else 1


def cmd_report(args: argparse.Namespace) -> int:
    """Render one partition's report on demand from its stored results."""
    from drift_pipeline.defs.resources import AuditTrail, MonitoringConfig
    from drift_pipeline.lib.reports import render_partition_report
    from drift_pipeline.lib.results import ResultStore

    monitoring = MonitoringConfig()
    config = monitoring.model(args.model) if args.model in monitoring.models() else None
    if config is None:
        raise ValueError(f"unknown model {args.model!r}; configured: {sorted(monitoring.models())}")
    store = ResultStore(project.var_dir() / "results")
    try:
        rendered = render_partition_report(
            config, monitoring.policy(), store, project.var_dir() / "reports", args.partition,
            AuditTrail().store(), run_id="on-demand", config_hash=monitoring.config_hash(args.model),
        )
    except FileNotFoundError as exc:
        raise ValueError(f"{exc}; run the demo or materialise {args.model}/drift_alerts for {args.partition}") from None
    print(rendered["path"])
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare two files without Dagster: per-feature statistics and severities."""
    from drift_pipeline.lib.compare import render_compare, run_compare

    result = run_compare(Path(args.reference), Path(args.current), Path(args.schema) if args.schema else None,
                         Path(args.json) if args.json else None, Path(args.html) if args.html else None,
                         config_dir=Path(args.config))
    print(render_compare(result))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Benchmarks (never tests): speed and memory against peers, or detection quality."""
    console = _console(args.quiet)
    bar, update = _progress_bar(console, enabled=not args.quiet)
    results_md = project.PROJECT_ROOT / "docs" / "benchmarks.md"
    with bar:
        if args.which == "drift":
            from drift_pipeline.lib.bench import run_drift_speed

            run_drift_speed(args.rows, repeats=args.repeats, json_out=Path(args.json) if args.json else None,
                            results_md=results_md, include_evidently=not args.no_evidently, progress=update)
        else:
            from drift_pipeline.lib.bench import run_detection

            run_detection(json_out=Path(args.json) if args.json else None, results_md=results_md,
                          quick=args.quick, progress=update)
    console.print(f"Results written to {results_md}")
    return 0


def _audit_store():
    from drift_pipeline.defs.resources import AuditTrail

    return AuditTrail().store()


def _print_rows(rows: list[dict], as_json: bool, columns: list[str]) -> None:
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console(highlight=False, width=200).print(table)


def cmd_audit(args: argparse.Namespace) -> int:
    """Read-only commands for auditors: verify the chain, trace an alert, list records."""
    store = _audit_store()
    if args.audit_command == "verify":
        report = store.verify(expected_head=args.expected_head)
        if args.json:
            print(json.dumps({"ok": report.ok, "records": report.records, "head_seq": report.head_seq,
                              "head_hash": report.head_hash,
                              "problems": [p.message for p in report.problems]}, indent=2))
        else:
            print(f"{'OK' if report.ok else 'TAMPERING DETECTED'}: {report.records} records, "
                  f"head #{report.head_seq} {report.head_hash}")
            for problem in report.problems:
                print(f"  - {problem.message}")
        return 0 if report.ok else 1
    if args.audit_command == "trace":
        trace = store.trace(args.alert_id)
        print(json.dumps(trace, indent=2, default=str))
        return 0
    filters = {"model": args.model, "since": args.since, "until": args.until, "limit": args.limit}
    if args.audit_command == "alerts":
        rows = store.alerts(partition=args.partition, severity=args.severity, **filters)
        columns = ["id", "model", "partition", "severity", "family", "metric", "feature", "value", "baseline_version",
                   "config_hash", "run_id"]
    elif args.audit_command == "incidents":
        rows = store.incidents(model=args.model, status=args.status, limit=args.limit)
        columns = list(rows[0]) if rows else ["id"]
    else:
        rows = store.decisions(**filters)
        columns = list(rows[0]) if rows else ["id"]
    _print_rows(rows, args.json, columns)
    return 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from drift_pipeline.lib.datasets import bundle

    for path, digest in bundle(Path(args.shared), project.PROJECT_ROOT / "data").items():
        print(f"{digest}  data/{path}")
    return 0


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="drift-pipeline", description="Monitor deployed ML models for drift, with an auditable trail.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="backfill every model over its history and print a summary")
    demo.add_argument("--models", nargs="+", help="only these models (default: all configured)")
    demo.add_argument("--start", type=_date, help="first partition day (default: each model's first)")
    demo.add_argument("--end", type=_date, help="last partition day (default: each model's last)")
    demo.add_argument("--quiet", action="store_true", help="no progress bar or table")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON")
    demo.set_defaults(func=cmd_demo)

    report = sub.add_parser("report", help="render one partition's Evidently report on demand")
    report.add_argument("model")
    report.add_argument("partition")
    report.set_defaults(func=cmd_report)

    compare = sub.add_parser("compare", help="compare two parquet/CSV files without Dagster")
    compare.add_argument("--reference", required=True)
    compare.add_argument("--current", required=True)
    compare.add_argument("--schema", help="YAML schema (the schema: list of config/models/*.yaml)")
    compare.add_argument("--json", help="write per-feature results as JSON")
    compare.add_argument("--html", help="write a one-page HTML table")
    compare.add_argument("--config", default=str(project.PROJECT_ROOT / "config"), help="folder with policy.yaml")
    compare.set_defaults(func=cmd_compare)

    bench = sub.add_parser("bench", help="benchmarks: speed/memory vs peers, or detection quality")
    bench.add_argument("which", choices=["drift", "detection"])
    bench.add_argument("--rows", type=int, default=1_000_000, help="rows per side (drift)")
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--json", help="also write the results as JSON here")
    bench.add_argument("--quick", action="store_true", help="detection: a few repetitions only (smoke run)")
    bench.add_argument("--no-evidently", action="store_true", help="drift: skip the (slow) Evidently peer")
    bench.add_argument("--quiet", action="store_true")
    bench.set_defaults(func=cmd_bench)

    audit = sub.add_parser("audit", help="read-only access to the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain (edits, deletions, reordering, truncation)")
    verify.add_argument("--expected-head", help="a head hash exported earlier (detects truncation)")
    verify.add_argument("--json", action="store_true")
    trace = audit_sub.add_parser("trace", help="an alert's lineage down to input files and config")
    trace.add_argument("alert_id", type=int)
    for name in ("alerts", "incidents", "decisions"):
        listing = audit_sub.add_parser(name, help=f"list {name}")
        listing.add_argument("--model")
        listing.add_argument("--since", help="ISO date/time, inclusive")
        listing.add_argument("--until", help="ISO date/time, exclusive")
        listing.add_argument("--limit", type=int)
        listing.add_argument("--json", action="store_true")
        if name == "alerts":
            listing.add_argument("--severity", choices=["INFO", "WARNING", "CRITICAL"])
            listing.add_argument("--partition")
        if name == "incidents":
            listing.add_argument("--status")
    audit.set_defaults(func=cmd_audit)

    bundle = sub.add_parser("bundle-data", help="rebuild data/ from the public datasets in shared/data")
    bundle.add_argument("--shared", default=str(project.PROJECT_ROOT.parent / "shared" / "data"))
    bundle.set_defaults(func=cmd_bundle)
    from drift_pipeline import commands_ops
    from drift_pipeline.lib import decision_seed

    decision_seed.register(sub)  # decisions seed
    commands_ops.register(sub)  # incident, suppress
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    from drift_pipeline.lib.config import ConfigError
    from drift_pipeline.lib.sources import DataError

    errors: list[type[BaseException]] = [ConfigError, DataError, ValueError, FileNotFoundError, PermissionError]
    # Every project error (AuditError, CompareError, DriftInputError) is a ValueError.
    return tuple(errors)


def main(argv: list[str] | None = None) -> int:
    # Gradient boosting and numpy use OpenMP/BLAS threads; on a busy 2-core machine with one
    # process per model, more threads than cores only thrash. Set before those libraries load.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _known_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
