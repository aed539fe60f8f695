"""Private networking (vpcId, stacks/network.py): what AWS needs to run the data functions in the VPC's subnets, exactly
when asked, and nothing of it otherwise. moto enforces none of it (the local cloud deploys the template, but ENIs,
security groups, endpoint routing and private DNS are not emulated): the template is the proof."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stacks.network import FunctionNetwork
from stacks.pipeline import StageFunction
from tests.stacks.conftest import ROUTE_TABLE_IDS, SECURITY_GROUP_IDS, SUBNET_IDS, VPC_ID, Synthesized
from tests.stacks.test_permissions import grants

# Every test here reads a synthesized template (some by fixture name, which tests/conftest.py cannot see): with the
# other template tests, where each synth is made once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stacks")]

IN_VPC = ("extract", "transform", "load")
EC2_ARN = "arn:${AWS::Partition}:ec2:${AWS::Region}"
NETWORK_INTERFACES = f"{EC2_ARN}:${{AWS::AccountId}}:network-interface/*"
DESCRIBE = {("ec2:DescribeNetworkInterfaces", "*"), ("ec2:DescribeSubnets", "*")}
# Create, delete, assign and unassign addresses: the interfaces of this account and region.
MANAGE = {(action, NETWORK_INTERFACES) for action in (
    "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses")}
# Creating one also needs the subnet and security groups it goes in: only the configured ones, in any account
# (a shared VPC's subnets are its owner's).
IN_SUBNETS = {("ec2:CreateNetworkInterface", f"{EC2_ARN}:*:subnet/{subnet}") for subnet in SUBNET_IDS}


def _stage(synthesized: Synthesized, name: str) -> StageFunction:
    stage: StageFunction = getattr(synthesized.stack.pipeline, name)
    return stage


def _properties(synthesized: Synthesized, construct: Any) -> dict[str, Any]:
    return dict(synthesized.resource(construct)["Properties"])


def _ec2_grants(synthesized: Synthesized, role: Any) -> set[tuple[str, str]]:
    return {(action, resource) for action, resource in grants(synthesized, role) if action.startswith("ec2:")}


def _network(synthesized: Synthesized) -> FunctionNetwork:
    network = synthesized.stack.network
    assert network is not None
    return network


def _own_group(synthesized: Synthesized) -> Any:
    group = _network(synthesized).security_group
    assert group is not None
    return group


def _endpoint_group(synthesized: Synthesized) -> Any:
    group = _network(synthesized).endpoint_security_group
    assert group is not None
    return group


def _group_ref(synthesized: Synthesized) -> dict[str, Any]:
    return {"Fn::GetAtt": [synthesized.logical_id(_own_group(synthesized)), "GroupId"]}


def _endpoints(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    """Each endpoint's properties (tags left out), by its service's last name: s3, secretsmanager, ..."""
    endpoints = {}
    for resource in synthesized.resources("AWS::EC2::VPCEndpoint").values():
        properties = {key: value for key, value in resource["Properties"].items() if key != "Tags"}
        separator, parts = properties.pop("ServiceName")["Fn::Join"]
        assert (separator, parts[:2]) == ("", ["com.amazonaws.", {"Ref": "AWS::Region"}])
        endpoints[parts[2].removeprefix(".")] = properties
    return endpoints


# --- the functions in the subnets ------------------------------------------------------------------------------------

@pytest.mark.parametrize("stage", IN_VPC)
def test_each_data_function_runs_in_the_subnets_with_the_stacks_security_group(synthesized_in_vpc, stage):
    function = _properties(synthesized_in_vpc, _stage(synthesized_in_vpc, stage).function)
    group = _group_ref(synthesized_in_vpc)
    assert function["VpcConfig"] == {"SubnetIds": list(SUBNET_IDS), "SecurityGroupIds": [group]}


@pytest.mark.parametrize("stage", IN_VPC)
def test_with_given_security_groups_each_data_function_uses_exactly_those(synthesized_in_vpc_with_groups, stage):
    synthesized = synthesized_in_vpc_with_groups
    function = _properties(synthesized, _stage(synthesized, stage).function)
    assert function["VpcConfig"] == {"SubnetIds": list(SUBNET_IDS), "SecurityGroupIds": list(SECURITY_GROUP_IDS)}


@pytest.mark.parametrize("synth", ["synthesized_in_vpc", "synthesized_in_vpc_with_groups"])
def test_advance_watermark_and_notify_stay_outside_the_vpc(request, synth):
    synthesized: Synthesized = request.getfixturevalue(synth)
    outside = (synthesized.stack.pipeline.advance_watermark.function, synthesized.stack.run_alerts.notifier.function)
    assert ["VpcConfig" in _properties(synthesized, function) for function in outside] == [False, False]
    in_vpc = [f for f in synthesized.resources("AWS::Lambda::Function").values() if "VpcConfig" in f["Properties"]]
    assert len(in_vpc) == 3


# --- the roles: what Lambda does with them to connect each function --------------------------------------------------

@pytest.mark.parametrize("stage", IN_VPC)
def test_each_data_functions_role_may_manage_network_interfaces_in_the_configured_subnets_and_group(
        synthesized_in_vpc, stage):
    group = f"{EC2_ARN}:${{AWS::AccountId}}:security-group/<{_group_ref(synthesized_in_vpc)['Fn::GetAtt'][0]}>"
    assert _ec2_grants(synthesized_in_vpc, _stage(synthesized_in_vpc, stage).role) == (
        MANAGE | IN_SUBNETS | {("ec2:CreateNetworkInterface", group)} | DESCRIBE)


@pytest.mark.parametrize("stage", IN_VPC)
def test_with_given_groups_the_roles_may_create_interfaces_with_those_groups_only(
        synthesized_in_vpc_with_groups, stage):
    synthesized = synthesized_in_vpc_with_groups
    groups = {("ec2:CreateNetworkInterface", f"{EC2_ARN}:*:security-group/{group}") for group in SECURITY_GROUP_IDS}
    assert _ec2_grants(synthesized, _stage(synthesized, stage).role) == MANAGE | IN_SUBNETS | groups | DESCRIBE


def test_roles_outside_the_vpc_get_no_network_permission(synthesized_in_vpc):
    stack = synthesized_in_vpc.stack
    roles = (stack.pipeline.advance_watermark.role, stack.run_alerts.notifier.role, stack.pipeline.state_machine.role)
    assert [_ec2_grants(synthesized_in_vpc, role) for role in roles] == [set(), set(), set()]


@pytest.mark.parametrize("stage", IN_VPC)
def test_each_function_is_created_after_its_roles_policy_and_the_endpoints(synthesized_in_vpc, stage):
    # Lambda creates the function's network interfaces with its role as the function is created: the permissions
    # must be attached by then (and, on deletion, stay until the function and its interfaces are gone).
    stage_function = _stage(synthesized_in_vpc, stage)
    policy = stage_function.role.node.find_child("DefaultPolicy")
    endpoints = sorted(synthesized_in_vpc.resources("AWS::EC2::VPCEndpoint"))
    depends_on = synthesized_in_vpc.resource(stage_function.function)["DependsOn"]
    assert sorted(depends_on) == sorted([synthesized_in_vpc.logical_id(policy),
                                         synthesized_in_vpc.logical_id(stage_function.role), *endpoints])
    assert ("ec2:CreateNetworkInterface", NETWORK_INTERFACES) in grants(synthesized_in_vpc, stage_function.role)


# --- the security groups ---------------------------------------------------------------------------------------------

def test_the_stacks_security_group_lets_out_postgresql_and_https_only_and_nothing_in(synthesized_in_vpc):
    group = _properties(synthesized_in_vpc, _own_group(synthesized_in_vpc))
    assert group["VpcId"] == VPC_ID
    assert group["GroupDescription"] == "Onyx dev functions: egress to PostgreSQL and HTTPS only"
    assert "SecurityGroupIngress" not in group
    assert group["SecurityGroupEgress"] == [
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "CidrIp": "0.0.0.0/0",
         "Description": "PostgreSQL: the Totesys and warehouse databases"},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
         "Description": "HTTPS: S3, Secrets Manager and X-Ray, through endpoints or a NAT"},
    ]


def test_the_stacks_security_group_id_is_an_output_for_the_databases_inbound_rule(synthesized_in_vpc):
    outputs = synthesized_in_vpc.template["Outputs"]
    assert outputs["FunctionSecurityGroupId"] == {"Value": _group_ref(synthesized_in_vpc)}


def test_with_given_groups_the_stack_creates_no_group_for_the_functions(synthesized_in_vpc_with_groups):
    synthesized = synthesized_in_vpc_with_groups
    assert _network(synthesized).security_group is None
    endpoints_group = synthesized.logical_id(_endpoint_group(synthesized))
    assert list(synthesized.resources("AWS::EC2::SecurityGroup")) == [endpoints_group]  # the only one
    assert "FunctionSecurityGroupId" not in synthesized.template["Outputs"]


def test_the_endpoints_admit_https_from_the_functions_groups_only_and_send_nothing(synthesized_in_vpc,
                                                                                  synthesized_in_vpc_with_groups):
    def rules(synthesized: Synthesized) -> tuple[list[Any], list[Any]]:
        group = _properties(synthesized, _endpoint_group(synthesized))
        assert group["VpcId"] == VPC_ID
        return group["SecurityGroupIngress"], group["SecurityGroupEgress"]

    def https_from(source: Any) -> dict[str, Any]:
        return {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "SourceSecurityGroupId": source,
                "Description": "HTTPS from the Onyx functions"}

    no_egress = [{"IpProtocol": "icmp", "FromPort": 252, "ToPort": 86, "CidrIp": "255.255.255.255/32",
                  "Description": "Disallow all traffic"}]
    assert rules(synthesized_in_vpc) == ([https_from(_group_ref(synthesized_in_vpc))], no_egress)
    assert rules(synthesized_in_vpc_with_groups) == ([https_from(group) for group in SECURITY_GROUP_IDS], no_egress)


# --- the endpoints ---------------------------------------------------------------------------------------------------

def test_every_endpoint_asked_for_exists_with_its_type_placement_and_private_dns(synthesized_in_vpc):
    group = {"Fn::GetAtt": [synthesized_in_vpc.logical_id(_endpoint_group(synthesized_in_vpc)), "GroupId"]}
    interface = {"VpcEndpointType": "Interface", "VpcId": VPC_ID, "SubnetIds": list(SUBNET_IDS),
                 "SecurityGroupIds": [group], "PrivateDnsEnabled": True}
    assert _endpoints(synthesized_in_vpc) == {
        "s3": {"VpcEndpointType": "Gateway", "VpcId": VPC_ID, "RouteTableIds": list(ROUTE_TABLE_IDS)},
        "secretsmanager": interface,
        "sts": interface,
        "xray": interface,
    }


def test_only_the_endpoints_asked_for_exist(synthesized_in_vpc_with_groups):
    assert list(_endpoints(synthesized_in_vpc_with_groups)) == ["secretsmanager"]


# --- without vpcId: today's template ---------------------------------------------------------------------------------

def test_without_a_vpc_nothing_of_it_exists(synthesized):
    template = synthesized.template
    assert synthesized.stack.network is None
    assert synthesized.stack.pipeline.in_vpc == ()
    assert [f for f in synthesized.resources("AWS::Lambda::Function").values() if "VpcConfig" in f["Properties"]] == []
    assert sorted({r["Type"] for r in template["Resources"].values() if r["Type"].startswith("AWS::EC2::")}) == []
    assert "FunctionSecurityGroupId" not in template["Outputs"]
    roles = [*(stage.role for stage in synthesized.stack.pipeline.stages), synthesized.stack.run_alerts.notifier.role,
             synthesized.stack.pipeline.state_machine.role]
    assert [_ec2_grants(synthesized, role) for role in roles] == [set()] * len(roles)
    assert '"ec2:' not in json.dumps(template)
