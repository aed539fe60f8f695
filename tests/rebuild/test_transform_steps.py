"""A rebuild's transform steps: the plan's runs through the pipeline's own transform, in bounded steps, into the
rebuild's prefix; the scheduled pipeline's state and files untouched."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from lambdas.extract.watermarks import advance_watermarks
from lambdas.rebuild.plan import plan_rebuild, store_plan
from lambdas.shared.errors import InvalidData
from lambdas.shared.rebuild import RebuildCursor
from lambdas.transform.rebuild_steps import transform_runs
from lambdas.transform.runner import run_transform
from lambdas.transform.state import STATE_COLUMNS
from tests.transform.runs import address, counterparty, first_run, put_run, sales_order

AMENDED = "2024-02-01T10:00:00.000"
RUNS = {
    "run-a": ("2026-11-25T10:00:00.000Z", first_run()),
    "run-b": ("2026-11-25T10:15:00.000Z", {"address": [address(1, city="Bradford", updated=AMENDED)],
                                           "sales_order": [sales_order(1, updated=AMENDED, units_sold=5)]}),
    "run-c": ("2026-11-25T10:30:00.000Z", {"counterparty": [counterparty(3, "Kohler Group", 2, updated=AMENDED)]}),
}
PLENTY_MS = 900_000


def _lake(aws, *, as_the_pipeline: bool = False) -> None:
    """The runs, committed; `as_the_pipeline`: each transformed by the pipeline's own transform as it came."""
    for run_id, (started_at, rows) in RUNS.items():
        put_run(aws, run_id, rows, started_at=started_at)
        if as_the_pipeline:
            run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, run_id, f"runs/{run_id}/extract.json")
        advance_watermarks(aws.s3, aws.ingestion_bucket, run_id, {"address": started_at[:23]})


def _cursor(aws, rebuild_id: str = "rebuild-1", step_runs: int = 2) -> RebuildCursor:
    plan = plan_rebuild(aws.s3, aws.ingestion_bucket, rebuild_id, step_runs=step_runs)
    assert store_plan(aws.s3, aws.processed_bucket, plan) == f"rebuilds/{rebuild_id}/plan.json"
    return RebuildCursor(rebuild_id=rebuild_id,
                         planned_at=plan.planned_at, runs=len(plan.runs), transformed=0, loaded=0,
                         step_runs=step_runs)


def _parquet(aws, key: str) -> list[dict]:
    return pq.read_table(io.BytesIO(aws.read(aws.processed_bucket, key))).to_pylist()


def test_steps_of_two_transform_three_runs_into_the_rebuilds_prefix_as_the_pipeline_did(aws):
    _lake(aws, as_the_pipeline=True)
    pipelines = {key: aws.read(aws.processed_bucket, key) for key in aws.keys(aws.processed_bucket, "")}
    cursor = _cursor(aws)

    first = transform_runs(aws.s3, aws.ingestion_bucket, aws.processed_bucket, cursor, lambda: PLENTY_MS)
    assert (first.transformed, first.loaded) == (2, 0)
    second = transform_runs(aws.s3, aws.ingestion_bucket, aws.processed_bucket, first, lambda: PLENTY_MS)
    assert (second.transformed, second.loaded) == (3, 0)
    # A step given a cursor at the end does nothing.
    assert transform_runs(aws.s3, aws.ingestion_bucket, aws.processed_bucket, second, lambda: PLENTY_MS) == second

    # The pipeline's own files and state: untouched.
    assert {key: aws.read(aws.processed_bucket, key) for key in aws.keys(aws.processed_bucket, "")
            if not key.startswith("rebuilds/")} == pipelines
    # What the pipeline's transform wrote run by run at the bucket's root: the same Parquet, the same state.
    rebuilt = [key for key in aws.keys(aws.processed_bucket, "rebuilds/rebuild-1/")
               if key.endswith(".parquet") and "/state/" not in key]
    assert len(rebuilt) > len(RUNS)
    for key in rebuilt:
        assert _parquet(aws, key) == _parquet(aws, key.removeprefix("rebuilds/rebuild-1/")), key
    for table in STATE_COLUMNS:
        assert _parquet(aws, f"rebuilds/rebuild-1/state/{table}.parquet") == _parquet(aws, f"state/{table}.parquet")


def test_a_step_redone_from_its_cursor_skips_what_it_had_done(aws):
    _lake(aws)
    cursor = _cursor(aws, step_runs=3)
    done = transform_runs(aws.s3, aws.ingestion_bucket, aws.processed_bucket, cursor, lambda: PLENTY_MS)
    before = {key: aws.read(aws.processed_bucket, key) for key in aws.keys(aws.processed_bucket, "rebuilds/")}

    again = transform_runs(aws.s3, aws.ingestion_bucket, aws.processed_bucket, cursor, lambda: PLENTY_MS)

    assert again == done
    assert {key: aws.read(aws.processed_bucket, key) for key in aws.keys(aws.processed_bucket, "rebuilds/")} == before


def test_a_step_short_of_time_stops_after_one_run(aws):
    _lake(aws)
    cursor = _cursor(aws, step_runs=3)
    assert transform_runs(aws.s3, aws.ingestion_bucket, aws.processed_bucket, cursor, lambda: 1_000).transformed == 1


def test_a_state_lost_in_the_middle_of_a_rebuild_is_refused_not_rebuilt_from_every_manifest(aws):
    _lake(aws)
    cursor = transform_runs(aws.s3, aws.ingestion_bucket, aws.processed_bucket, _cursor(aws, step_runs=1),
                            lambda: PLENTY_MS)
    aws.s3.delete_object(Bucket=aws.processed_bucket, Key="rebuilds/rebuild-1/state/address.parquet")

    with pytest.raises(InvalidData, match=r"^transform state rebuilds/rebuild-1/state/: is missing in the middle of "
                                          r"a rebuild$"):
        transform_runs(aws.s3, aws.ingestion_bucket, aws.processed_bucket, cursor, lambda: PLENTY_MS)
