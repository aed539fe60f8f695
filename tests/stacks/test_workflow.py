"""The state machines: shape, retries, no Catch (a failure fails the execution in its task), the Choices, logging
and tracing; the pipeline's modes (a run, a replay, a rebuild) and the rebuild's own loop."""

from __future__ import annotations

import pytest

from lambdas.shared.constants import TRANSIENT_RETRY, Errors, Modes, RebuildStates, States
from stacks.workflow import SERVICE_RETRY

TASKS = (States.EXTRACT, States.TRANSFORM, States.LOAD, States.ADVANCE_WATERMARK)
REBUILD_TASKS = (RebuildStates.PLAN, RebuildStates.PREPARE_SCHEMA, RebuildStates.TRANSFORM_RUNS,
                 RebuildStates.LOAD_RUNS, RebuildStates.SWAP_IN)


def _mode_is(mode: str) -> dict:
    return {"And": [{"Variable": "$.mode", "IsPresent": True}, {"Variable": "$.mode", "IsString": True},
                    {"Variable": "$.mode", "StringEquals": mode}]}


def test_states_are_the_shared_state_names(definition):
    assert set(definition["States"]) == {
        States.MODE,
        States.INVALID_INPUT,
        States.FIND_REBUILD,
        States.REBUILD_RUNNING,
        States.SKIPPED,
        States.BUSY,
        States.REPLAY,
        States.START_REBUILD,
        States.REBUILD_STARTED,
        States.EXTRACT,
        States.HAS_CHANGES,
        States.TRANSFORM,
        States.LOAD,
        States.ADVANCE_WATERMARK,
        States.DONE,
    }


def test_the_input_chooses_a_rebuild_a_replay_with_its_run_id_or_a_run_and_anything_else_fails(definition):
    assert definition["StartAt"] == States.MODE
    assert definition["States"][States.MODE] == {
        "Type": "Choice",
        "Choices": [
            {**_mode_is(Modes.REBUILD), "Next": States.START_REBUILD},
            {"And": [_mode_is(Modes.REPLAY), {"Variable": "$.run_id", "IsPresent": True},
                     {"Variable": "$.run_id", "IsString": True}], "Next": States.FIND_REBUILD},
            {"Variable": "$.mode", "IsPresent": True, "Next": States.INVALID_INPUT},
        ],
        "Default": States.FIND_REBUILD,
    }
    invalid = definition["States"][States.INVALID_INPUT]
    assert invalid["Type"] == "Fail"
    assert invalid["Error"] == Errors.INVALID_INPUT
    assert '{"mode": "replay", "run_id": "<an extracted run>"}' in invalid["Cause"]


def test_a_run_or_replay_first_asks_step_functions_for_a_running_rebuild(synthesized, definition):
    rebuild_machine = synthesized.logical_id(synthesized.stack.pipeline.rebuild_state_machine)
    find = definition["States"][States.FIND_REBUILD]
    assert find["Resource"] == "arn:${AWS::Partition}:states:::aws-sdk:sfn:listExecutions"
    assert find["Parameters"] == {"StateMachineArn": f"${{{rebuild_machine}}}", "StatusFilter": "RUNNING",
                                  "MaxResults": 1}
    assert find["ResultSelector"] == {"running.$": "$.Executions"}
    assert find["ResultPath"] == "$.rebuild"
    assert find["Next"] == States.REBUILD_RUNNING
    assert find["Retry"] == [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": SERVICE_RETRY.interval_seconds,
                              "MaxAttempts": SERVICE_RETRY.max_attempts, "BackoffRate": SERVICE_RETRY.backoff_rate,
                              "MaxDelaySeconds": SERVICE_RETRY.max_delay_seconds, "JitterStrategy": "FULL"}]


def test_during_a_rebuild_a_run_skips_and_a_replay_fails_busy(definition):
    running = {"Variable": "$.rebuild.running[0]", "IsPresent": True}
    assert definition["States"][States.REBUILD_RUNNING] == {
        "Type": "Choice",
        "Choices": [
            {"And": [running, _mode_is(Modes.REPLAY)], "Next": States.BUSY},
            {**running, "Next": States.SKIPPED},
            {**_mode_is(Modes.REPLAY), "Next": States.REPLAY},
        ],
        "Default": States.EXTRACT,
    }
    assert definition["States"][States.SKIPPED] == {"Type": "Succeed", "Comment": "a rebuild is running"}
    busy = definition["States"][States.BUSY]
    assert (busy["Type"], busy["Error"]) == ("Fail", Errors.BUSY)


