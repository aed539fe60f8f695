"""Stands in for the account's own network when the configuration names one (`-c vpcId=... -c subnetIds=...`).

On AWS the VPC, its subnets, route tables and any given security groups exist before Onyx is deployed (the stack
never creates a VPC, it runs functions in one). moto starts from an empty account, and its CloudFormation refuses a
security group or an endpoint in a VPC it does not know; so they are made in moto's EC2 first, under the very ids the
template names. moto makes up every id itself: each is created with moto's id generator for its kind swapped for
the configured id, for that one call.

Locally the network is only scenery: the functions still run as local processes, with the same reach as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import ModuleType
from typing import Final

from moto.ec2.models import ec2_backends
from moto.ec2.models import route_tables as moto_route_tables
from moto.ec2.models import security_groups as moto_security_groups
from moto.ec2.models import subnets as moto_subnets
from moto.ec2.models import vpcs as moto_vpcs

from local.moto_cloud_constants import ACCOUNT, REGION
from stacks.config import OnyxConfig

VPC_CIDR: Final = "10.0.0.0/16"


@contextlib.contextmanager
def _next_id(module: ModuleType, generator: str, value: str) -> Iterator[None]:
    """moto's `module.generator()` (e.g. vpcs.random_vpc_id) returns `value` while the context lasts."""
    original = getattr(module, generator)
    setattr(module, generator, lambda: value)
    try:
        yield
    finally:
        setattr(module, generator, original)


def create_network(config: OnyxConfig) -> list[str]:
    """Create in moto the VPC, subnets, route tables and security groups `config` names; returns their ids (none
    without vpcId)."""
    if config.vpc_id is None:
        return []
    backend = ec2_backends[ACCOUNT][REGION]
    with _next_id(moto_vpcs, "random_vpc_id", config.vpc_id):
        backend.create_vpc(cidr_block=VPC_CIDR)
    zones = [zone.name for zone in backend.describe_availability_zones()]
    for index, subnet in enumerate(config.subnet_ids):
        # One subnet per zone, as an interface endpoint requires, for as long as the region has zones.
        with _next_id(moto_subnets, "random_subnet_id", subnet):
            backend.create_subnet(vpc_id=config.vpc_id, cidr_block=f"10.0.{index}.0/24",
                                  availability_zone=zones[index % len(zones)])
    for table in config.route_table_ids:
        with _next_id(moto_route_tables, "random_route_table_id", table):
            backend.create_route_table(vpc_id=config.vpc_id)
    for group in config.security_group_ids:
        with _next_id(moto_security_groups, "random_security_group_id", group):
            backend.create_security_group(name=f"onyx-local-{group}", description="a given security group",
                                          vpc_id=config.vpc_id)
    return [config.vpc_id, *config.subnet_ids, *config.route_table_ids, *config.security_group_ids]
