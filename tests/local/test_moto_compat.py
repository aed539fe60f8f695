"""moto answering as AWS does where the smoke check looks: an e-mail subscription, made by the template or by
Subscribe, awaits its confirmation (AWS lists it as `PendingConfirmation`); other protocols do not."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local import moto_compat
from tests.fixtures.aws import REGION, Aws


def _client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)  # the aws fixture's moto account and credentials

TEMPLATE = {"Resources": {
    "Topic": {"Type": "AWS::SNS::Topic"},
    "Queue": {"Type": "AWS::SQS::Queue"},
    "Email": {"Type": "AWS::SNS::Subscription",
              "Properties": {"Protocol": "email", "Endpoint": "ops@example.com", "TopicArn": {"Ref": "Topic"}}},
    "ToQueue": {"Type": "AWS::SNS::Subscription",
                "Properties": {"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]},
                               "TopicArn": {"Ref": "Topic"}}},
}}


@pytest.fixture
def compat(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """The local cloud's fixes installed for the test (undone after it)."""
    moto_compat.apply(monkeypatch.setattr)
    return aws


def _listed(topic: str) -> list[tuple[str, str]]:
    return [(s["Protocol"], s["SubscriptionArn"] if s["SubscriptionArn"] == "PendingConfirmation" else "arn")
            for s in _client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]


def test_the_template_s_e_mail_subscription_awaits_confirmation_and_its_queue_subscription_does_not(compat):
    cfn = _client("cloudformation")
    cfn.create_stack(StackName="alerts", TemplateBody=json.dumps(TEMPLATE))
    resources: dict[str, Any] = {r["LogicalResourceId"]: r for r in
                                 cfn.describe_stack_resources(StackName="alerts")["StackResources"]}

    topic = resources["Topic"]["PhysicalResourceId"]
    assert sorted(_listed(topic)) == [("email", "PendingConfirmation"), ("sqs", "arn")]
    assert resources["Email"]["PhysicalResourceId"].startswith(f"{topic}:")
    assert "AWS::SNS::Subscription Email" not in moto_compat.accepted_placeholders


def test_an_e_mail_subscribed_through_the_api_awaits_confirmation_too(compat):
    sns = _client("sns")
    topic = sns.create_topic(Name="alerts")["TopicArn"]

    arn = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")["SubscriptionArn"]

    assert _listed(topic) == [("email", "PendingConfirmation")]
    assert sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["PendingConfirmation"] == "true"
