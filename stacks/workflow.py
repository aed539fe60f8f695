"""The state machines' definitions.

The pipeline's: what the execution was asked for (`Mode`), whether a rebuild is running, then a run
(Extract -> HasChanges -> Transform -> Load -> AdvanceWatermark -> Done), a replay of one run (Transform -> Load ->
AdvanceWatermark), or the start of a rebuild. The rebuild's own: Plan -> PrepareSchema -> (TransformRuns -> LoadRuns)
while runs are left -> SwapIn. Every task is retried (transient errors, exponential backoff, full jitter).

Names, the retry policy and error names come from `lambdas.shared.constants`, which the Lambdas and tests share.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from lambdas.shared.constants import TRANSIENT_RETRY, Errors, Modes, RebuildStates, RetryPolicy, States
from lambdas.shared.layout import extract_manifest_key

# ListExecutions and StartExecution are Step Functions' own calls: any failure of theirs is worth a few retries.
SERVICE_RETRY = RetryPolicy(errors=("States.ALL",), interval_seconds=2, backoff_rate=2.0, max_attempts=3,
                            max_delay_seconds=30)
ACCEPTED_INPUT = ('{} (a run; the schedule sends {"trigger": "schedule"}), {"mode": "rebuild"} (optionally with '
                  '"step_runs"), or {"mode": "replay", "run_id": "<an extracted run>"}')


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


def _lambda_task(scope: Construct, name: str, function: lambda_.IFunction, payload: sfn.TaskInput | None = None,
                 result_path: str | None = None) -> tasks.LambdaInvoke:
    step = tasks.LambdaInvoke(
        scope,
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


def _mode_is(mode: str) -> sfn.Condition:
    # A Choice rule on a path the input lacks is a runtime error: look before comparing.
    return sfn.Condition.and_(sfn.Condition.is_present("$.mode"), sfn.Condition.is_string("$.mode"),
                              sfn.Condition.string_equals("$.mode", mode))


class PipelineWorkflow(Construct):
    """The pipeline state machine's states; `definition` is what it runs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        extract: lambda_.IFunction,
        transform: lambda_.IFunction,
        load: lambda_.IFunction,
        advance_watermark: lambda_.IFunction,
        rebuild_state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        done = sfn.Succeed(self, States.DONE)
        transform_step = _lambda_task(self, States.TRANSFORM, transform)
        (transform_step
         .next(_lambda_task(self, States.LOAD, load))
         # Only a run that reached the warehouse moves the watermarks: a run failing anywhere
         # before is extracted again by the next one, so nothing is lost to it.
         # Its input is Load's output, whose run_id is all it reads; its output goes beside it.
         .next(_lambda_task(self, States.ADVANCE_WATERMARK, advance_watermark, result_path="$.watermark"))
         .next(done))
        extract_step = _lambda_task(self, States.EXTRACT, extract,
                                    sfn.TaskInput.from_object({"run_id": sfn.JsonPath.execution_name}))
        extract_step.next(
            sfn.Choice(self, States.HAS_CHANGES)
            .when(sfn.Condition.boolean_equals("$.has_changes", True), transform_step)
            .otherwise(done)
        )
        # A replay: an extracted run through the same Transform, Load and AdvanceWatermark, each idempotent (a run
        # loaded already changes nothing; one whose load never happened is filled in and committed).
        replay = sfn.Pass(self, States.REPLAY, parameters={
            "run_id.$": "$.run_id",
            "manifest_key.$": f"States.Format('{extract_manifest_key('{}')}', $.run_id)",
        })
        replay.next(transform_step)

        # A rebuild runs alone (lambdas/rebuild/admission.py): a scheduled run that finds one running skips, a
        # replay is refused. A Step Functions call of its own, not a Lambda: no cold start in every run.
        find_rebuild = tasks.CallAwsService(
            self,
            States.FIND_REBUILD,
            service="sfn",
            action="listExecutions",
            parameters={"StateMachineArn": rebuild_state_machine.state_machine_arn, "StatusFilter": "RUNNING",
                        "MaxResults": 1},
            iam_resources=[rebuild_state_machine.state_machine_arn],
            iam_action="states:ListExecutions",
            result_selector={"running.$": "$.Executions"},
            result_path="$.rebuild",
        )
        add_retry(find_rebuild, SERVICE_RETRY)
        rebuild_running = sfn.Condition.is_present("$.rebuild.running[0]")
        find_rebuild.next(
            sfn.Choice(self, States.REBUILD_RUNNING)
            .when(sfn.Condition.and_(rebuild_running, _mode_is(Modes.REPLAY)),
                  sfn.Fail(self, States.BUSY, error=Errors.BUSY,
                           cause="a rebuild is running: replay the run once it has ended"))
            # The rebuild will load what this run would have: it runs after, from the same watermarks.
            .when(rebuild_running, sfn.Succeed(self, States.SKIPPED, comment="a rebuild is running"))
            .when(_mode_is(Modes.REPLAY), replay)
            .otherwise(extract_step)
        )

        # A rebuild takes hours for a long history: it runs in a state machine of its own, with its own timeout
        # and history; this execution starts it under the same name and ends.
        start_rebuild = tasks.StepFunctionsStartExecution(
            self,
            States.START_REBUILD,
            state_machine=rebuild_state_machine,
            integration_pattern=sfn.IntegrationPattern.REQUEST_RESPONSE,
            name=sfn.JsonPath.execution_name,
            input=sfn.TaskInput.from_object({"rebuild_id": sfn.JsonPath.execution_name,
                                             "request": sfn.JsonPath.object_at("$")}),
            associate_with_parent=True,
            result_selector={"rebuild_execution_arn.$": "$.ExecutionArn"},
        )
        add_retry(start_rebuild, SERVICE_RETRY)
        start_rebuild.next(sfn.Succeed(self, States.REBUILD_STARTED))

        self.definition: sfn.IChainable = (
            sfn.Choice(self, States.MODE)
            .when(_mode_is(Modes.REBUILD), start_rebuild)
            .when(sfn.Condition.and_(_mode_is(Modes.REPLAY), sfn.Condition.is_present("$.run_id"),
                                     sfn.Condition.is_string("$.run_id")), find_rebuild)
            .when(sfn.Condition.is_present("$.mode"),
                  sfn.Fail(self, States.INVALID_INPUT, error=Errors.INVALID_INPUT,
                           cause=f"an execution's input is {ACCEPTED_INPUT}"))
            .otherwise(find_rebuild)
        )


