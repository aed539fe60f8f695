"""Load Lambda: the run's Parquet files -> the warehouse, in one transaction, exactly once."""

from __future__ import annotations

from typing import Any, Literal

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from lambdas.load import rebuild_steps
from lambdas.load.probe import probe_warehouse
from lambdas.load.runner import load_warehouse
from lambdas.shared.constants import Env, RebuildMetrics, RowMetrics
from lambdas.shared.handler_models import StageEnvironment, StageEvent
from lambdas.shared.identifiers import DEFAULT_SCHEMA, SCHEMA_PATTERN
from lambdas.shared.observability import logger, metrics, rows_per_table, stage_handler
from lambdas.shared.probe import WAREHOUSE, asks_probe
from lambdas.shared.rebuild import RebuildCursor, progress_text
from lambdas.shared.secrets import database_settings, secret_credentials


class LoadEnvironment(StageEnvironment):
    warehouse_secret_name: str = Field(validation_alias=Env.WAREHOUSE_SECRET_NAME, min_length=1)
    processed_bucket: str = Field(validation_alias=Env.PROCESSED_BUCKET, min_length=1)
    warehouse_schema: str = Field(validation_alias=Env.WAREHOUSE_SCHEMA, default=DEFAULT_SCHEMA, pattern=SCHEMA_PATTERN)


class LoadEvent(StageEvent):
    """The Transform state's output (`transformed` is ignored)."""

    manifest_key: str = Field(min_length=1)


class RebuildStepEvent(StageEvent):
    """A rebuild's warehouse step: prepare its schema, load the next runs into it, or swap it in (`run_id` is the
    rebuild's id, for the logs)."""

    action: Literal["prepare", "load_runs", "swap"]
    cursor: RebuildCursor


def _rebuild_step(env: LoadEnvironment, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    step = RebuildStepEvent.model_validate(event)
    with secret_credentials(env.warehouse_secret_name, database_settings("warehouse")) as credentials:
        if step.action == "prepare":
            prepared = rebuild_steps.prepare(credentials, env.warehouse_schema)
            logger.info("rebuild schema prepared", extra=prepared)
            return {**step.cursor.payload(), "prepared": prepared}
        if step.action == "swap":
            swapped = rebuild_steps.swap(credentials, env.warehouse_schema, step.cursor)
            metrics.add_metric(name=RebuildMetrics.SWAPPED_IN, unit=MetricUnit.Count, value=1)
            logger.info("rebuilt warehouse swapped in", extra=swapped)
            return {**step.cursor.payload(), "swapped": swapped}
        cursor = rebuild_steps.load_runs(credentials, boto3.client("s3"), env.processed_bucket, env.warehouse_schema,
                                         cursor=step.cursor, remaining_ms=context.get_remaining_time_in_millis)
    metrics.add_metric(name=RebuildMetrics.LOADED, unit=MetricUnit.Count, value=cursor.loaded - step.cursor.loaded)
    metrics.add_metric(name=RebuildMetrics.REMAINING, unit=MetricUnit.Count, value=cursor.runs - cursor.loaded)
    logger.info("rebuild step loaded", extra={"progress": progress_text(cursor)})
    return cursor.payload()


@stage_handler("load")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = LoadEnvironment.from_environ()
    if asks_probe(event, WAREHOUSE):  # the smoke check's read-only question, never a state's input
        with secret_credentials(env.warehouse_secret_name, database_settings("warehouse")) as credentials:
            answer = probe_warehouse(credentials, env.warehouse_schema)
        metrics.add_metric(name="Probes", unit=MetricUnit.Count, value=1)
        logger.info("probed", extra={"answer": answer})
        return answer
    if event.get("action") is not None:
        return _rebuild_step(env, event, context)
    request = LoadEvent.model_validate(event)
    with secret_credentials(env.warehouse_secret_name, database_settings("warehouse")) as credentials:
        result = load_warehouse(credentials, boto3.client("s3"), env.processed_bucket, env.warehouse_schema,
                                request.manifest_key, run_id=request.run_id)
    rows_per_table(RowMetrics.LOADED, result["loaded"])
    metrics.add_metric(name="RunsAlreadyLoaded" if result["already_loaded"] else "RunsLoaded",
                       unit=MetricUnit.Count, value=1)
    logger.info("loaded", extra={"loaded": result["loaded"], "already_loaded": result["already_loaded"]})
    return dict(result)
