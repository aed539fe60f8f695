"""How long a rebuild takes: a history of runs on the local cloud, then `{"mode": "rebuild"}`, timed state by state.

    .venv/bin/python -m bench.rebuild --scale 10000 --runs 1          # the history of `make run`
    .venv/bin/python -m bench.rebuild --scale 1000000 --runs 100      # a large full load and 100 incremental runs

Starts a throwaway local cloud (PostgreSQL seeded at `--scale` sales orders, moto, the synthesized stack), runs a full
load and `--runs` incremental runs, each after `--activity`-sized business activity (the default: what `make run`
simulates, about 570 changed rows), then one rebuild in steps of `--step-runs`, and prints the history, the rebuild's
time end to end and per state (the loop's states summed), runs and rows per second, and whether the rebuilt warehouse
equals the one the runs built, row for row. It is a benchmark: it exits 1 only if an execution failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from analytics.snapshot import star_contents
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.rebuild import DEFAULT_STEP_RUNS
from local.cloud import LocalCloud, UpOptions
from local.deploy import NO_SAFETY_LAG
from local.simulate import Activity, simulate
from ops.executions import ExecutionOutcome, rebuild_input

MAKE_RUN_ACTIVITY = Activity()  # what `make run` simulates between its two runs


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _quiet(message: str) -> None:
    del message


def run_rebuild_bench(scale: int, runs: int, *, step_runs: int = DEFAULT_STEP_RUNS,
                      activity: Activity = MAKE_RUN_ACTIVITY, directory: Path | None = None,
                      synthesized: tuple[Path, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The figures of one history and its rebuild."""
    cloud = LocalCloud(directory=directory, progress=_quiet)
    history: list[ExecutionOutcome] = []
    try:
        state = cloud.up(UpOptions(scale=scale, overrides=dict(NO_SAFETY_LAG), synthesized=synthesized))
        source, warehouse = (DatabaseCredentials.from_url(url) for url in (state.source_url, state.warehouse_url))
        started = time.monotonic()
        history.append(cloud.execute())
        _progress(f"full load: {history[0].status} in {history[0].seconds:.1f}s")
        for index in range(runs):
            simulate(source, activity)
            history.append(cloud.execute())
            if (index + 1) % 10 == 0 or index + 1 == runs:
                _progress(f"incremental runs: {index + 1} of {runs}")
        history_seconds = time.monotonic() - started
        before = star_contents(warehouse, state.warehouse_schema, ledger=True)
        rebuild = cloud.execute(payload=rebuild_input(step_runs))
        equal = star_contents(warehouse, state.warehouse_schema, ledger=True) == before
    finally:
        cloud.down()
    rows = sum(sum(outcome.loaded.values()) for outcome in history)
    seconds = rebuild.execution_seconds or rebuild.seconds
    succeeded = sum(1 for outcome in history if outcome.succeeded)
    return {
        "scale": scale, "incremental_runs": runs, "step_runs": step_runs,
        "history": {"runs": succeeded, "failed": len(history) - succeeded, "rows_loaded": rows,
                    "seconds": round(history_seconds, 1)},
        "rebuild": {"status": rebuild.status, "seconds": seconds, "state_seconds": rebuild.state_seconds,
                    "progress": rebuild.progress,
                    "runs_per_second": round(len(history) / seconds, 2) if seconds else None,
                    "rows_per_second": round(rows / seconds) if seconds else None, "equal_row_for_row": equal,
                    "error": rebuild.error},
    }


def render(result: dict[str, Any]) -> str:
    history, rebuild = result["history"], result["rebuild"]
    lines = [f"Onyx rebuild bench: scale {result['scale']:,}, a full load and {result['incremental_runs']} incremental "
             f"runs, rebuilt in steps of {result['step_runs']}",
             f"  history      {history['runs']} runs, {history['rows_loaded']:,} rows loaded, {history['seconds']}s",
             f"  rebuild      {rebuild['status']} in {rebuild['seconds']:.1f}s — {rebuild['progress']}",
             f"  throughput   {rebuild['runs_per_second']} runs/s, {rebuild['rows_per_second']:,} rows/s",
             "  row for row  " + ("equal to the warehouse the runs built" if rebuild["equal_row_for_row"]
                                  else "DIFFERENT from the warehouse the runs built"),
             "  per state (the loop's summed):"]
    lines += [f"    {state:<16} {seconds:8.1f}s" for state, seconds in rebuild["state_seconds"].items()]
    if rebuild["error"]:
        lines.append(f"  error        {rebuild['error']}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.rebuild", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=int, default=10_000, help="sales orders of the generated source (10000)")
    parser.add_argument("--runs", type=int, default=1, help="incremental runs after the full load (1: make run's)")
    parser.add_argument("--step-runs", type=int, default=DEFAULT_STEP_RUNS, help="runs per rebuild step")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = parser.parse_args(argv)
    if args.scale < 1 or args.runs < 0 or args.step_runs < 1:
        parser.error("--scale and --step-runs must be 1 or more, --runs 0 or more")
    result = run_rebuild_bench(args.scale, args.runs, step_runs=args.step_runs)
    print(json.dumps(result) if args.json else render(result))
    return 0 if result["rebuild"]["status"] == "SUCCEEDED" and not result["history"]["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
