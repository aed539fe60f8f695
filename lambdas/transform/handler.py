"""Transform Lambda: the run's JSON Lines -> the star schema as Parquet. Thin: env, event, one domain call."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.shared.constants import METRICS_NAMESPACE, Env
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.transform.runner import run_transform


class TransformEnvironment(BaseModel):
    """What the stack sets for this function."""

    model_config = ConfigDict(extra="ignore")

    ingestion_bucket: str = Field(validation_alias=Env.INGESTION_BUCKET, min_length=1)
    processed_bucket: str = Field(validation_alias=Env.PROCESSED_BUCKET, min_length=1)


class TransformEvent(BaseModel):
    """The Extract task's output (extra keys ignored)."""

    model_config = ConfigDict(extra="ignore")

    run_id: str = Field(min_length=1)
    manifest_key: str = Field(min_length=1)


@metrics.log_metrics
@tracer.capture_lambda_handler
@logger.inject_lambda_context(correlation_id_path="run_id", log_event=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = TransformEnvironment.model_validate(dict(os.environ))
    request = TransformEvent.model_validate(event)
    metrics.add_metadata(key="run_id", value=request.run_id)
    result = run_transform(boto3.client("s3"), env.ingestion_bucket, env.processed_bucket, request.run_id,
                           request.manifest_key)
    metrics.add_metric(name="RunsTransformed", unit=MetricUnit.Count, value=1)
    for table, rows in result["transformed"].items():
        with single_metric(name="RowsTransformed", unit=MetricUnit.Count, value=rows,
                           namespace=METRICS_NAMESPACE) as metric:
            metric.add_dimension(name="table", value=table)
    logger.info("transformed", extra={"transformed": result["transformed"]})
    return result