def test_a_replay_sends_its_run_through_transform_load_and_advance_watermark(definition):
    assert definition["States"][States.REPLAY] == {
        "Type": "Pass",
        "Parameters": {"run_id.$": "$.run_id",
                       "manifest_key.$": "States.Format('runs/{}/extract.json', $.run_id)"},
        "Next": States.TRANSFORM,
    }


def test_a_rebuild_starts_the_rebuild_state_machine_under_the_same_name_and_ends(synthesized, definition):
    rebuild_machine = synthesized.logical_id(synthesized.stack.pipeline.rebuild_state_machine)
    start = definition["States"][States.START_REBUILD]
    # Request-response, not .sync: a long rebuild would outlive this state machine's execution timeout.
    assert start["Resource"] == "arn:${AWS::Partition}:states:::states:startExecution"
    assert start["Parameters"] == {
        "StateMachineArn": f"${{{rebuild_machine}}}",
        "Input": {"rebuild_id.$": "$$.Execution.Name", "request.$": "$",
                  "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"},
        "Name.$": "$$.Execution.Name",
    }
    assert start["ResultSelector"] == {"rebuild_execution_arn.$": "$.ExecutionArn"}
    assert start["Next"] == States.REBUILD_STARTED
    assert definition["States"][States.REBUILD_STARTED] == {"Type": "Succeed"}


def test_run_goes_extract_haschanges_transform_load_advancewatermark_done(definition):
    states = definition["States"]
    assert states[States.EXTRACT]["Next"] == States.HAS_CHANGES
    assert states[States.TRANSFORM]["Next"] == States.LOAD
    assert states[States.LOAD]["Next"] == States.ADVANCE_WATERMARK
    assert states[States.ADVANCE_WATERMARK]["Next"] == States.DONE
    assert states[States.DONE] == {"Type": "Succeed"}


def test_advance_watermark_commits_the_run_with_its_own_function_keeping_the_load_output(synthesized, definition):
    task = definition["States"][States.ADVANCE_WATERMARK]
    function = synthesized.stack.pipeline.advance_watermark.function
    assert task["Resource"] == f"${{{synthesized.logical_id(function)}.Arn}}"
    assert "Parameters" not in task  # Load's output, whose run_id the handler reads
    assert task["ResultPath"] == "$.watermark"


def test_has_changes_continues_to_transform_only_when_extract_found_changes(definition):
    assert definition["States"][States.HAS_CHANGES] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.has_changes", "BooleanEquals": True, "Next": States.TRANSFORM}],
        "Default": States.DONE,
    }


@pytest.mark.parametrize("state", TASKS)
def test_task_retries_transient_errors_with_the_shared_policy(definition, state):
    assert definition["States"][state]["Retry"] == [
        {
            "ErrorEquals": list(TRANSIENT_RETRY.errors),
            "IntervalSeconds": TRANSIENT_RETRY.interval_seconds,
            "MaxAttempts": TRANSIENT_RETRY.max_attempts,
            "BackoffRate": TRANSIENT_RETRY.backoff_rate,
            "MaxDelaySeconds": TRANSIENT_RETRY.max_delay_seconds,
            "JitterStrategy": "FULL",
        }
    ]


@pytest.mark.parametrize("state", TASKS)
def test_task_catches_nothing_so_the_execution_fails_in_the_task_that_failed(definition, state):
    # The console's graph shows that task failed, and the run alert (a rule on the execution's end) names it.
    assert "Catch" not in definition["States"][state]


def test_no_state_publishes_and_only_bad_input_and_busy_fail_on_their_own(definition):
    fails = sorted(name for name, state in definition["States"].items() if state["Type"] == "Fail")
    assert fails == sorted([States.BUSY, States.INVALID_INPUT])
    resources = {state.get("Resource", "") for state in definition["States"].values()}
    assert not [resource for resource in resources if ":sns:" in resource]


