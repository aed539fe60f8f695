"""Several environments in one account or in several: `account`/`region` of an environment pin its stack, and
everything the stack names per environment (stack, alarms, dashboard, metrics) keeps dev and prod apart."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.application import build_app, stack_of
from stacks.config import CONTEXT_ROOT, cdk_json_context

DEV_ACCOUNT, PROD_ACCOUNT = "111111111111", "222222222222"


def _environments_with(**settings: dict[str, Any]) -> dict[str, Any]:
    """cdk.json's `onyx` context, with these settings added to the named environments."""
    root = copy.deepcopy(cdk_json_context()[CONTEXT_ROOT])
    for env, values in settings.items():
        root["environments"][env].update(values)
    return {CONTEXT_ROOT: root}


@pytest.fixture
def pinned() -> dict[str, Any]:
    return _environments_with(dev={"account": DEV_ACCOUNT, "region": "eu-west-2"},
                              prod={"account": PROD_ACCOUNT, "region": "eu-west-1",
                                    "alertEmail": "ops@example.org"})


@pytest.mark.parametrize(("env", "account", "region"), [
    ("dev", DEV_ACCOUNT, "eu-west-2"), ("prod", PROD_ACCOUNT, "eu-west-1")])
def test_an_environments_account_and_region_pin_its_stack_whatever_the_credentials_say(
        pinned, monkeypatch, env, account, region):
    # What `cdk deploy` holds the credentials to: with the stack's env pinned, credentials for another account
    # or region are refused instead of deploying the environment there.
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "999999999999")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "us-east-1")
    stack = stack_of(build_app({**pinned, "env": env}, nag=False))

    assert (stack.stack_name, stack.account, stack.region) == (f"Onyx-{env}", account, region)
    # The template itself names them where the stack needs them: the topic admits this account's alarms.
    (policy,) = Template.from_stack(stack).find_resources("AWS::SNS::TopicPolicy").values()
    (allow,) = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert allow["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:Onyx-{env}-*"},
    }


def test_the_command_line_overrides_an_environments_region(pinned):
    stack = stack_of(build_app({**pinned, "env": "dev", "region": "eu-central-1"}, nag=False))
    assert (stack.account, stack.region) == (DEV_ACCOUNT, "eu-central-1")


def test_without_account_and_region_the_stack_takes_the_credentials_or_stays_agnostic(monkeypatch):
    monkeypatch.setenv("CDK_DEFAULT_ACCOUNT", "333333333333")
    monkeypatch.setenv("CDK_DEFAULT_REGION", "eu-north-1")
    stack = stack_of(build_app({}, nag=False))
    assert (stack.account, stack.region) == ("333333333333", "eu-north-1")

    monkeypatch.delenv("CDK_DEFAULT_ACCOUNT")
    monkeypatch.delenv("CDK_DEFAULT_REGION")
    agnostic = stack_of(build_app({}, nag=False))
    assert agnostic.resolve(agnostic.account) == {"Ref": "AWS::AccountId"}
    assert agnostic.resolve(agnostic.region) == {"Ref": "AWS::Region"}


def test_dev_and_prod_in_one_account_name_nothing_alike():
    # Deployed side by side in one account and region, the two stacks must not collide on a name CloudFormation
    # or CloudWatch requires unique there, nor share a dashboard or alarm.
    names = {}
    for env in ("dev", "prod"):
        template = Template.from_stack(stack_of(build_app({"env": env, "alertEmail": "ops@example.org"},
                                                          nag=False))).to_json()
        names[env] = {
            value for resource in template["Resources"].values()
            for key, value in resource.get("Properties", {}).items()
            if key in ("AlarmName", "DashboardName", "LogGroupName", "StateMachineName", "Name", "TopicName")
            and isinstance(value, str)
        }
    assert names["dev"]
    assert names["prod"]
    assert names["dev"] & names["prod"] == set()
    assert all("dev" in name for name in names["dev"]), names["dev"]
    assert all("prod" in name for name in names["prod"]), names["prod"]
