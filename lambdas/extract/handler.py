"""Extract Lambda: Totesys changes since the watermarks -> the ingestion bucket. Thin: env, event, one call."""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field

from lambdas.extract.run import commit_run, run_extract
from lambdas.shared.constants import DEFAULT_SAFETY_LAG_SECONDS, METRICS_NAMESPACE, Env
from lambdas.shared.errors import SourceUnavailable
from lambdas.shared.observability import logger, metrics, tracer
from lambdas.shared.secrets import credentials_from_secret, forget_secret

# Step Functions execution names: no whitespace, slashes or wildcards; they become part of S3 keys.
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$"


class ExtractEnvironment(BaseModel):
    """What the stack sets for this function."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    source_secret_name: str = Field(validation_alias=Env.SOURCE_SECRET_NAME, min_length=1)
    ingestion_bucket: str = Field(validation_alias=Env.INGESTION_BUCKET, min_length=1)
    safety_lag_seconds: float = Field(validation_alias=Env.SAFETY_LAG_SECONDS, default=DEFAULT_SAFETY_LAG_SECONDS,
                                      ge=0)


class ExtractEvent(BaseModel):
    """The execution's input: its run id (extra keys ignored); `commit` asks to advance the watermarks."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    run_id: str = Field(pattern=RUN_ID_PATTERN)
    commit: bool = False


@logger.inject_lambda_context(correlation_id_path="run_id", log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = ExtractEnvironment.model_validate(dict(os.environ))
    request = ExtractEvent.model_validate(event)
    metrics.add_metadata(key="run_id", value=request.run_id)
    if request.commit:
        # The run is in the warehouse: only now may the next run start after it.
        key = commit_run(boto3.client("s3"), env.ingestion_bucket, request.run_id)
        metrics.add_metric(name="RunsCommitted", unit=MetricUnit.Count, value=1)
        return {"run_id": request.run_id, "watermark_key": key}
    try:
        result = run_extract(credentials_from_secret(env.source_secret_name), boto3.client("s3"),
                             env.ingestion_bucket, request.run_id, safety_lag_seconds=env.safety_lag_seconds)
    except Exception as exc:
        logger.exception("extract failed: no manifest written, watermarks unchanged")  # with the run id
        if isinstance(exc, SourceUnavailable):  # the retry reads the secret again: it may have been rotated
            forget_secret(env.source_secret_name)
        raise
    for table, rows in result.manifest.extracted.items():
        with single_metric(name="RowsExtracted", unit=MetricUnit.Count, value=rows, namespace=METRICS_NAMESPACE,
                           default_dimensions=metrics.default_dimensions) as metric:
            metric.add_dimension(name="Table", value=table)
    metrics.add_metric(name="ExtractDuration", unit=MetricUnit.Seconds, value=result.duration_seconds)
    if result.watermark_lag_seconds is not None:
        metrics.add_metric(name="WatermarkLag", unit=MetricUnit.Seconds, value=result.watermark_lag_seconds)
    metrics.add_metric(name="RunsAlreadyExtracted" if result.already_extracted else "RunsExtracted",
                       unit=MetricUnit.Count, value=1)
    payload = result.payload()
    logger.info("extracted", extra={"extracted": payload["extracted"], "has_changes": payload["has_changes"],
                                    "already_extracted": result.already_extracted})
    return payload
