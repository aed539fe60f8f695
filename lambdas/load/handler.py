"""Load Lambda: the run's Parquet files -> the warehouse, in one transaction, exactly once."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.load.runner import load_warehouse
from lambdas.shared.constants import METRICS_NAMESPACE, Env
from lambdas.shared.errors import WarehouseUnavailable
from lambdas.shared.identifiers import DEFAULT_SCHEMA, SCHEMA_PATTERN
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.secrets import credentials_from_secret, forget_secret


class LoadSettings(BaseModel):
    """The function's environment, as the stack sets it."""

    model_config = ConfigDict(frozen=True)

    warehouse_secret_name: str = Field(validation_alias=Env.WAREHOUSE_SECRET_NAME, min_length=1)
    processed_bucket: str = Field(validation_alias=Env.PROCESSED_BUCKET, min_length=1)
    warehouse_schema: str = Field(validation_alias=Env.WAREHOUSE_SCHEMA, default=DEFAULT_SCHEMA, pattern=SCHEMA_PATTERN)


class LoadEvent(BaseModel):
    """The Transform state's output (extra keys, such as `transformed`, are ignored)."""

    run_id: str = Field(min_length=1)
    manifest_key: str = Field(min_length=1)


@logger.inject_lambda_context(correlation_id_path="run_id", log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = LoadSettings.model_validate(dict(os.environ))
    request = LoadEvent.model_validate(event)
    try:
        result = load_warehouse(credentials_from_secret(settings.warehouse_secret_name), boto3.client("s3"),
                                settings.processed_bucket, settings.warehouse_schema, request.manifest_key,
                                run_id=request.run_id)
    except WarehouseUnavailable:
        forget_secret(settings.warehouse_secret_name)  # the retry reads the secret again: it may have been rotated
        raise
    for table, rows in result["loaded"].items():
        with single_metric(name="RowsLoaded", unit=MetricUnit.Count, value=rows, namespace=METRICS_NAMESPACE,
                           default_dimensions=metrics.default_dimensions) as metric:
            metric.add_dimension(name="Table", value=table)
    metrics.add_metric(name="RunsAlreadyLoaded" if result["already_loaded"] else "RunsLoaded",
                       unit=MetricUnit.Count, value=1)
    logger.info("loaded", extra={"loaded": result["loaded"], "already_loaded": result["already_loaded"]})
    return dict(result)
