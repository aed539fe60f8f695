"""Transform Lambda: the run's JSON Lines -> the star schema as Parquet. Thin: env, event, one domain call."""

from __future__ import annotations

from typing import Any, Literal

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from lambdas.shared.constants import Env, RebuildMetrics, RowMetrics
from lambdas.shared.handler_models import StageEnvironment, StageEvent
from lambdas.shared.observability import logger, metrics, rows_per_table, stage_handler
from lambdas.shared.rebuild import RebuildCursor, progress_text
from lambdas.transform.rebuild_steps import transform_runs
from lambdas.transform.runner import run_transform


class TransformEnvironment(StageEnvironment):
    ingestion_bucket: str = Field(validation_alias=Env.INGESTION_BUCKET, min_length=1)
    processed_bucket: str = Field(validation_alias=Env.PROCESSED_BUCKET, min_length=1)


class TransformEvent(StageEvent):
    """The Extract state's output (`has_changes`, `extracted` are ignored)."""

    manifest_key: str = Field(min_length=1)


class TransformRunsEvent(StageEvent):
    """A rebuild's transform step: its cursor (`run_id` is the rebuild's id, for the logs)."""

    action: Literal["transform_runs"]
    cursor: RebuildCursor


@stage_handler("transform")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = TransformEnvironment.from_environ()
    if event.get("action") is not None:
        step = TransformRunsEvent.model_validate(event)
        cursor = transform_runs(boto3.client("s3"), env.ingestion_bucket, env.processed_bucket, step.cursor,
                                context.get_remaining_time_in_millis)
        metrics.add_metric(name=RebuildMetrics.TRANSFORMED, unit=MetricUnit.Count,
                           value=cursor.transformed - step.cursor.transformed)
        logger.info("rebuild step transformed", extra={"progress": progress_text(cursor)})
        return cursor.payload()
    request = TransformEvent.model_validate(event)
    result = run_transform(boto3.client("s3"), env.ingestion_bucket, env.processed_bucket, request.run_id,
                           request.manifest_key)
    rows_per_table(RowMetrics.TRANSFORMED, result["transformed"])
    metrics.add_metric(name="RunsTransformed", unit=MetricUnit.Count, value=1)
    logger.info("transformed", extra={"transformed": result["transformed"]})
    return result
