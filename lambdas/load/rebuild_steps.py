"""A rebuild's warehouse steps: a fresh schema beside the live one, the plan's runs loaded into it with the very
code a pipeline run loads with, and at the end the swap that puts it in the live one's place in one transaction
(lambdas/load/rebuild_schema.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

import pg8000.native

from lambdas.load.rebuild_schema import prepare_rebuild_schema, rebuild_schema_name, swap_in
from lambdas.load.runner import connect, run_load
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.layout import transform_manifest_key
from lambdas.shared.observability import logger
from lambdas.shared.rebuild import RebuildCursor, StepBudget, read_plan


@contextmanager
def _connected(credentials: DatabaseCredentials) -> Iterator[pg8000.native.Connection]:
    """A connection for one step (connect's failures are WarehouseUnavailable; so are the server's and the network's
    trouble inside prepare_rebuild_schema, run_load's transaction and swap_in, each naming what it was doing)."""
    conn = connect(credentials)
    try:
        yield conn
    finally:
        with contextlib.suppress(Exception):  # closing a dead connection has nothing left to do
            conn.close()


def prepare(credentials: DatabaseCredentials, schema: str) -> dict[str, Any]:
    """The rebuild's schema, made fresh (a failed rebuild's leftover dropped) once the live one may be swapped."""
    with _connected(credentials) as conn:
        return asdict(prepare_rebuild_schema(conn, schema))


def load_runs(credentials: DatabaseCredentials, s3: Any, processed_bucket: str, schema: str, *, cursor: RebuildCursor,
              remaining_ms: Callable[[], int]) -> RebuildCursor:
    """Load the transformed runs from `cursor.loaded` on into the rebuild's schema, each in its own transaction
    (a run already in that schema's ledger is skipped), while the step's budget allows; the moved cursor."""
    plan = read_plan(s3, processed_bucket, cursor)
    budget = StepBudget(remaining_ms, cursor.step_runs)
    target = rebuild_schema_name(schema)
    position = cursor.loaded
    with _connected(credentials) as conn:
        while position < cursor.transformed and budget.allows_another():
            run_id = plan.runs[position].run_id
            result = run_load(conn, s3, processed_bucket, target, cursor.prefix + transform_manifest_key(run_id),
                              run_id=run_id)
            logger.info("rebuild: run loaded", extra={"position": position + 1, "of": cursor.runs,
                                                      "rebuilt_run_id": run_id, "loaded": result["loaded"]})
            budget.run_finished()
            position += 1
    return cursor.model_copy(update={"loaded": position})


def swap(credentials: DatabaseCredentials, schema: str, cursor: RebuildCursor) -> dict[str, Any]:
    """The rebuilt schema in the live one's place, in one transaction (the live one kept as the previous)."""
    with _connected(credentials) as conn:
        return asdict(swap_in(conn, schema, expected_runs=cursor.runs, planned_at=cursor.planned_at))
