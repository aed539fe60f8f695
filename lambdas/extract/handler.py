"""Extract Lambda: Totesys changes since the watermarks -> the ingestion bucket. Thin: env, event, one call."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from lambdas.extract.probe import probe_source
from lambdas.extract.run import run_extract
from lambdas.shared.constants import DEFAULT_SAFETY_LAG_SECONDS, Env, RowMetrics
from lambdas.shared.handler_models import StageEnvironment, StageEvent
from lambdas.shared.observability import logger, metrics, rows_per_table, stage_handler
from lambdas.shared.probe import SOURCE, asks_probe
from lambdas.shared.secrets import database_settings, secret_credentials


class ExtractEnvironment(StageEnvironment):
    source_secret_name: str = Field(validation_alias=Env.SOURCE_SECRET_NAME, min_length=1)
    ingestion_bucket: str = Field(validation_alias=Env.INGESTION_BUCKET, min_length=1)
    safety_lag_seconds: float = Field(validation_alias=Env.SAFETY_LAG_SECONDS, default=DEFAULT_SAFETY_LAG_SECONDS,
                                      ge=0)


class ExtractEvent(StageEvent):
    """The execution's input: its run id (the execution name); nothing else."""


@stage_handler("extract")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = ExtractEnvironment.from_environ()
    if asks_probe(event, SOURCE):  # the smoke check's read-only question, never a state's input
        with secret_credentials(env.source_secret_name, database_settings("source")) as credentials:
            answer = probe_source(credentials)
        metrics.add_metric(name="Probes", unit=MetricUnit.Count, value=1)
        logger.info("probed", extra={"answer": answer})
        return answer
    request = ExtractEvent.model_validate(event)
    with secret_credentials(env.source_secret_name, database_settings("source")) as credentials:
        result = run_extract(credentials, boto3.client("s3"), env.ingestion_bucket, request.run_id,
                             safety_lag_seconds=env.safety_lag_seconds)
    rows_per_table(RowMetrics.EXTRACTED, result.manifest.extracted)
    metrics.add_metric(name="ExtractDuration", unit=MetricUnit.Seconds, value=result.duration_seconds)
    if result.watermark_lag_seconds is not None:
        metrics.add_metric(name="WatermarkLag", unit=MetricUnit.Seconds, value=result.watermark_lag_seconds)
    metrics.add_metric(name="RunsAlreadyExtracted" if result.already_extracted else "RunsExtracted",
                       unit=MetricUnit.Count, value=1)
    payload = result.payload()
    logger.info("extracted", extra={"extracted": payload["extracted"], "has_changes": payload["has_changes"],
                                    "already_extracted": result.already_extracted})
    return payload
