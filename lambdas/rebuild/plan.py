"""A rebuild's plan: every committed run of the lake, in extraction order.

Committed means the watermarks moved past the run: AdvanceWatermark wrote the run's watermark object, which it does
only once the run's load committed. A run with a manifest but no watermark object never reached the warehouse
(it failed, on bad data for instance, or is still going), and the run after it extracted its rows again: a rebuild
that replayed it would fail on the same bad row every time, or load rows twice over.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from lambdas.extract.manifest import read_manifest
from lambdas.extract.watermarks import PREFIX as WATERMARK_PREFIX
from lambdas.extract.watermarks import run_id_of
from lambdas.shared.errors import RebuildRefused
from lambdas.shared.manifests import PlannedRun, RebuildPlan
from lambdas.shared.rebuild import HISTORY_EVENT_LIMIT, history_events, plan_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Manifests read at once: a year of runs is 35,000 small GETs.
READERS = 16


def committed_run_ids(s3: S3Client, ingestion_bucket: str) -> list[str]:
    """The run id of every watermark object (`state/watermarks/<13 digits>-<run_id>.json`)."""
    run_ids = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ingestion_bucket, Prefix=WATERMARK_PREFIX):
        run_ids += [run_id for item in page.get("Contents", []) if (run_id := run_id_of(item["Key"])) is not None]
    return run_ids


def plan_rebuild(s3: S3Client, ingestion_bucket: str, rebuild_id: str, *, step_runs: int,
                 now: datetime | None = None) -> RebuildPlan:
    """The committed runs in extraction order (their extract's start, then run id); refuses an empty lake and a
    plan whose steps would not fit in one execution's history."""
    run_ids = sorted(set(committed_run_ids(s3, ingestion_bucket)))
    if not run_ids:
        raise RebuildRefused("nothing to rebuild from: the ingestion bucket holds no committed run (no object under "
                             f"{WATERMARK_PREFIX}); run the pipeline first")
    # Before reading a manifest: a plan that cannot run is refused in a second, not after 35,000 GETs.
    events = history_events(len(run_ids), step_runs)
    if events > HISTORY_EVENT_LIMIT:
        raise RebuildRefused(f"{len(run_ids):,} runs in steps of {step_runs} would write about {events:,} history "
                             f"events, more than the {HISTORY_EVENT_LIMIT:,} one execution may have: start the rebuild "
                             "with a larger step_runs")
    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="plan") as pool:
        manifests = list(pool.map(lambda run_id: read_manifest(s3, ingestion_bucket, run_id), run_ids))
    missing = [run_id for run_id, manifest in zip(run_ids, manifests, strict=True) if manifest is None]
    if missing:
        raise RebuildRefused(f"committed runs without an extract manifest: {', '.join(missing[:10])}"
                             f"{' ...' if len(missing) > 10 else ''} (was runs/<run_id>/extract.json deleted?)")
    runs = sorted((PlannedRun(run_id=m.run_id, started_at=m.started_at) for m in manifests if m is not None),
                  key=lambda run: (datetime.fromisoformat(run.started_at), run.run_id))
    at = now or datetime.now(UTC)
    return RebuildPlan(rebuild_id=rebuild_id, planned_at=at.isoformat(timespec="milliseconds"), runs=tuple(runs))


def store_plan(s3: S3Client, processed_bucket: str, plan: RebuildPlan) -> str:
    key = plan_key(plan.rebuild_id)
    s3.put_object(Bucket=processed_bucket, Key=key, Body=plan.to_json(), ContentType="application/json")
    return key
