"""How runs end on the local cloud, as on AWS: every unsuccessful end e-mails once, through the rule and the
notifier, and a success does not; a state's result over 256 KB ends the run.

The local cloud emits Step Functions' status-change events (moto does not) and delivers them to the deployed
rule's target, the notify function, which reads the execution's history and publishes to the alert topic.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from lambdas.shared.constants import EXECUTION_STATUS_CHANGE
from tests.local_cloud.helpers import deployed_function, handler_swapped


def _machine_arn(cloud) -> str:
    return cloud.state.state_machine_arn


@contextmanager
def extract_held(cloud) -> Iterator[tuple[threading.Event, threading.Event]]:
    """Every Extract invocation signals `entered`, then waits (at most a minute) for `release`: a run stays in
    Extract for as long as the test needs, however fast the machine."""
    release = threading.Event()
    entered = threading.Event()

    def hold(spec, event):
        if "Extract" in spec.name:
            entered.set()
            release.wait(60)

    cloud.moto.invoker.fault = hold
    try:
        yield entered, release
    finally:
        release.set()
        cloud.moto.invoker.fault = None


def _wait_for_end(sfn, arn: str, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.2)
    raise AssertionError(f"{arn} still running after {timeout}s")


@pytest.mark.slow
def test_a_successful_run_sends_no_e_mail_though_its_end_is_an_event(cloud):
    outcome = cloud.execute()

    assert outcome.succeeded
    assert cloud.moto.alerts == []
    (event,) = [e for e in cloud.moto.execution_events.emitted if e["detail"]["name"] == outcome.run_id]
    assert event["detail-type"] == EXECUTION_STATUS_CHANGE
    assert event["source"] == "aws.states"
    assert event["detail"]["status"] == "SUCCEEDED"
    assert cloud.moto.execution_events.undelivered == []


@pytest.mark.slow
def test_a_stopped_execution_e_mails_once_naming_the_step_it_was_in(cloud):
    sfn = cloud.client("stepfunctions")
    with extract_held(cloud) as (entered, release):
        arn = sfn.start_execution(stateMachineArn=_machine_arn(cloud), name="run-stopped-by-operator")["executionArn"]
        assert entered.wait(60)  # in Extract
        sfn.stop_execution(executionArn=arn)  # (moto drops a StopExecution's error and cause)
        release.set()
        execution = _wait_for_end(sfn, arn)
    cloud.settle()

    assert execution["status"] == "ABORTED"
    (alert,) = cloud.moto.alerts
    assert alert.subject == "Onyx dev: run was STOPPED in Extract"
    lines = alert.message.splitlines()
    assert lines[0] == "The Onyx dev pipeline run run-stopped-by-operator was STOPPED in the Extract step."
    assert "Error:     none given" in lines
    assert lines[-1].startswith("What to do: If it was stopped on purpose, nothing needs doing. Otherwise start a "
                                "new execution")


@pytest.mark.slow
def test_a_timed_out_execution_e_mails_once(cloud):
    sfn = cloud.client("stepfunctions")
    machine = sfn.describe_state_machine(stateMachineArn=_machine_arn(cloud))
    definition = json.loads(machine["definition"])
    sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"],
                             definition=json.dumps(definition | {"TimeoutSeconds": 1}))
    try:
        with extract_held(cloud):  # released at the end: the run outlives its one second in Extract
            arn = sfn.start_execution(stateMachineArn=_machine_arn(cloud), name="run-too-slow")["executionArn"]
            execution = _wait_for_end(sfn, arn)
        cloud.settle()
    finally:
        sfn.update_state_machine(stateMachineArn=machine["stateMachineArn"], definition=machine["definition"])

    assert execution["status"] == "TIMED_OUT"
    (alert,) = cloud.moto.alerts
    assert alert.subject.startswith("Onyx dev: run TIMED OUT in ")
    lines = alert.message.splitlines()
    assert lines[0].startswith("The Onyx dev pipeline run run-too-slow TIMED OUT in the ")
    assert lines[-1].startswith("What to do: The run took longer than the state machine allows.")


@pytest.mark.slow
def test_a_result_over_256_kb_fails_the_run_with_states_data_limit_exceeded(cloud):
    with handler_swapped(cloud, "Extract", "tests.local_cloud.fixture_handlers.oversized"):
        outcome = cloud.execute()

    assert outcome.status == "FAILED"
    assert outcome.error["error"] == "States.DataLimitExceeded"
    (alert,) = cloud.moto.alerts
    assert alert.subject == "Onyx dev: run FAILED in Extract (States.DataLimitExceeded)"


@pytest.mark.slow
def test_without_its_invoke_permission_the_notifier_is_not_called_as_on_aws(cloud):
    """EventBridge may invoke the notifier only as the stack's AWS::Lambda::Permission allows (principal
    events.amazonaws.com, source the run-alert rule): without it, AWS delivers nothing, and neither do we."""
    lam = cloud.client("lambda")
    notifier = deployed_function(cloud, "Notify")["FunctionName"]
    (statement,) = json.loads(lam.get_policy(FunctionName=notifier)["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    lam.remove_permission(FunctionName=notifier, StatementId=statement["Sid"])
    try:
        with handler_swapped(cloud, "Extract", "tests.local_cloud.fixture_handlers.broken"):
            outcome = cloud.execute("run-unheard")
    finally:
        lam.add_permission(FunctionName=notifier, StatementId=statement["Sid"], Action="lambda:InvokeFunction",
                           Principal="events.amazonaws.com",
                           SourceArn=statement["Condition"]["ArnLike"]["AWS:SourceArn"])

    assert outcome.status == "FAILED"
    assert cloud.moto.alerts == []
    ((target, why),) = cloud.moto.execution_events.undelivered[-1:]
    assert target.endswith(f":function:{notifier}")
    assert why.startswith("its resource policy does not let events.amazonaws.com invoke it from arn:aws:events:")
