"""The state machine: Extract -> HasChanges -> Transform -> Load -> AdvanceWatermark -> Done, every task retried.

Names, the retry policy and error names come from `lambdas.shared.constants`, which the Lambdas and tests share.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.shared.constants import TRANSIENT_RETRY, RetryPolicy, States


def add_retry(task: sfn.TaskStateBase, policy: RetryPolicy = TRANSIENT_RETRY) -> None:
    """Retry the policy's transient errors with capped exponential backoff and jitter."""
    task.add_retry(
        errors=list(policy.errors),
        interval=Duration.seconds(policy.interval_seconds),
        backoff_rate=policy.backoff_rate,
        max_attempts=policy.max_attempts,
        max_delay=Duration.seconds(policy.max_delay_seconds),
        jitter_strategy=sfn.JitterType[policy.jitter],
    )


class PipelineWorkflow(Construct):
    """The states of one pipeline run; `definition` is what the state machine runs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        extract: lambda_.IFunction,
        transform: lambda_.IFunction,
        load: lambda_.IFunction,
        advance_watermark: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)

        def task(name: str, function: lambda_.IFunction, payload: sfn.TaskInput | None = None,
                 result_path: str | None = None) -> tasks.LambdaInvoke:
            step = tasks.LambdaInvoke(
                self,
                name,
                lambda_function=function,
                payload=payload,
                result_path=result_path,
                # The state's output is the handler's return value: small JSON, the next stage's input.
                payload_response_only=True,
                retry_on_service_exceptions=False,
            )
            # No Catch: an error the retries do not clear fails the execution in this task, so the console's
            # graph shows the task that failed, and a rule on the execution's status sends the e-mail
            # (stacks/run_alerts.py), for timed-out and stopped executions too, which no Catch sees.
            add_retry(step)
            return step

        done = sfn.Succeed(self, States.DONE)
        extract_step = task(States.EXTRACT, extract, sfn.TaskInput.from_object({"run_id": sfn.JsonPath.execution_name}))
        has_changes = (
            sfn.Choice(self, States.HAS_CHANGES)
            .when(
                sfn.Condition.boolean_equals("$.has_changes", True),
                task(States.TRANSFORM, transform)
                .next(task(States.LOAD, load))
                # Only a run that reached the warehouse moves the watermarks: a run failing anywhere
                # before is extracted again by the next one, so nothing is lost to it.
                # Its input is Load's output, whose run_id is all it reads; its output goes beside it.
                .next(task(States.ADVANCE_WATERMARK, advance_watermark, result_path="$.watermark"))
                .next(done),
            )
            .otherwise(done)
        )
        self.definition: sfn.IChainable = extract_step.next(has_changes)
