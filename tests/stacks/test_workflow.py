"""The state machine: shape, retries, no Catch (a failure fails the execution in its task), the Choice, logging
and tracing."""

from __future__ import annotations

import pytest

from lambdas.shared.constants import TRANSIENT_RETRY, States

TASKS = (States.EXTRACT, States.TRANSFORM, States.LOAD, States.ADVANCE_WATERMARK)


def test_states_are_the_shared_state_names(definition):
    assert set(definition["States"]) == {
        States.EXTRACT,
        States.HAS_CHANGES,
        States.TRANSFORM,
        States.LOAD,
        States.ADVANCE_WATERMARK,
        States.DONE,
    }


def test_run_goes_extract_haschanges_transform_load_advancewatermark_done(definition):
    states = definition["States"]
    assert definition["StartAt"] == States.EXTRACT
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


def test_no_state_publishes_or_fails_on_its_own(definition):
    types = {state["Type"] for state in definition["States"].values()}
    assert types == {"Task", "Choice", "Succeed"}
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


def test_state_machine_is_standard_with_all_logging_and_tracing(synthesized):
    (machine,) = synthesized.resources("AWS::StepFunctions::StateMachine").values()
    properties = machine["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"]["Level"] == "ALL"
    assert properties["LoggingConfiguration"]["IncludeExecutionData"] is True
    assert synthesized.definition()["TimeoutSeconds"] == 120 * 60


def test_schedule_starts_an_execution_every_15_minutes(synthesized):
    rule = synthesized.resource(synthesized.stack.pipeline.schedule)
    properties = rule["Properties"]
    assert properties["ScheduleExpression"] == "rate(15 minutes)"
    assert properties["State"] == "ENABLED"
    (target,) = properties["Targets"]
    assert target["Arn"] == {"Ref": synthesized.logical_id(synthesized.stack.pipeline.state_machine)}
