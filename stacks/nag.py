"""cdk-nag: the AWS Solutions checks run on every synth; each acknowledged finding says why it is acceptable."""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnElement, Stack, Token, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from stacks.network import FunctionNetwork
from stacks.onyx_stack import OnyxStack
from stacks.pipeline import REBUILD_KEYS, WATERMARK_READS, WATERMARK_WRITES, StageFunction

PACK = "AwsSolutions"


def check_with_cdk_nag(app: App) -> None:
    """Run AwsSolutionsChecks at synth (findings fail `cdk synth`) and acknowledge the reviewed ones."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    for stack in app.node.children:
        if isinstance(stack, OnyxStack):
            acknowledge_reviewed_findings(stack)


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))


def _cfn(element: IConstruct) -> CfnElement:
    child = element.node.default_child
    if not isinstance(child, CfnElement):
        raise TypeError(f"{element.node.path} has no CloudFormation resource")
    return child


def _pseudo(value: str, name: str) -> str:
    """A stack's partition, region or account as cdk-nag prints it: the value if known, else `<AWS::Name>`."""
    return f"<AWS::{name}>" if Token.is_unresolved(value) else value


def _arn_of(element: IConstruct) -> str:
    """How cdk-nag names a resource's ARN in a finding: `<LogicalId.Arn>`."""
    return f"<{Stack.of(element).get_logical_id(_cfn(element))}.Arn>"


def acknowledge_reviewed_findings(stack: OnyxStack) -> None:
    pipeline, lake = stack.pipeline, stack.data_lake
    notifier = stack.run_alerts.notifier
    for stage in (*pipeline.functions, notifier):
        acknowledge(
            stage.function,
            "L1",
            "Python 3.12 on purpose: the bundled wheels (pyarrow, pydantic-core) are built for cp312 "
            "(stacks/bundling.py); move runtime and --python-version together.",
        )
        acknowledge(
            stage.role,
            "IAM5[Resource::*]",
            "X-Ray active tracing: xray:PutTraceSegments/PutTelemetryRecords support no resource-level scoping."
            + (" In the VPC: ec2:DescribeNetworkInterfaces/DescribeSubnets, which Lambda uses to connect the function, "
               "support none either." if stage in pipeline.in_vpc else ""),
        )
    object_grants = {
        pipeline.extract.role: (lake.ingestion,),
        pipeline.transform.role: (lake.ingestion, lake.processed),
        pipeline.load.role: (lake.processed,),
    }
    for role, buckets in object_grants.items():
        for bucket in buckets:
            acknowledge(
                role,
                f"IAM5[Resource::{_arn_of(bucket)}/*]",
                "Object-level actions on this one pipeline bucket; keys are per table, date and run id, so they "
                "cannot be listed in advance. The actions are explicit (no s3:*, no delete).",
            )
    ingestion = _arn_of(lake.ingestion)
    for keys in (WATERMARK_READS, WATERMARK_WRITES):
        acknowledge(
            pipeline.advance_watermark.role,
            f"IAM5[Resource::{ingestion}/{keys}]",
            "AdvanceWatermark reads any run's extract manifest and adds a watermark object named by the run's "
            "high and id: one key pattern each, get or put only.",
        )
    acknowledge(
        pipeline.rebuild.role,
        f"IAM5[Resource::{ingestion}/{WATERMARK_READS}]",
        "A rebuild's plan reads every committed run's extract manifest: one key pattern, get only.",
    )
    acknowledge(
        pipeline.rebuild.role,
        f"IAM5[Resource::{_arn_of(lake.processed)}/{REBUILD_KEYS}]",
        "A rebuild's plan is written under its own prefix, rebuilds/<rebuild id>/: one key pattern, put only.",
    )
    if pipeline.network is not None:
        acknowledge_network_findings(stack, pipeline.network, pipeline.in_vpc)
    for machine, invoked in ((pipeline.state_machine, pipeline.stages),
                             (pipeline.rebuild_state_machine, (pipeline.rebuild, pipeline.transform, pipeline.load))):
        acknowledge(
            machine.role,
            "IAM5[Resource::*]",
            "Step Functions X-Ray tracing and CloudWatch Logs delivery (logs:*LogDelivery*) support no resource "
            "scoping.",
        )
        for stage in invoked:
            acknowledge(
                machine.role,
                f"IAM5[Resource::{_arn_of(stage.function)}:*]",
                "lambda:InvokeFunction on the function's versions and aliases (ARN:*), as CDK grants for a task.",
            )
    acknowledge(
        notifier.role,
        "IAM5[Action::kms:GenerateDataKey*]",
        "What SNS needs of a publisher to an encrypted topic (GenerateDataKey, GenerateDataKeyWithoutPlaintext), "
        "on the alert topic's own key only.",
    )
    for machine in (pipeline.state_machine, pipeline.rebuild_state_machine):
        machine_name = f"<{Stack.of(stack).get_logical_id(_cfn(machine))}.Name>"
        acknowledge(
            notifier.role,
            f"IAM5[Resource::arn:{_pseudo(stack.partition, 'Partition')}:states:{_pseudo(stack.region, 'Region')}:"
            f"{_pseudo(stack.account, 'AccountId')}:execution:{machine_name}:*]",
            "states:GetExecutionHistory on this state machine's executions, whose names are only known at run time.",
        )


def acknowledge_network_findings(stack: OnyxStack, network: FunctionNetwork, stages: tuple[StageFunction, ...]) -> None:
    """The network interface permissions of the functions in the VPC (stacks/network.py)."""
    partition, region = _pseudo(stack.partition, "Partition"), _pseudo(stack.region, "Region")
    account = _pseudo(stack.account, "AccountId")
    ec2 = f"arn:{partition}:ec2:{region}"
    given = () if network.security_group is not None else network.security_group_ids
    for stage in stages:
        acknowledge(
            stage.role,
            f"IAM5[Resource::{ec2}:{account}:network-interface/*]",
            "What Lambda does with the execution role to connect the function to the VPC (create, delete, assign and "
            "unassign addresses of its network interfaces): the interfaces get their ids only then. Creating one "
            "is limited to the configured subnets and security groups; this account and region only.",
        )
        for resource in (*(f"subnet/{subnet}" for subnet in network.subnet_ids),
                         *(f"security-group/{group}" for group in given)):
            acknowledge(
                stage.role,
                f"IAM5[Resource::{ec2}:*:{resource}]",
                "One configured subnet or security group, by its id (unique across accounts), in whichever account "
                "owns it: in a shared VPC that is the VPC owner's, not this one.",
            )