@pytest.mark.parametrize(
    ("state", "function"), [(States.EXTRACT, "extract"), (States.TRANSFORM, "transform"), (States.LOAD, "load")]
)
def test_task_invokes_its_function_and_outputs_the_handler_result(synthesized, definition, state, function):
    task = definition["States"][state]
    lambda_function = getattr(synthesized.stack.pipeline, function).function
    assert task["Type"] == "Task"
    # The function ARN as resource (not lambda:invoke): the output is the handler's return value itself.
    assert task["Resource"] == f"${{{synthesized.logical_id(lambda_function)}.Arn}}"
    assert "ResultPath" not in task
    assert "ResultSelector" not in task
    assert "OutputPath" not in task


def test_extract_gets_the_execution_name_as_run_id(definition):
    assert definition["States"][States.EXTRACT]["Parameters"] == {"run_id.$": "$$.Execution.Name"}


@pytest.mark.parametrize("state", [States.TRANSFORM, States.LOAD])
def test_later_stages_get_the_previous_output_unchanged(definition, state):
    task = definition["States"][state]
    assert "Parameters" not in task
    assert "InputPath" not in task


@pytest.mark.parametrize(("machine", "name", "timeout"), [("state_machine", "Onyx-dev-pipeline", 120 * 60),
                                                          ("rebuild_state_machine", "Onyx-dev-rebuild", 24 * 3600)])
def test_state_machines_are_standard_named_with_all_logging_and_tracing(synthesized, machine, name, timeout):
    construct = getattr(synthesized.stack.pipeline, machine)
    properties = synthesized.resource(construct)["Properties"]
    assert properties["StateMachineName"] == name
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert synthesized.definition(construct)["TimeoutSeconds"] == timeout


def test_rebuild_plans_prepares_then_transforms_and_loads_in_steps_until_every_run_is_loaded_then_swaps(
        synthesized, rebuild_definition):
    states = rebuild_definition["States"]
    assert rebuild_definition["StartAt"] == RebuildStates.PLAN
    assert states[RebuildStates.PLAN]["Next"] == RebuildStates.PREPARE_SCHEMA
    assert states[RebuildStates.PLAN]["Parameters"] == {"run_id.$": "$.rebuild_id", "request.$": "$.request"}
    assert states[RebuildStates.PREPARE_SCHEMA]["Next"] == RebuildStates.TRANSFORM_RUNS
    assert states[RebuildStates.TRANSFORM_RUNS]["Next"] == RebuildStates.LOAD_RUNS
    assert states[RebuildStates.LOAD_RUNS]["Next"] == RebuildStates.MORE_RUNS
    assert states[RebuildStates.MORE_RUNS] == {
        "Type": "Choice",
        "Choices": [{"Variable": "$.loaded", "NumericLessThanPath": "$.runs", "Next": RebuildStates.TRANSFORM_RUNS}],
        "Default": RebuildStates.SWAP_IN,
    }
    assert states[RebuildStates.SWAP_IN]["Next"] == RebuildStates.DONE
    assert states[RebuildStates.DONE] == {"Type": "Succeed"}
    pipeline = synthesized.stack.pipeline
    for state, function, action in ((RebuildStates.PREPARE_SCHEMA, pipeline.load, "prepare"),
                                    (RebuildStates.TRANSFORM_RUNS, pipeline.transform, "transform_runs"),
                                    (RebuildStates.LOAD_RUNS, pipeline.load, "load_runs"),
                                    (RebuildStates.SWAP_IN, pipeline.load, "swap")):
        assert states[state]["Resource"] == f"${{{synthesized.logical_id(function.function)}.Arn}}"
        assert states[state]["Parameters"] == {"action": action, "run_id.$": "$.rebuild_id", "cursor.$": "$"}
    assert states[RebuildStates.PLAN]["Resource"] == f"${{{synthesized.logical_id(pipeline.rebuild.function)}.Arn}}"


@pytest.mark.parametrize("state", REBUILD_TASKS)
def test_every_rebuild_task_retries_transient_errors_and_catches_nothing(rebuild_definition, state):
    task = rebuild_definition["States"][state]
    assert [retry["ErrorEquals"] for retry in task["Retry"]] == [list(TRANSIENT_RETRY.errors)]
    assert "Catch" not in task


def test_schedule_starts_an_execution_every_15_minutes(synthesized):
    rule = synthesized.resource(synthesized.stack.pipeline.schedule)
    properties = rule["Properties"]
    assert properties["ScheduleExpression"] == "rate(15 minutes)"
    assert properties["State"] == "ENABLED"
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": synthesized.logical_id(synthesized.stack.pipeline.state_machine)}
