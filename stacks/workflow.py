"""The state machine: Extract -> HasChanges -> Transform -> Load -> AdvanceWatermark -> Done, every task guarded.

Names, the retry policy and error names come from `lambdas.shared.constants`, which the Lambdas and tests share.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.shared.constants import TRANSIENT_RETRY, RetryPolicy, States

# Catch stores the error here (keeping the task's input) and names the failed state in this variable.
ERROR_PATH: Final = "$.error"
FAILED_STATE_VARIABLE: Final = "failedState"


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


def failure_message(env_name: str, region: str) -> str:
    """One line a person can act on: which run, where it failed, why, and where to look."""
    return sfn.JsonPath.format(
        f"Onyx {env_name}: run {{}} failed in state {{}}. Error: {{}}. Cause: {{}}. "
        f"Execution: https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{{}} . "
        "What to do: fix the cause named above, then redrive the execution from the console; "
        "otherwise the next scheduled run picks up everything this run did not load.",
        sfn.JsonPath.execution_name,
        sfn.JsonPath.string_at(f"${FAILED_STATE_VARIABLE}"),
        sfn.JsonPath.string_at(f"{ERROR_PATH}.Error"),
        sfn.JsonPath.string_at(f"{ERROR_PATH}.Cause"),
        sfn.JsonPath.execution_id,
    )


class PipelineWorkflow(Construct):
    """The states of one pipeline run; `definition` is what the state machine runs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env_name: str,
        extract: lambda_.IFunction,
        transform: lambda_.IFunction,
        load: lambda_.IFunction,
        advance_watermark: lambda_.IFunction,
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        notify = tasks.SnsPublish(
            self,
            States.NOTIFY_FAILURE,
            topic=alert_topic,
            subject=sfn.JsonPath.format(
                f"Onyx {env_name}: run failed in {{}}", sfn.JsonPath.string_at(f"${FAILED_STATE_VARIABLE}")
            ),
            message=sfn.TaskInput.from_text(failure_message(env_name, Stack.of(self).region)),
            result_path=sfn.JsonPath.DISCARD,
        )
        add_retry(
            notify,
            RetryPolicy(
                errors=("States.ALL",), interval_seconds=2, backoff_rate=2.0, max_attempts=3, max_delay_seconds=30
            ),
        )
        # The execution fails with the task's own error, so the console shows the real reason.
        failed = sfn.Fail(
            self,
            States.FAILED,
            error_path=f"{ERROR_PATH}.Error",
            cause_path=f"{ERROR_PATH}.Cause",
        )
        notify.next(failed)

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
            add_retry(step)
            step.add_catch(
                notify,
                errors=[sfn.Errors.ALL],
                result_path=ERROR_PATH,
                assign={FAILED_STATE_VARIABLE: name},
            )
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
