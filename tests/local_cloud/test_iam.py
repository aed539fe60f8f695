"""Least privilege, exercised: on the local cloud every function runs with its own execution role's credentials,
the state machine calls Lambda with its role's, the schedule starts runs with its rule's, and each request is
authorized against the deployed template's policies (local/moto_iam.py). Taking one statement away from a
deployed role makes the run fail with AccessDenied naming the action, as it would on AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.cloud import LocalCloud
from local.moto_cloud import ACCOUNT
from tests.local_cloud.helpers import deployed_function, handler_swapped


def _role_name(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@contextmanager
def _without(cloud: LocalCloud, role_arn: str, action: str) -> Iterator[None]:
    """The role's deployed policy without `action` (a statement allowing only it goes), for the block's duration."""
    iam = cloud.client("iam")
    role = _role_name(role_arn)
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    original = document if isinstance(document, str) else json.dumps(document)
    parsed = json.loads(original)
    kept, removed = [], False
    for statement in parsed["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        others = [a for a in actions if a != action]
        removed |= len(others) < len(actions)
        if others:
            kept.append(statement | {"Action": others})
    assert removed, f"{role} has no statement allowing {action}"
    if kept:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(parsed | {"Statement": kept}))
    else:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    try:
        yield
    finally:
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=original)


@pytest.mark.parametrize("part", ["Extract", "Notify"])
def test_each_function_calls_aws_as_its_own_execution_role(cloud, part):
    with handler_swapped(cloud, part, "tests.local_cloud.fixture_handlers.whoami") as function:
        answer = json.loads(cloud.client("lambda").invoke(FunctionName=function["FunctionName"])["Payload"].read())

    assert answer["arn"] == (f"arn:aws:sts::{ACCOUNT}:assumed-role/{_role_name(function['Role'])}/"
                             f"{function['FunctionName']}")
    assert answer["access_key"] != "local"


def _assert_denied(cloud: LocalCloud, outcome: Any, state: str, action: str, role_arn: str) -> None:
    assert outcome.status == "FAILED"
    assert f"is not authorized to perform: {action} on resource: " in outcome.error["cause"]
    denials = [d for d in cloud.moto.authorizer.denials if d.action == action]
    assert denials, f"no {action} refused"
    assert all(f":assumed-role/{_role_name(role_arn)}/" in d.principal for d in denials)
    (alert,) = cloud.moto.alerts
    assert alert.subject.startswith(f"Onyx dev: run FAILED in {state} (")


@pytest.mark.parametrize(("part", "action", "state"), [
    ("Load", "secretsmanager:GetSecretValue", "Load"),  # a call moto does not check by resource itself
    ("Transform", "s3:PutObject", "Transform"),
])
def test_a_run_fails_with_access_denied_naming_the_action_a_functions_role_lost(cloud, part, action, state):
    role_arn = deployed_function(cloud, part)["Role"]
    before = len(cloud.moto.authorizer.denials)

    with _without(cloud, role_arn, action):
        outcome = cloud.execute()

    _assert_denied(cloud, outcome, state, action, role_arn)
    assert len(cloud.moto.authorizer.denials) > before
    assert cloud.execute().succeeded  # the statement back: the next run catches up


def test_the_state_machine_invokes_the_functions_with_its_own_role(cloud):
    role_arn = cloud.moto.state_machine_role_arn
    assert role_arn is not None
    assert role_arn != deployed_function(cloud, "Extract")["Role"]

    with _without(cloud, role_arn, "lambda:InvokeFunction"):
        outcome = cloud.execute()

    assert outcome.status == "FAILED"
    assert outcome.error["error"] == "Lambda.AccessDeniedException"
    assert "lambda:InvokeFunction on resource: arn:aws:lambda:" in outcome.error["cause"]
    assert "PipelineExtractFunction" in outcome.error["cause"]
    assert [i.function_name for i in cloud.moto.invoker.invocations if "Notify" not in i.function_name] == []
    (alert,) = cloud.moto.alerts
    assert alert.subject == "Onyx dev: run FAILED in Extract (Lambda.AccessDeniedException)"


def test_the_schedule_starts_runs_with_its_rules_role_and_input(cloud):
    outcome = cloud.scheduled_execution("run-scheduled-by-rule")
    assert outcome.succeeded, outcome.error
    history = cloud.client("stepfunctions").describe_execution(executionArn=outcome.execution_arn)
    assert json.loads(history["input"]) == {"trigger": "schedule"}

    (target,) = cloud.client("events").list_targets_by_rule(Rule=cloud.deployment.schedule_rule_name)["Targets"]
    with _without(cloud, target["RoleArn"], "states:StartExecution"), pytest.raises(ClientError) as refused:
        cloud.scheduled_execution("run-scheduled-refused")

    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"states:StartExecution on resource: {cloud.state.state_machine_arn} " in str(refused.value)
