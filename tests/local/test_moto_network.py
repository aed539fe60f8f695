"""The local cloud with a VPC configured (`python -m local up -c vpcId=... -c subnetIds=...`): the account's network
is made in moto under the configured ids, and the stack that runs functions in it deploys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from local.deploy import deploy, synthesize
from local.moto_cloud import REGION, MotoCloud
from local.moto_cloud_constants import OPERATOR_CREDENTIALS, signed_with
from local.moto_network import create_network
from stacks.config import cdk_json_context, load_config

VPC = "vpc-0a1b2c3d4e5f60718"
SUBNETS = ("subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60722")
ROUTE_TABLE = "rtb-0a1b2c3d4e5f60733"
GROUP = "sg-0a1b2c3d4e5f60744"


def _config(**overrides: str) -> Any:
    return load_config({**cdk_json_context(), **overrides})


def _ec2() -> Any:
    return boto3.client("ec2", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def test_the_configured_network_is_made_under_its_own_ids(aws):
    config = _config(vpcId=VPC, subnetIds=",".join(SUBNETS), routeTableIds=ROUTE_TABLE, securityGroupIds=GROUP)

    assert create_network(config) == [VPC, *SUBNETS, ROUTE_TABLE, GROUP]

    ec2 = _ec2()
    subnets = ec2.describe_subnets(SubnetIds=list(SUBNETS))["Subnets"]
    assert [(s["SubnetId"], s["VpcId"]) for s in subnets] == [(subnet, VPC) for subnet in SUBNETS]
    # one subnet per zone, as an interface endpoint requires
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert [t["VpcId"] for t in ec2.describe_route_tables(RouteTableIds=[ROUTE_TABLE])["RouteTables"]] == [VPC]
    assert [g["VpcId"] for g in ec2.describe_security_groups(GroupIds=[GROUP])["SecurityGroups"]] == [VPC]
    # moto makes up ids again once the configured ones are made
    assert ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"] != VPC


def test_without_a_vpc_nothing_is_made(aws):
    assert create_network(_config()) == []
    assert [vpc["IsDefault"] for vpc in _ec2().describe_vpcs()["Vpcs"]] == [True]  # moto's default VPC alone


@pytest.mark.slow
def test_a_stack_in_a_vpc_deploys_into_the_local_cloud(tmp_path: Path):
    overrides = {"vpcId": VPC, "subnetIds": ",".join(SUBNETS), "routeTableIds": ROUTE_TABLE,
                 "vpcEndpoints": "s3,secretsmanager,sts,xray"}
    cloud = MotoCloud(state_dir=tmp_path / "cloud").start()
    try:
        outdir, context = synthesize(tmp_path / "cdk.out", overrides)
        clients = {name: boto3.client(name, endpoint_url=cloud.endpoint_url, region_name=REGION,
                                      **signed_with(OPERATOR_CREDENTIALS))
                   for name in ("s3", "ssm", "cloudformation", "stepfunctions", "events", "ec2", "lambda")}

        deployment = deploy(clients, outdir, context)

        group = deployment.outputs["FunctionSecurityGroupId"]
        placed = {f["FunctionName"].split("-")[2]: f.get("VpcConfig") for f in
                  clients["lambda"].list_functions()["Functions"]}
        in_vpc = {"SubnetIds": list(SUBNETS), "SecurityGroupIds": [group], "VpcId": "vpc-123abc"}  # moto's VpcId
        assert placed == {"PipelineExtractFunction1AE65049": in_vpc, "PipelineTransformFunction091D1A09": in_vpc,
                          "PipelineLoadFunctionEF3470D5": in_vpc, "PipelineAdvanceWatermarkFunction9B210950": None,
                          "PipelineRebuildFunction1AAC7CF5": None, "RunAlertsNotifyFunction7BF81A21": None}
        endpoints = clients["ec2"].describe_vpc_endpoints()["VpcEndpoints"]
        assert sorted((e["ServiceName"], e["VpcEndpointType"], e["VpcId"]) for e in endpoints) == [
            (f"com.amazonaws.{REGION}.{service}", kind, VPC)
            for service, kind in (("s3", "Gateway"), ("secretsmanager", "Interface"), ("sts", "Interface"),
                                  ("xray", "Interface"))]
    finally:
        cloud.stop()
