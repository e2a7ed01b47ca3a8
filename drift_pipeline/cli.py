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

    return Console(quiet=quiet, highlight=False)


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
        console.print("Open the UI on the same instance (from the project root):\n"
                      f"  DAGSTER_HOME={home} dagster dev -w workspace.yaml   # then http://127.0.0.1:3000")
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
    parser = argparse.ArgumentParser(prog="drift-pipeline", description=__doc__.splitlines()[0])
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

    bundle = sub.add_parser("bundle-data", help="rebuild data/ from the public datasets in shared/data")
    bundle.add_argument("--shared", default=str(project.PROJECT_ROOT.parent / "shared" / "data"))
    bundle.set_defaults(func=cmd_bundle)
    return parser


def _known_errors() -> tuple[type[BaseException], ...]:
    from drift_pipeline.lib.config import ConfigError
    from drift_pipeline.lib.sources import DataError

    errors: list[type[BaseException]] = [ConfigError, DataError, ValueError, FileNotFoundError, PermissionError]
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
