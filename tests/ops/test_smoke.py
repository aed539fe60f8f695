"""The smoke check's parts without a cloud: finding the stack's pieces in its template, the operator's policy,
asking a probe (answers, refusals, failures)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from ops.checklist import ProbeFailure
from ops.deployed_stack import DeployedStack, Rule
from ops.smoke import ask_probe
from ops.targets import TargetError

MACHINE = "arn:aws:states:eu-west-2:123456789012:stateMachine:PipelineStateMachine-X1"
TOPIC = "arn:aws:sns:eu-west-2:123456789012:Onyx-dev-AlertsTopic-T1"
TEMPLATE = {"Resources": {
    "PipelineExtractFunction1": {"Type": "AWS::Lambda::Function",
                                 "Properties": {"Handler": "lambdas.extract.handler.handler"}},
    "PipelineLoadFunction2": {"Type": "AWS::Lambda::Function",
                              "Properties": {"Handler": "lambdas.load.handler.handler"}},
    "RunAlertsNotifyFunction3": {"Type": "AWS::Lambda::Function",
                                 "Properties": {"Handler": "lambdas.notify.handler.handler"}},
    "PipelineSchedule4": {"Type": "AWS::Events::Rule", "Properties": {"ScheduleExpression": "rate(15 minutes)"}},
    "RunAlertsUnsuccessfulEnds5": {"Type": "AWS::Events::Rule",
                                   "Properties": {"EventPattern": {"source": ["aws.states"]}}},
    "AlertsTopicEmail6": {"Type": "AWS::SNS::Subscription",
                          "Properties": {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": {"Ref": "T"}}},
}}
PHYSICAL = {"PipelineExtractFunction1": "Onyx-dev-PipelineExtractFunction1-AAA",
            "PipelineLoadFunction2": "Onyx-dev-PipelineLoadFunction2-BBB",
            "RunAlertsNotifyFunction3": "Onyx-dev-RunAlertsNotifyFunction3-CCC",
            "PipelineSchedule4": "Onyx-dev-PipelineSchedule4-DDD",
            "RunAlertsUnsuccessfulEnds5": "default|Onyx-dev-RunAlertsUnsuccessfulEnds5-EEE",
            "AlertsTopicEmail6": f"{TOPIC}:f00"}


class _Pages:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return self.pages


class _CloudFormation:
    """Answers as CloudFormation does for one stack; resources come in two pages."""

    def __init__(self, template: dict[str, Any], outputs: dict[str, str]) -> None:
        self.template, self.outputs = template, outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if StackName != "Onyx-dev":
            raise ClientError({"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not "
                                                                              "exist"}}, "DescribeStacks")
        return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in self.outputs.items()]}]}

    def get_template(self, StackName: str) -> dict[str, Any]:
        return {"TemplateBody": self.template}  # botocore hands a JSON template back parsed

    def get_paginator(self, name: str) -> _Pages:
        assert name == "list_stack_resources"
        summaries = [{"LogicalResourceId": k, "PhysicalResourceId": v} for k, v in PHYSICAL.items()]
        return _Pages([{"StackResourceSummaries": summaries[:3]}, {"StackResourceSummaries": summaries[3:]}])


def _read(template: dict[str, Any] = TEMPLATE, **outputs: str) -> DeployedStack:
    return DeployedStack.read(_CloudFormation(template, outputs or {"StateMachineArn": MACHINE,
                                                                    "AlertTopicArn": TOPIC}), "Onyx-dev")


def test_the_stack_s_parts_are_found_by_what_they_run_not_by_their_logical_ids():
    stack = _read()

    assert stack == DeployedStack(
        name="Onyx-dev", state_machine_arn=MACHINE, alert_topic_arn=TOPIC,
        functions={"extract": "Onyx-dev-PipelineExtractFunction1-AAA", "load": "Onyx-dev-PipelineLoadFunction2-BBB"},
        rules=(Rule("Onyx-dev-PipelineSchedule4-DDD", "rate(15 minutes)"),
               Rule("Onyx-dev-RunAlertsUnsuccessfulEnds5-EEE", None)),
        alert_email="ops@example.com")
    assert stack.env_name == "dev"


def test_a_stack_that_is_not_onyx_s_is_one_clear_error():
    without_load = {"Resources": {k: v for k, v in TEMPLATE["Resources"].items() if k != "PipelineLoadFunction2"}}

    with pytest.raises(TargetError, match=r"^stack Onyx-dev has no AlertTopicArn output: is it an Onyx stack\?$"):
        _read(StateMachineArn=MACHINE)
    with pytest.raises(TargetError, match=r"^stack Onyx-dev has no function running lambdas.load.handler.handler$"):
        _read(without_load)
    with pytest.raises(TargetError, match=r"^stack Onyx-nope: ValidationError: Stack with id Onyx-nope does not exist"):
        DeployedStack.read(_CloudFormation(TEMPLATE, {}), "Onyx-nope")


def test_the_operator_policy_grants_each_call_of_the_check_on_this_stack_s_resources_only():
    prefix = "arn:aws:{}:eu-west-2:123456789012:"
    assert _read().operator_policy() == {"Version": "2012-10-17", "Statement": [
        {"Sid": "FindTheStack", "Effect": "Allow",
         "Action": ["cloudformation:DescribeStacks", "cloudformation:GetTemplate", "cloudformation:ListStackResources"],
         "Resource": prefix.format("cloudformation") + "stack/Onyx-dev/*"},
        {"Sid": "StartARun", "Effect": "Allow", "Action": ["states:StartExecution"], "Resource": MACHINE},
        {"Sid": "FollowTheRun", "Effect": "Allow", "Action": ["states:DescribeExecution", "states:GetExecutionHistory"],
         "Resource": prefix.format("states") + "execution:PipelineStateMachine-X1:*"},
        {"Sid": "AskTheProbes", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
         "Resource": [prefix.format("lambda") + "function:Onyx-dev-PipelineExtractFunction1-AAA",
                      prefix.format("lambda") + "function:Onyx-dev-PipelineLoadFunction2-BBB"]},
        {"Sid": "ReadTheAlertSubscriptions", "Effect": "Allow", "Action": ["sns:ListSubscriptionsByTopic"],
         "Resource": TOPIC},
        {"Sid": "ReadTheRules", "Effect": "Allow", "Action": ["events:DescribeRule"],
         "Resource": [prefix.format("events") + "rule/Onyx-dev-PipelineSchedule4-DDD",
                      prefix.format("events") + "rule/Onyx-dev-RunAlertsUnsuccessfulEnds5-EEE"]},
    ]}


class _Lambda:
    """Answers an invoke as Lambda does: a payload stream, FunctionError when the handler raised; or refuses it."""

    def __init__(self, payload: Any = None, function_error: bool = False, refuse: Exception | None = None) -> None:
        self.payload, self.function_error, self.refuse = payload, function_error, refuse
        self.calls: list[dict[str, Any]] = []

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.refuse is not None:
            raise self.refuse
        answer: dict[str, Any] = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.payload).encode())}
        if self.function_error:
            answer["FunctionError"] = "Unhandled"
        return answer


def _log(function: str) -> str:
    return f"log of {function}"


def test_a_probe_is_asked_with_exactly_its_event_and_its_answer_is_returned():
    lam = _Lambda({"probe": "warehouse", "views": {}})

    assert ask_probe(lam, _read(), "load", "warehouse", _log) == {"probe": "warehouse", "views": {}}
    assert lam.calls == [{"FunctionName": "Onyx-dev-PipelineLoadFunction2-BBB", "Payload": b'{"probe": "warehouse"}'}]


def test_a_refused_invoke_names_the_permission_and_a_failed_probe_names_its_error_and_log():
    denied = ClientError({"Error": {"Code": "AccessDeniedException", "Message": "User: x is not authorized"}}, "Invoke")
    failed = {"errorType": "WarehouseUnavailable", "errorMessage": "warehouse unavailable (connecting): timeout"}

    assert ask_probe(_Lambda(refuse=denied), _read(), "extract", "source", _log) == ProbeFailure(
        "AccessDeniedException: User: x is not authorized",
        ("the operator needs lambda:InvokeFunction on arn:aws:lambda:eu-west-2:123456789012:function:"
         "Onyx-dev-PipelineExtractFunction1-AAA; python -m ops smoke --stack Onyx-dev --policy prints the whole "
         "policy",))
    assert ask_probe(_Lambda(failed, function_error=True), _read(), "load", "warehouse", _log) == ProbeFailure(
        "WarehouseUnavailable: warehouse unavailable (connecting): timeout",
        ("log of Onyx-dev-PipelineLoadFunction2-BBB",))
    timeout = ReadTimeoutError(endpoint_url="https://lambda")
    assert ask_probe(_Lambda(refuse=timeout), _read(), "load", "warehouse", _log) == ProbeFailure(
        'Read timeout on endpoint URL: "https://lambda"')


def test_a_function_that_does_not_know_the_probe_is_told_apart_from_one_that_answers_it():
    # An older deployment's Load takes the probe event for a state's input and fails on it; one that returns
    # something else entirely is named too.
    assert ask_probe(_Lambda({"run_id": "x"}), _read(), "load", "warehouse", _log) == ProbeFailure(
        "not a warehouse probe's answer: {'run_id': 'x'}",
        ("is the function running this version of Onyx? deploy it again",))
