"""A rebuild's transform step: the next runs of its plan through `run_transform`, into the rebuild's own prefix.

The very code the pipeline runs, with the rebuild's prefix of the processed bucket for the run's Parquet, its
manifest and the transform state (`rebuilds/<id>/`): the scheduled pipeline's state is never read or written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdas.shared.layout import extract_manifest_key
from lambdas.shared.observability import logger
from lambdas.shared.rebuild import RebuildCursor, StepBudget, read_plan
from lambdas.transform.runner import run_transform


def transform_runs(s3: Any, ingestion_bucket: str, processed_bucket: str, cursor: RebuildCursor,
                   remaining_ms: Callable[[], int]) -> RebuildCursor:
    """Transform the plan's runs from `cursor.transformed` on, while the step's budget allows; the moved cursor."""
    plan = read_plan(s3, processed_bucket, cursor)
    budget = StepBudget(remaining_ms, cursor.step_runs)
    position = cursor.transformed
    while position < cursor.runs and budget.allows_another():
        run_id = plan.runs[position].run_id
        result = run_transform(s3, ingestion_bucket, processed_bucket, run_id, extract_manifest_key(run_id),
                               prefix=cursor.prefix, missing_state="empty" if position == 0 else "refuse")
        logger.info("rebuild: run transformed", extra={"position": position + 1, "of": cursor.runs,
                                                       "rebuilt_run_id": run_id, "transformed": result["transformed"]})
        budget.run_finished()
        position += 1
    return cursor.model_copy(update={"transformed": position})
