"""Transform Lambda: the run's JSON Lines -> the star schema as Parquet. Thin: env, event, one domain call."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from lambdas.shared.constants import Env, RowMetrics
from lambdas.shared.handler_models import StageEnvironment, StageEvent
from lambdas.shared.observability import logger, metrics, rows_per_table, stage_handler
from lambdas.transform.runner import run_transform


class TransformEnvironment(StageEnvironment):
    ingestion_bucket: str = Field(validation_alias=Env.INGESTION_BUCKET, min_length=1)
    processed_bucket: str = Field(validation_alias=Env.PROCESSED_BUCKET, min_length=1)


class TransformEvent(StageEvent):
    """The Extract state's output (`has_changes`, `extracted` are ignored)."""

    manifest_key: str = Field(min_length=1)


@stage_handler("transform")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = TransformEnvironment.from_environ()
    request = TransformEvent.model_validate(event)
    result = run_transform(boto3.client("s3"), env.ingestion_bucket, env.processed_bucket, request.run_id,
                           request.manifest_key)
    rows_per_table(RowMetrics.TRANSFORMED, result["transformed"])
    metrics.add_metric(name="RunsTransformed", unit=MetricUnit.Count, value=1)
    logger.info("transformed", extra={"transformed": result["transformed"]})
    return result
