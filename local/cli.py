"""`python -m local ...`: the local cloud's command line (docs/design.md section 6)."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import DatabaseTlsError
from local.seed.load import SeedError, seed_from_jsonl, seed_generated
from ops import commands as ops_commands
from ops.cli import (
    add_execute_arguments,
    add_report_arguments,
    add_smoke_arguments,
    add_validate_arguments,
    database_url,
    execution_input,
    selection_of,
)
from ops.commands import summary_line

LOCAL_DEFAULT = "the running local cloud's"


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    seed = commands.add_parser("seed", help="fill a Totesys source database (generated data or a JSON Lines dump)")
    seed.add_argument("--url", type=database_url, required=True, help="postgresql://user:password@host:port/dbname")
    source = seed.add_mutually_exclusive_group()
    source.add_argument("--scale", type=_positive, default=10_000, help="sales orders to generate (default 10000)")
    source.add_argument("--from-jsonl", type=Path, metavar="DIR", help="load <table>.jsonl dumps from DIR instead")
    seed.add_argument("--seed", type=int, default=1, help="random seed: the same seed gives the same data")
    seed.add_argument("--reset", action="store_true", help="drop and recreate the Totesys tables first")

    up = commands.add_parser("up", help="start the databases and local AWS, deploy the synthesized stack")
    _up_arguments(up)
    up.add_argument("--detach", action="store_true", help="run in the background; stop it with `down`")
    up.add_argument("--no-schedule", action="store_true", help="do not start executions at the configured rate")
    up.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the detached process itself

    execute = commands.add_parser("execute", help="start one execution, follow it, print its outcome")
    add_execute_arguments(execute)

    simulate = commands.add_parser("simulate", help="business activity in the source database")
    _activity_arguments(simulate)
    simulate.add_argument("--url", type=database_url, help="the source (default: the running local cloud's)")

    # The same commands as `python -m ops`, on the local cloud only.
    validate = commands.add_parser("validate", help="check the warehouse and reconcile it with the source")
    add_validate_arguments(validate, default=LOCAL_DEFAULT)

    report = commands.add_parser("report", help="write the analytics report (one self-contained HTML file)")
    add_report_arguments(report, default=LOCAL_DEFAULT)

    smoke = commands.add_parser("smoke", help="the smoke check of a deployment (a run, the views, what is left to "
                                              "do), on the local cloud")
    add_smoke_arguments(smoke)

    commands.add_parser("down", help="stop what `up` started")

    run = commands.add_parser("run", help="up, execute, simulate, execute, report, down (what `make run` does)")
    _up_arguments(run)
    _activity_arguments(run)
    run.add_argument("--report", type=Path, default=Path("reports/onyx-report.html"), help="where the report goes")
    return parser


def _up_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source-url", help="use this Totesys database as it is (nothing seeded)")
    parser.add_argument("--warehouse-url", help="use this warehouse database (its schema is applied)")
    parser.add_argument("--rds-secrets", action="store_true",
                        help="write the database secrets as RDS manages them (username and password only) and deploy "
                             "with each database's host, port, name and sslmode as settings (sourceHost, ...)")
    parser.add_argument("--scale", type=_positive, default=10_000, help="sales orders to generate (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the generated data")
    parser.add_argument("-c", "--context", action="append", default=[], metavar="KEY=VALUE",
                        help="override a cdk.json context value for this deployment (repeatable)")


def _activity_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--orders", type=_count, default=100, help="new sales orders (default 100)")
    parser.add_argument("--purchases", type=_count, default=40, help="new purchase orders (default 40)")
    parser.add_argument("--amend", type=_count, default=50, help="sales orders amended (default 50)")
    parser.add_argument("--pay", type=_count, default=50, help="payments made (default 50)")
    parser.add_argument("--address-changes", type=_count, default=1, help="addresses changed (default 1)")
    parser.add_argument("--department-changes", type=_count, default=1, help="departments changed (default 1)")


def _activity(args: argparse.Namespace) -> Any:
    from local.simulate import Activity

    return Activity(new_sales_orders=args.orders, new_purchase_orders=args.purchases, amended_orders=args.amend,
                    payments_made=args.pay, address_changes=args.address_changes,
                    department_changes=args.department_changes)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`, so everything is stopped


def _up_options(args: argparse.Namespace) -> Any:
    from local.cloud import UpOptions
    from local.deploy import parse_overrides

    return UpOptions(source_url=args.source_url, warehouse_url=args.warehouse_url, scale=args.scale,
                     seed=args.seed, overrides=parse_overrides(args.context), rds_secrets=args.rds_secrets)


def cmd_up(args: argparse.Namespace) -> int:
    from local.cloud import LocalCloud, given_databases
    from local.state import state_dir

    if args.detach and not args.serve:
        given_databases(_up_options(args))  # a database that cannot be used is named here, not in the child's log
        return _detach(args)
    signal.signal(signal.SIGTERM, _on_sigterm)
    cloud = LocalCloud(progress=_progress)
    try:
        state = cloud.up(_up_options(args))
        if not args.no_schedule:
            cloud.start_schedule(lambda outcome: _progress(summary_line(outcome)))
        _progress(f"\nlocal cloud up. AWS endpoint {state.endpoint_url}; state in {state_dir()}\n"
                  "  python -m local execute      run the pipeline once\n"
                  "  python -m local down         stop everything"
                  + ("" if args.serve else "\n(Ctrl-C stops it)"))
        cloud.wait_until_stopped()
    except KeyboardInterrupt:
        _progress("stopping")
    finally:
        cloud.down()
    return 0


def _detach(args: argparse.Namespace) -> int:
    from local.state import state_dir

    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "state.json").exists():
        print(f"error: a local cloud already runs from {directory}; stop it with `python -m local down`",
              file=sys.stderr)
        return 1
    argv = [a for a in sys.argv[1:] if a != "--detach"] + ["--serve"]
    log_path = directory / "up.log"
    with open(log_path, "wb") as log:
        child = subprocess.Popen([sys.executable, "-m", "local", *argv], stdout=log, stderr=log,
                                 stdin=subprocess.DEVNULL, start_new_session=True, cwd=os.getcwd())
    while not (directory / "state.json").exists():
        if child.poll() is not None:
            print(log_path.read_text(errors="replace")[-3000:], file=sys.stderr)
            print(f"error: the local cloud did not start (log: {log_path})", file=sys.stderr)
            return 1
        time.sleep(0.3)
    _progress(f"local cloud running in the background (pid {child.pid}, log {log_path}); "
              "stop it with `python -m local down`")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from local.state import CloudState, state_dir

    directory = state_dir()
    try:
        state = CloudState.load(directory)
    except FileNotFoundError as exc:
        print(f"nothing to stop: {exc}", file=sys.stderr)
        return 0
    try:
        os.kill(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while _alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    except ProcessLookupError:
        pass
    # A cloud that died without cleaning up leaves its PostgreSQL to us.
    if state.postgres_pid and _alive(state.postgres_pid):
        os.kill(state.postgres_pid, signal.SIGINT)
    (directory / "state.json").unlink(missing_ok=True)
    _progress("local cloud stopped")
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own detached child not yet reaped) counts as gone.
    try:
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False


def cmd_execute(args: argparse.Namespace) -> int:
    return ops_commands.execute(selection_of(args, alternatives=()), as_json=args.json, run_id=args.run_id,
                                payload=execution_input(args))


def cmd_simulate(args: argparse.Namespace) -> int:
    from local.simulate import simulate
    from local.state import CloudState, state_dir

    url = args.url or DatabaseCredentials.from_url(CloudState.load(state_dir()).source_url)
    counts = simulate(url, _activity(args))
    print("simulated: " + ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()))
    return 0


def _validate(source: DatabaseCredentials | None, warehouse: DatabaseCredentials, schema: str,
              tolerance: float = 1800.0) -> bool:
    from analytics.validate import validate_warehouse

    report = validate_warehouse(source, warehouse, schema, freshness_tolerance_seconds=tolerance)
    print(report)
    return bool(report.ok)


def cmd_validate(args: argparse.Namespace) -> int:
    return ops_commands.validate(selection_of(args, alternatives=()), no_source=args.no_source,
                                 tolerance=args.tolerance)


def cmd_report(args: argparse.Namespace) -> int:
    return ops_commands.report(selection_of(args, alternatives=()), args.out)


def cmd_smoke(args: argparse.Namespace) -> int:
    return ops_commands.smoke(selection_of(args, alternatives=()), as_json=args.json, run_id=args.run_id,
                              policy=args.policy)


def cmd_run(args: argparse.Namespace) -> int:
    from local.cloud import LocalCloud
    from local.deploy import NO_SAFETY_LAG
    from local.simulate import simulate

    signal.signal(signal.SIGTERM, _on_sigterm)
    started = time.monotonic()
    cloud = LocalCloud(progress=_progress)
    outcomes = []
    options = _up_options(args)
    # The activity is committed before the incremental run starts, so no safety lag is needed to show
    # it moving (in-flight transactions still bound the window); -c safetyLagSeconds=N overrides.
    options.overrides = {**NO_SAFETY_LAG, **options.overrides}
    try:
        state = cloud.up(options)
        _progress("\n== full load")
        outcomes.append(cloud.execute())
        _progress("\n== business activity in Totesys")
        counts = simulate(DatabaseCredentials.from_url(state.source_url), _activity(args))
        _progress("  " + ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in counts.items()))
        _progress("\n== incremental run")
        outcomes.append(cloud.execute())
        # Checked and reported before `down`, which stops the throwaway databases.
        _progress("\n== validation")
        source, warehouse = (DatabaseCredentials.from_url(u) for u in (state.source_url, state.warehouse_url))
        valid = _validate(source, warehouse, state.warehouse_schema)
        from analytics.report import write_report

        report = write_report(warehouse, state.warehouse_schema, args.report)
    finally:
        cloud.down()
    print("\nOnyx local run")
    for label, outcome in zip(("full load", "incremental"), outcomes, strict=False):
        print(f"  {label:<12} {summary_line(outcome)}")
    print(f"  warehouse    {'valid' if valid else 'INVALID: see the checks above'}")
    print(f"  report       {report.resolve()}")
    print(f"  total {time.monotonic() - started:.0f}s")
    return 0 if valid and all(o.succeeded for o in outcomes) else 1


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "seed":
            if args.from_jsonl is not None:
                seed_from_jsonl(args.url, args.from_jsonl, reset=args.reset, progress=_progress)
            else:
                seed_generated(args.url, args.scale, args.seed, reset=args.reset, progress=_progress)
            return 0
        handlers = {"up": cmd_up, "down": cmd_down, "execute": cmd_execute, "simulate": cmd_simulate,
                    "validate": cmd_validate, "report": cmd_report, "smoke": cmd_smoke, "run": cmd_run}
        return handlers[args.command](args)
    except (SeedError, FileNotFoundError, ValueError, RuntimeError, DatabaseTlsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
