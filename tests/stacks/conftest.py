"""The synthesized Onyx templates, each once per test session (synth runs cdk-nag; the default one bundles the Lambda
asset)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import CfnElement
from constructs import IConstruct

from stacks.application import build_app, stack_of
from stacks.config import OnyxConfig
from stacks.onyx_stack import OnyxStack

Resource = dict[str, Any]


@dataclass(frozen=True)
class Synthesized:
    outdir: Path
    stack: OnyxStack
    config: OnyxConfig
    template: dict[str, Any]
    validation_report: dict[str, Any]

    def resources(self, type_: str) -> dict[str, Resource]:
        return {key: value for key, value in self.template["Resources"].items() if value["Type"] == type_}

    def logical_id(self, construct: IConstruct) -> str:
        """The logical id of a construct's CloudFormation resource (an L2's default child)."""
        element = construct if isinstance(construct, CfnElement) else construct.node.default_child
        assert isinstance(element, CfnElement)
        return self.stack.resolve(element.logical_id)  # type: ignore[no-any-return]

    def resource(self, construct: IConstruct) -> Resource:
        return self.template["Resources"][self.logical_id(construct)]  # type: ignore[no-any-return]

    def definition(self, machine_construct: IConstruct | None = None) -> dict[str, Any]:
        """A state machine's ASL (the pipeline's by default), with `${LogicalId}` / `${AWS::Region}` in place of
        CloudFormation references."""
        machine = self.resource(machine_construct or self.stack.pipeline.state_machine)
        parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
        text = "".join(part if isinstance(part, str) else _placeholder(part) for part in parts)
        asl: dict[str, Any] = json.loads(text)
        return asl


def _placeholder(reference: dict[str, Any]) -> str:
    if "Ref" in reference:
        return f"${{{reference['Ref']}}}"
    logical_id, attribute = reference["Fn::GetAtt"]
    return f"${{{logical_id}.{attribute}}}"


def synthesize(outdir: Path, context: dict[str, Any]) -> Synthesized:
    """The app of cdk.json's default environment with `context` on top, environment-agnostic (no account/region, as a
    CI synth is), cdk-nag checked."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("CDK_DEFAULT_ACCOUNT", raising=False)
        patch.delenv("CDK_DEFAULT_REGION", raising=False)
        app = build_app(context, outdir=str(outdir))
        stack = stack_of(app)
        try:
            app.synth()
        except RuntimeError as error:
            # cdk-nag findings fail synth after writing the template and the report; test_nag shows them.
            if "ValidationFailed" not in str(error):
                raise
    template = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    report = json.loads((outdir / "validation-report.json").read_text())
    return Synthesized(
        outdir=outdir,
        stack=stack,
        config=stack.config,
        template=template,
        validation_report=report,
    )


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """The default environment as `cdk synth` makes it: the Lambda asset bundled."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), {})


# In a VPC (tests/stacks/test_vpc.py): ids of the shape AWS gives (17 hexadecimal digits).
VPC_ID = "vpc-0a1b2c3d4e5f60718"
SUBNET_IDS = ("subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60722")
ROUTE_TABLE_IDS = ("rtb-0a1b2c3d4e5f60733",)
SECURITY_GROUP_IDS = ("sg-0a1b2c3d4e5f60744", "sg-0a1b2c3d4e5f60755")
# No bundling: the asset is the same as in `synthesized`, and these tests read the template only.
NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


@pytest.fixture(scope="session")
def synthesized_in_vpc(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """In a VPC with the stack's own security group and every endpoint it can create."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), {
        **NO_BUNDLING, "vpcId": VPC_ID, "subnetIds": ",".join(SUBNET_IDS), "routeTableIds": ",".join(ROUTE_TABLE_IDS),
        "vpcEndpoints": "s3,secretsmanager,sts,xray"})


@pytest.fixture(scope="session")
def synthesized_in_vpc_with_groups(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """In a VPC with given security groups (cdk.json may hold lists), and the Secrets Manager endpoint only."""
    return synthesize(tmp_path_factory.mktemp("cdk.out"), {
        **NO_BUNDLING, "vpcId": VPC_ID, "subnetIds": list(SUBNET_IDS), "securityGroupIds": list(SECURITY_GROUP_IDS),
        "vpcEndpoints": "secretsmanager"})


@pytest.fixture(scope="session")
def definition(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.definition()


@pytest.fixture(scope="session")
def rebuild_definition(synthesized: Synthesized) -> dict[str, Any]:
    return synthesized.definition(synthesized.stack.pipeline.rebuild_state_machine)
