"""Rebuild Lambda: the rebuild's first step. It checks that nothing else is running, lists every committed run of
the lake in extraction order into the plan, and returns the cursor the transform and load steps move on."""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import Field

from lambdas.rebuild.admission import check_alone
from lambdas.rebuild.plan import plan_rebuild, store_plan
from lambdas.shared.constants import Env, RebuildMetrics
from lambdas.shared.handler_models import StageEnvironment, StageEvent
from lambdas.shared.observability import logger, metrics, stage_handler
from lambdas.shared.rebuild import RebuildCursor, RebuildRequest


class RebuildEnvironment(StageEnvironment):
    ingestion_bucket: str = Field(validation_alias=Env.INGESTION_BUCKET, min_length=1)
    processed_bucket: str = Field(validation_alias=Env.PROCESSED_BUCKET, min_length=1)
    pipeline_state_machine_arn: str = Field(validation_alias=Env.PIPELINE_STATE_MACHINE_ARN, min_length=1)
    rebuild_state_machine_arn: str = Field(validation_alias=Env.REBUILD_STATE_MACHINE_ARN, min_length=1)


class RebuildEvent(StageEvent):
    """The Plan state's input: the rebuild's id as `run_id` (the name of its execution, and of the pipeline's that
    started it) and what that pipeline execution was given."""

    request: RebuildRequest = Field(default_factory=RebuildRequest)


@stage_handler("rebuild")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = RebuildEnvironment.from_environ()
    request = RebuildEvent.model_validate(event)
    rebuild_id = request.run_id
    check_alone(boto3.client("stepfunctions"), pipeline_arn=env.pipeline_state_machine_arn,
                rebuild_arn=env.rebuild_state_machine_arn, rebuild_id=rebuild_id)
    s3 = boto3.client("s3")
    plan = plan_rebuild(s3, env.ingestion_bucket, rebuild_id, step_runs=request.request.step_runs)
    key = store_plan(s3, env.processed_bucket, plan)
    cursor = RebuildCursor(rebuild_id=rebuild_id, planned_at=plan.planned_at,
                           runs=len(plan.runs), transformed=0, loaded=0, step_runs=request.request.step_runs)
    metrics.add_metric(name=RebuildMetrics.PLANNED, unit=MetricUnit.Count, value=len(plan.runs))
    logger.info("rebuild planned", extra={"plan_key": key, "runs": len(plan.runs),
                                          "first": plan.runs[0].run_id, "last": plan.runs[-1].run_id})
    return cursor.payload()