class RebuildWorkflow(Construct):
    """The rebuild state machine's states: plan, a fresh schema, bounded steps through the plan, the swap."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        rebuild: lambda_.IFunction,
        transform: lambda_.IFunction,
        load: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)

        def step(name: str, function: lambda_.IFunction, action: str) -> tasks.LambdaInvoke:
            # The cursor is the state; `run_id` (the rebuild's id) is what every log line of the step carries.
            return _lambda_task(self, name, function, sfn.TaskInput.from_object(
                {"action": action, "run_id": sfn.JsonPath.string_at("$.rebuild_id"),
                 "cursor": sfn.JsonPath.object_at("$")}))

        transform_runs = step(RebuildStates.TRANSFORM_RUNS, transform, "transform_runs")
        swap = step(RebuildStates.SWAP_IN, load, "swap")
        swap.next(sfn.Succeed(self, RebuildStates.DONE))
        (transform_runs
         .next(step(RebuildStates.LOAD_RUNS, load, "load_runs"))
         .next(sfn.Choice(self, RebuildStates.MORE_RUNS)
               .when(sfn.Condition.number_less_than_json_path("$.loaded", "$.runs"), transform_runs)
               .otherwise(swap)))
        self.definition: sfn.IChainable = (
            # The rebuild's id is its `run_id`, as every handler's correlation id; its request the pipeline's input.
            _lambda_task(self, RebuildStates.PLAN, rebuild, sfn.TaskInput.from_object(
                {"run_id": sfn.JsonPath.string_at("$.rebuild_id"), "request": sfn.JsonPath.object_at("$.request")}))
            .next(step(RebuildStates.PREPARE_SCHEMA, load, "prepare"))
            .next(transform_runs)
        )
