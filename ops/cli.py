"""`python -m ops COMMAND`: operate Onyx on the local cloud running here, or on a deployed stack (--stack).

  python -m ops validate                      the local cloud's warehouse, checked and reconciled with its source
  python -m ops report --stack Onyx-prod      the production warehouse's report (AWS credentials as usual)
  python -m ops execute --stack Onyx-dev      start one execution on AWS and follow it state by state
  python -m ops status --stack Onyx-dev       the last executions
  python -m ops smoke --stack Onyx-dev        after `cdk deploy`: one run, the views, and what is left to do
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pg8000.exceptions
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import DatabaseTlsError
from ops import commands
from ops.targets import Selection

STACK_HINT = "--stack Onyx-<env>"


def database_url(text: str) -> DatabaseCredentials:
    """argparse type of a PostgreSQL URL option: the credentials, or a usage error naming what is wrong."""
    try:
        return DatabaseCredentials.from_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return int(text)


def add_validate_arguments(parser: argparse.ArgumentParser, default: str = "the target's") -> None:
    parser.add_argument("--source-url", type=database_url, help=f"the source (default: {default})")
    parser.add_argument("--warehouse-url", type=database_url, help=f"the warehouse (default: {default})")
    parser.add_argument("--schema", help=f"warehouse schema (default: {default}, or public)")
    parser.add_argument("--no-source", action="store_true", help="skip the checks that need the source")
    parser.add_argument("--tolerance", type=float, default=1800.0, metavar="SECONDS",
                        help="how far the warehouse may trail the source (default 1800)")


def add_report_arguments(parser: argparse.ArgumentParser, default: str = "the target's") -> None:
    parser.add_argument("--out", type=Path, default=Path("reports/onyx-report.html"), help="where it goes")
    parser.add_argument("--warehouse-url", type=database_url, help=f"the warehouse (default: {default})")
    parser.add_argument("--schema", help=f"warehouse schema (default: {default}, or public)")


def add_execute_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--run-id", help="the execution name (default: run-<UTC time>-<random>, rebuild-..., "
                                         "replay-...)")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--rebuild", action="store_true",
                      help="recompute the warehouse from every committed run of the lake and swap it in at the end "
                           "(docs/operations.md)")
    what.add_argument("--replay", metavar="RUN_ID",
                      help="transform and load one extracted run again (a loaded run: nothing changes)")
    parser.add_argument("--step-runs", type=_positive, metavar="N",
                        help="with --rebuild: runs per step (default 200)")


def add_smoke_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--run-id", help="the execution name (default: run-<UTC time>-<random>)")
    parser.add_argument("--policy", action="store_true",
                        help="print the IAM policy the check needs (for the operator's role) and check nothing")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    target = argparse.ArgumentParser(add_help=False)
    where = target.add_argument_group("target (default: the local cloud running here)")
    where.add_argument("--stack", metavar="Onyx-<env>", help="a deployed stack, found with your AWS credentials")
    where.add_argument("--region", help="the stack's region (default: AWS_REGION or your profile's)")
    where.add_argument("--profile", help="the AWS profile to use (default: AWS_PROFILE or the default one)")
    commands_ = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands_.add_parser("validate", parents=[target],
                                    help="check the warehouse and reconcile it with the source")
    add_validate_arguments(validate)
    report = commands_.add_parser("report", parents=[target],
                                  help="write the analytics report (one self-contained HTML file)")
    add_report_arguments(report)
    execute = commands_.add_parser("execute", parents=[target],
                                   help="start one execution, follow it, print its outcome")
    add_execute_arguments(execute)
    status = commands_.add_parser("status", parents=[target], help="the last executions, newest first")
    status.add_argument("--last", type=_positive, default=10, metavar="N", help="how many (default 10)")
    status.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    smoke = commands_.add_parser("smoke", parents=[target],
                                 help="after `cdk deploy`: one run, the views from inside AWS, and what a person "
                                      "must still do")
    add_smoke_arguments(smoke)
    return parser


def execution_input(args: argparse.Namespace) -> dict[str, Any] | None:
    """What `execute` asks the pipeline for: a run (None), a rebuild, or a replay."""
    from ops.executions import rebuild_input, replay_input

    if args.step_runs is not None and not args.rebuild:
        raise ValueError("--step-runs goes with --rebuild")
    if args.rebuild:
        return rebuild_input(args.step_runs)
    if args.replay is not None:
        return replay_input(args.replay)
    return None


def selection_of(args: argparse.Namespace, alternatives: Sequence[str] = (STACK_HINT,)) -> Selection:
    return Selection(stack=getattr(args, "stack", None), region=getattr(args, "region", None),
                     profile=getattr(args, "profile", None), warehouse_url=getattr(args, "warehouse_url", None),
                     source_url=getattr(args, "source_url", None), schema=getattr(args, "schema", None),
                     alternatives=list(alternatives))


def _database_error(exc: pg8000.exceptions.Error) -> str:
    # A server error carries PostgreSQL's fields ({'S': 'FATAL', 'M': 'password authentication failed ...'}).
    fields = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else None
    return f"database: {fields.get('M', fields) if fields else exc}"


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    selection = selection_of(args)
    try:
        if args.command == "validate":
            return commands.validate(selection, no_source=args.no_source, tolerance=args.tolerance)
        if args.command == "report":
            return commands.report(selection, args.out)
        if args.command == "execute":
            return commands.execute(selection, as_json=args.json, run_id=args.run_id, payload=execution_input(args))
        if args.command == "smoke":
            return commands.smoke(selection, as_json=args.json, run_id=args.run_id, policy=args.policy)
        return commands.status(selection, last=args.last, as_json=args.json)
    except (RuntimeError, ValueError, OSError, DatabaseTlsError) as exc:  # TargetError is a RuntimeError
        print(f"error: {exc}", file=sys.stderr)
    except (BotoCoreError, ClientError) as exc:
        print(f"error: AWS: {exc}", file=sys.stderr)
    except pg8000.exceptions.Error as exc:
        print(f"error: {_database_error(exc)}", file=sys.stderr)
    return 1
