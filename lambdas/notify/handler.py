"""Notify Lambda: an execution ended FAILED, TIMED_OUT or ABORTED -> one e-mail on the alert topic.

Started by an EventBridge rule on Step Functions' execution status changes, not by the state machine: a
`Catch` inside the workflow never sees a timed-out or stopped execution, and keeps the console's graph from
showing the task that failed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, field_validator

from lambdas.notify.history import end_of_run
from lambdas.notify.message import RunEnd, body, subject
from lambdas.shared.constants import EXECUTION_STATUS_CHANGE, RUN_ALERTS_SENT, UNSUCCESSFUL_ENDS, Env
from lambdas.shared.handler_models import StageEnvironment
from lambdas.shared.observability import logger, metrics, stage_handler


class NotifyEnvironment(StageEnvironment):
    alert_topic_arn: str = Field(validation_alias=Env.ALERT_TOPIC_ARN, min_length=1)
    env_name: str = Field(validation_alias=Env.ENV_NAME, min_length=1)
    region: str = Field(validation_alias="AWS_REGION", min_length=1)
    # {state name: its function's log group}, JSON
    state_log_groups: dict[str, str] = Field(validation_alias=Env.STATE_LOG_GROUPS, default_factory=dict)

    @field_validator("state_log_groups", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value


class ExecutionStatusChange(BaseModel):
    """The event's detail (AWS documents more fields; these are the ones the e-mail uses)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    execution_arn: str = Field(alias="executionArn")
    name: str
    status: str
    start_date: datetime = Field(alias="startDate")  # epoch milliseconds in the event
    stop_date: datetime | None = Field(alias="stopDate", default=None)
    error: str | None = None
    cause: str | None = None


class NotifyEvent(EventBridgeModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    detail: ExecutionStatusChange


@stage_handler("notify", correlation_id_path="detail.name")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    env = NotifyEnvironment.from_environ()
    request = NotifyEvent.model_validate(event)
    detail = request.detail
    if request.detail_type != EXECUTION_STATUS_CHANGE or detail.status not in UNSUCCESSFUL_ENDS:
        # The rule only sends these; anything else is a misrouted event, not a reason to e-mail anyone.
        logger.warning("ignored", extra={"detail_type": request.detail_type, "status": detail.status})
        return {"notified": False}
    # The event may leave out a stopped execution's error and cause (moto does; the docs do not promise them):
    # the history's last event has them.
    history = end_of_run(boto3.client("stepfunctions"), detail.execution_arn)
    state = history.state
    end = RunEnd(env_name=env.env_name, region=env.region, execution_arn=detail.execution_arn, run_id=detail.name,
                 status=detail.status, started=detail.start_date.astimezone(UTC),
                 stopped=detail.stop_date.astimezone(UTC) if detail.stop_date else None,
                 error=detail.error or history.error, cause=detail.cause or history.cause, state=state,
                 log_group=env.state_log_groups.get(state or ""))
    response = boto3.client("sns").publish(TopicArn=env.alert_topic_arn, Subject=subject(end), Message=body(end))
    metrics.add_metric(name=RUN_ALERTS_SENT, unit=MetricUnit.Count, value=1)
    logger.info("notified", extra={"status": detail.status, "state": state, "error": detail.error,
                                   "message_id": response["MessageId"]})
    return {"notified": True, "message_id": response["MessageId"], "state": state}
