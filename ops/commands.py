"""What the operator's commands do, whichever environment they target (`python -m ops`, and `python -m local`
for the local cloud). Results go to stdout, progress to stderr; each returns the process's exit status."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ops.targets import Selection

Progress = Callable[[str], None]


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def summary_line(outcome: Any) -> str:
    """One execution's outcome in a line: `run-…: SUCCEEDED in 9.1s — extracted 551 rows, loaded 561`."""
    moved = sum(outcome.loaded.values())
    if getattr(outcome, "rebuild_execution_arn", None) is not None:  # a rebuild: its progress says what it did
        line = f"{outcome.run_id}: rebuild {outcome.status} in {outcome.seconds:.1f}s — {outcome.progress or 'no step'}"
        if outcome.swapped:
            line += " — swapped in"
    else:
        line = (f"{outcome.run_id}: {outcome.status} in {outcome.seconds:.1f}s — "
                f"extracted {sum(outcome.extracted.values()):,} rows, loaded {moved:,}")
    if outcome.error:
        line += f" — {outcome.error['error']}: {outcome.error['cause']}"
    return line


def validate(selection: Selection, *, no_source: bool = False, tolerance: float = 1800.0,
             progress: Progress = to_stderr) -> int:
    """The warehouse checks and the reconciliation with the source; 0 only if no check failed."""
    from analytics.validate import validate_warehouse

    warehouse, schema = selection.warehouse(" (and --source-url)")
    source = None if no_source else selection.source()
    progress(f"validating {warehouse} (schema {schema}) against "
             f"{source if source else 'no source: the source checks are skipped'}")
    report = validate_warehouse(source, warehouse, schema, freshness_tolerance_seconds=tolerance)
    print(report)
    return 0 if report.ok else 1


def report(selection: Selection, out: Path, *, progress: Progress = to_stderr) -> int:
    """The analytics report, one self-contained HTML file."""
    from analytics.report import write_report

    warehouse, schema = selection.warehouse()
    progress(f"reporting on {warehouse} (schema {schema})")
    path = write_report(warehouse, schema, out)
    print(f"report written to {path}")
    return 0


def execute(selection: Selection, *, as_json: bool = False, run_id: str | None = None,
            payload: dict[str, Any] | None = None, progress: Progress = to_stderr) -> int:
    """Start one execution (a run, or what `payload` asks: a rebuild, a replay) and follow it state by state (a
    rebuild: to the end of the rebuild execution); 0 only if it succeeded."""
    from ops.executions import start_and_wait

    target = selection.target()
    outcome = start_and_wait(target.stepfunctions(), target.state_machine_arn(), progress, run_id, payload)
    if as_json:
        print(json.dumps(outcome.to_json()))
    else:
        print(summary_line(outcome))
        for table, rows in sorted(outcome.loaded.items()):
            print(f"  {table:<22} {rows:>10,}")
    return 0 if outcome.succeeded else 1


def status(selection: Selection, *, last: int = 10, as_json: bool = False) -> int:
    """The last executions of the state machine, newest first; 1 if the newest finished one failed."""
    target = selection.target()
    arn = target.state_machine_arn()
    executions = target.stepfunctions().list_executions(stateMachineArn=arn, maxResults=last)["executions"]
    # Newest first, as the console lists them (moto lists in creation order).
    executions.sort(key=lambda e: e["startDate"], reverse=True)
    rows = [{"run_id": e["name"], "status": e["status"], "started": e["startDate"].isoformat(timespec="seconds"),
             "seconds": round((e["stopDate"] - e["startDate"]).total_seconds(), 1) if e.get("stopDate") else None}
            for e in executions]
    if as_json:
        print(json.dumps({"target": target.description, "state_machine_arn": arn, "executions": rows}))
    else:
        print(f"{target.description}: {arn.rsplit(':', 1)[-1]}")
        if not rows:
            print("  no executions yet")
        for row in rows:
            took = f"{row['seconds']:.1f}s" if row["seconds"] is not None else "running"
            print(f"  {row['run_id']:<32} {row['status']:<10} {row['started']}  {took}")
    finished = [row for row in rows if row["status"] != "RUNNING"]
    return 1 if finished and finished[0]["status"] != "SUCCEEDED" else 0


def smoke(selection: Selection, *, as_json: bool = False, run_id: str | None = None, policy: bool = False,
          progress: Progress = to_stderr) -> int:
    """The first check after `cdk deploy` (ops/smoke.py): 1 if anything is broken; what a person must still do
    is listed (TODO) without failing. `policy`: print the IAM policy the check needs instead."""
    from ops.checklist import exit_status, render
    from ops.deployed_stack import DeployedStack
    from ops.smoke import smoke as check

    target = selection.target()
    if policy:
        stack = DeployedStack.read(target.client("cloudformation"), target.stack_name)
        print(json.dumps(stack.operator_policy(), indent=2))
        return 0
    stack, checks, outcome = check(target, run_id=run_id, progress=progress)
    status = exit_status(checks)
    if as_json:
        print(json.dumps({"target": target.description, "stack": stack.name, "ok": status == 0,
                          "checks": [c.to_json() for c in checks], "run": outcome.to_json()}))
    else:
        print("\n".join(render(f"Onyx smoke check of {target.description}", checks)))
    return status
