"""What the smoke check needs to know of a deployed Onyx stack, read from CloudFormation alone: the same calls
find the parts on AWS and on the local cloud (whose CloudFormation holds the very template `cdk deploy` sends).

The stack's template says which resource is which (a function by the handler it runs, a rule by its schedule or
its event pattern); `ListStackResources` gives their physical names. Nothing is keyed on CDK's generated
logical ids, so a construct moved in `stacks/` changes nothing here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.targets import TargetError

# The handler each function runs (stacks/pipeline.py), by the stage the smoke check asks.
HANDLERS = {"extract": "lambdas.extract.handler.handler", "load": "lambdas.load.handler.handler"}


@dataclass(frozen=True)
class Arn:
    """The parts of an ARN the policy needs: `arn:<partition>:<service>:<region>:<account>:<resource>`."""

    partition: str
    region: str
    account: str

    @classmethod
    def parse(cls, arn: str) -> Arn:
        parts = arn.split(":", 5)
        if len(parts) < 6 or parts[0] != "arn":
            raise TargetError(f"not an ARN: {arn!r}")
        return cls(partition=parts[1], region=parts[3], account=parts[4])


@dataclass(frozen=True)
class Rule:
    name: str
    schedule: str | None  # `rate(15 minutes)`; None for a rule matching events


@dataclass(frozen=True)
class DeployedStack:
    """The parts of one deployed Onyx stack the smoke check looks at."""

    name: str
    state_machine_arn: str
    alert_topic_arn: str
    functions: dict[str, str]  # stage ("extract", "load") -> function name
    rules: tuple[Rule, ...]
    # The e-mail address the template subscribes to the alert topic (alertEmail at deploy time), if any.
    alert_email: str | None

    @property
    def arn(self) -> Arn:
        return Arn.parse(self.state_machine_arn)

    @property
    def env_name(self) -> str | None:
        """`dev` for `Onyx-dev` (stacks/config.py names every stack so)."""
        prefix, _, env = self.name.partition("-")
        return env if prefix == "Onyx" and env else None

    @classmethod
    def read(cls, cfn: Any, stack_name: str) -> DeployedStack:
        """The stack's outputs, template and resources; TargetError naming what is missing or refused."""
        try:
            stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
            body = cfn.get_template(StackName=stack_name)["TemplateBody"]
            physical = {r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
                        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
                        for r in page["StackResourceSummaries"]}
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise TargetError(f"stack {stack_name}: {error.get('Code', 'error')}: {error.get('Message', '')}"
                              ) from None
        template = json.loads(body) if isinstance(body, str) else body
        resources: dict[str, Any] = template.get("Resources", {})
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        missing = [key for key in ("StateMachineArn", "AlertTopicArn") if not outputs.get(key)]
        if missing:
            raise TargetError(f"stack {stack_name} has no {' or '.join(missing)} output: is it an Onyx stack?")

        def of_type(kind: str) -> dict[str, dict[str, Any]]:
            return {logical: r.get("Properties", {}) for logical, r in resources.items() if r.get("Type") == kind}

        functions = {stage: physical[logical] for stage, handler in HANDLERS.items()
                     for logical, props in of_type("AWS::Lambda::Function").items()
                     if props.get("Handler") == handler and logical in physical}
        if set(functions) != set(HANDLERS):
            lacking = sorted(set(HANDLERS) - set(functions))
            raise TargetError(f"stack {stack_name} has no function running {', '.join(HANDLERS[s] for s in lacking)}")
        # A rule on the default bus is named by its physical id; on another bus it is `bus|name`.
        rules = tuple(Rule(physical[logical].split("|")[-1], props.get("ScheduleExpression"))
                      for logical, props in of_type("AWS::Events::Rule").items() if logical in physical)
        emails = [str(props["Endpoint"]) for props in of_type("AWS::SNS::Subscription").values()
                  if props.get("Protocol") == "email" and isinstance(props.get("Endpoint"), str)]
        return cls(name=stack_name, state_machine_arn=outputs["StateMachineArn"],
                   alert_topic_arn=outputs["AlertTopicArn"], functions=functions, rules=rules,
                   alert_email=emails[0] if emails else None)

    def function_arn(self, stage: str) -> str:
        arn = self.arn
        return f"arn:{arn.partition}:lambda:{arn.region}:{arn.account}:function:{self.functions[stage]}"

    def rule_arn(self, rule: Rule) -> str:
        arn = self.arn
        return f"arn:{arn.partition}:events:{arn.region}:{arn.account}:rule/{rule.name}"

    def operator_policy(self) -> dict[str, Any]:
        """The IAM policy that lets a person run `python -m ops smoke --stack <name>` and nothing more
        (the other `ops` commands need more: README "Operating an environment")."""
        arn = self.arn
        machine = self.state_machine_arn.rsplit(":", 1)[-1]
        return {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "FindTheStack", "Effect": "Allow",
                 "Action": ["cloudformation:DescribeStacks", "cloudformation:GetTemplate",
                            "cloudformation:ListStackResources"],
                 "Resource": f"arn:{arn.partition}:cloudformation:{arn.region}:{arn.account}:stack/{self.name}/*"},
                {"Sid": "StartARun", "Effect": "Allow", "Action": ["states:StartExecution"],
                 "Resource": self.state_machine_arn},
                {"Sid": "FollowTheRun", "Effect": "Allow",
                 "Action": ["states:DescribeExecution", "states:GetExecutionHistory"],
                 "Resource": f"arn:{arn.partition}:states:{arn.region}:{arn.account}:execution:{machine}:*"},
                {"Sid": "AskTheProbes", "Effect": "Allow", "Action": ["lambda:InvokeFunction"],
                 "Resource": [self.function_arn(stage) for stage in HANDLERS]},
                {"Sid": "ReadTheAlertSubscriptions", "Effect": "Allow", "Action": ["sns:ListSubscriptionsByTopic"],
                 "Resource": self.alert_topic_arn},
                {"Sid": "ReadTheRules", "Effect": "Allow", "Action": ["events:DescribeRule"],
                 "Resource": [self.rule_arn(rule) for rule in self.rules]},
            ],
        }
