"""AdvanceWatermark Lambda: the run is in the warehouse, so the watermarks move past it. Thin: env, event, one
call. Its own function: it needs the ingestion bucket's manifests and watermarks only (no secret, no database)."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from lambdas.extract.run import commit_run
from lambdas.shared.constants import Env
from lambdas.shared.handler_models import StageEnvironment, StageEvent
from lambdas.shared.observability import logger, metrics, stage_handler


class WatermarkEnvironment(StageEnvironment):
    ingestion_bucket: str = Field(validation_alias=Env.INGESTION_BUCKET, min_length=1)


class WatermarkEvent(StageEvent):
    """The Load state's output (`loaded`, `already_loaded` are ignored)."""


@stage_handler("watermark")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = WatermarkEnvironment.from_environ()
    request = WatermarkEvent.model_validate(event)
    key = commit_run(boto3.client("s3"), env.ingestion_bucket, request.run_id)
    metrics.add_metric(name="RunsCommitted", unit=MetricUnit.Count, value=1)
    logger.info("committed", extra={"watermark_key": key})
    return {"run_id": request.run_id, "watermark_key": key}
