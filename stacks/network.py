"""Private networking (`vpcId`): the functions that move the tables' data run in the subnets of an existing VPC.

Everything here synthesizes offline, with no account to look anything up in: the VPC, subnets, route tables and
security groups are taken by id (`stacks/config.py` checks their shape), never looked up (no `Vpc.from_lookup`),
and the resources are CloudFormation's own types, so the template says exactly what is asked for:

- each placed function gets `VpcConfig: {SubnetIds, SecurityGroupIds}`, and its own execution role the network
  interface permissions Lambda uses to connect it (CDK adds those only to roles it creates itself);
- without `securityGroupIds`, one security group for the functions, whose only egress is PostgreSQL (5432) and
  HTTPS (443); its id is a stack output, for the databases' inbound rule;
- each endpoint of `vpcEndpoints` the VPC lacks: S3 as a gateway (a route in `routeTableIds`), the others as
  interface endpoints with private DNS in the functions' subnets, behind a security group admitting 443 from the
  functions' groups.

Without `vpcId` none of this exists and the template is what it was.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.config import OnyxConfig

POSTGRES_PORT: Final = 5432
HTTPS_PORT: Final = 443
# Any IPv4 address. The functions' egress names ports, not hosts: the databases are wherever their secrets say
# (a host name resolved at run time: in this VPC, a peered one, or behind a NAT), and AWS's APIs are either the
# interface endpoints' addresses in the subnets or, through the S3 gateway endpoint or a NAT, public ones. The
# databases' own inbound rule (from the functions' security group only) is what keeps anyone else out. DNS needs no
# rule: security groups do not filter traffic to the VPC's Amazon-provided resolver.
ANYWHERE_IPV4: Final = "0.0.0.0/0"

# What Lambda does with the function's execution role to connect it to the VPC: the actions of the AWS managed
# policy AWSLambdaVPCAccessExecutionRole (v3, January 2024), less its CloudWatch Logs ones (each role already writes
# its own log group). Lambda creates the function's network interfaces with them when the function is created or
# its VPC settings change (and again after the interfaces were reclaimed from an idle function): without them the
# deploy fails ("The provided execution role does not have permissions to call CreateNetworkInterface on EC2").
NETWORK_INTERFACE_ACTIONS: Final = (
    "ec2:CreateNetworkInterface",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
# No resource-level permissions: EC2 authorizes these on "*" only.
NETWORK_DESCRIBE_ACTIONS: Final = ("ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets")

# Each endpoint the stack can create: the construct id, and the service. S3 is a gateway endpoint (a route to S3's
# prefix list in the route tables, free); the others are interface endpoints (network interfaces in the subnets).
S3_GATEWAY: Final = ec2.GatewayVpcEndpointAwsService.S3
INTERFACE_SERVICES: Final = {
    "secretsmanager": ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
    "sts": ("Sts", ec2.InterfaceVpcEndpointAwsService.STS),
    "xray": ("XRay", ec2.InterfaceVpcEndpointAwsService.XRAY),
}
# A destination no packet can have (CDK's own idiom for a security group with no egress): without any egress rule,
# EC2 gives a security group one allowing everything.
NO_EGRESS: Final = ec2.CfnSecurityGroup.EgressProperty(
    ip_protocol="icmp", cidr_ip="255.255.255.255/32", from_port=252, to_port=86, description="Disallow all traffic"
)


class FunctionNetwork(Construct):
    """Where the functions that move the tables' data run when the configuration names a VPC."""

    def __init__(self, scope: Construct, construct_id: str, *, config: OnyxConfig) -> None:
        super().__init__(scope, construct_id)
        if config.vpc_id is None:
            raise ValueError("FunctionNetwork needs a configuration with vpcId")
        self.vpc_id = config.vpc_id
        self.subnet_ids = config.subnet_ids
        # The functions' security group: the given ones, or one of the stack's own.
        self.security_group: ec2.CfnSecurityGroup | None = None
        if config.security_group_ids:
            self.security_group_ids: tuple[str, ...] = config.security_group_ids
        else:
            self.security_group = ec2.CfnSecurityGroup(
                self,
                "FunctionSecurityGroup",
                vpc_id=self.vpc_id,
                group_description=f"Onyx {config.env_name} functions: egress to PostgreSQL and HTTPS only",
                # No ingress: nothing connects to a Lambda function's network interface.
                security_group_egress=[
                    ec2.CfnSecurityGroup.EgressProperty(
                        ip_protocol="tcp", from_port=POSTGRES_PORT, to_port=POSTGRES_PORT, cidr_ip=ANYWHERE_IPV4,
                        description="PostgreSQL: the Totesys and warehouse databases",
                    ),
                    ec2.CfnSecurityGroup.EgressProperty(
                        ip_protocol="tcp", from_port=HTTPS_PORT, to_port=HTTPS_PORT, cidr_ip=ANYWHERE_IPV4,
                        description="HTTPS: S3, Secrets Manager and X-Ray, through endpoints or a NAT",
                    ),
                ],
            )
            self.security_group_ids = (self.security_group.attr_group_id,)
        self.endpoints: dict[str, ec2.CfnVPCEndpoint] = {}
        self.endpoint_security_group: ec2.CfnSecurityGroup | None = None
        if "s3" in config.vpc_endpoints:
            self.endpoints["s3"] = ec2.CfnVPCEndpoint(
                self,
                "S3Endpoint",
                vpc_id=self.vpc_id,
                service_name=S3_GATEWAY.name,
                vpc_endpoint_type="Gateway",
                route_table_ids=list(config.route_table_ids),
            )
        interfaces = [name for name in config.vpc_endpoints if name in INTERFACE_SERVICES]
        if interfaces:
            endpoint_group = ec2.CfnSecurityGroup(
                self,
                "EndpointSecurityGroup",
                vpc_id=self.vpc_id,
                group_description=f"Onyx {config.env_name} interface endpoints: HTTPS from the functions only",
                security_group_ingress=[
                    ec2.CfnSecurityGroup.IngressProperty(
                        ip_protocol="tcp", from_port=HTTPS_PORT, to_port=HTTPS_PORT, source_security_group_id=group,
                        description="HTTPS from the Onyx functions",
                    )
                    for group in self.security_group_ids
                ],
                # An endpoint only answers: it opens no connection of its own.
                security_group_egress=[NO_EGRESS],
            )
            self.endpoint_security_group = endpoint_group
            for name in interfaces:
                construct_name, service = INTERFACE_SERVICES[name]
                self.endpoints[name] = ec2.CfnVPCEndpoint(
                    self,
                    f"{construct_name}Endpoint",
                    vpc_id=self.vpc_id,
                    service_name=service.name,
                    vpc_endpoint_type="Interface",
                    subnet_ids=list(self.subnet_ids),
                    security_group_ids=[endpoint_group.attr_group_id],
                    # The service's usual host name resolves to the endpoint inside the VPC: boto3 needs no setting.
                    private_dns_enabled=True,
                )

    def place(self, function: lambda_.Function, role: iam.Role) -> None:
        """Run `function` in the subnets, with the functions' security groups; its role (the one Lambda connects it
        with) gets the network interface permissions."""
        cfn_function = function.node.default_child
        if not isinstance(cfn_function, lambda_.CfnFunction):
            raise TypeError(f"{function.node.path} has no AWS::Lambda::Function")
        cfn_function.vpc_config = lambda_.CfnFunction.VpcConfigProperty(
            subnet_ids=list(self.subnet_ids), security_group_ids=list(self.security_group_ids)
        )
        # Created after the stack's endpoints: the schedule never starts a run whose way to AWS is still being built.
        for endpoint in self.endpoints.values():
            cfn_function.node.add_dependency(endpoint)
        # In the role's default policy, which the function depends on (DependsOn, as CDK makes every function depend on
        # its role and the role's policies): CloudFormation attaches the permissions before Lambda needs them, and on
        # deletion removes them only after the function and its network interfaces are gone.
        # How narrow: EC2 authorizes CreateNetworkInterface on the new interface, its subnet and its security groups
        # (the Service Authorization Reference), so naming the configured subnets and groups keeps Lambda's interfaces
        # for these functions there, with no Condition needed. Delete, AssignPrivateIpAddresses and
        # UnassignPrivateIpAddresses name the interface only, whose id exists once Lambda made it: this account's
        # interfaces in the region (AWS's Lambda guide warns that a DeleteNetworkInterface narrower than that can cut
        # the function off from the VPC).
        role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageNetworkInterfaces",
                actions=list(NETWORK_INTERFACE_ACTIONS),
                resources=[self.network_interfaces_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="CreateNetworkInterfacesInConfiguredSubnets",
                actions=["ec2:CreateNetworkInterface"],
                resources=[*self.subnet_arns, *self.security_group_arns],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(sid="DescribeNetworkInterfaces", actions=list(NETWORK_DESCRIBE_ACTIONS),
                                resources=["*"])
        )

    @property
    def network_interfaces_arn(self) -> str:
        """Every network interface of this account and region: the ones Lambda creates get their ids then."""
        return Stack.of(self).format_arn(service="ec2", resource="network-interface", resource_name="*",
                                         arn_format=ArnFormat.SLASH_RESOURCE_NAME)

    @property
    def subnet_arns(self) -> list[str]:
        # Any account: in a shared VPC the subnets belong to the VPC owner's account. A subnet id is unique anyway.
        return [Stack.of(self).format_arn(service="ec2", account="*", resource="subnet", resource_name=subnet,
                                          arn_format=ArnFormat.SLASH_RESOURCE_NAME) for subnet in self.subnet_ids]

    @property
    def security_group_arns(self) -> list[str]:
        stack = Stack.of(self)
        if self.security_group is not None:
            return [stack.format_arn(service="ec2", resource="security-group", arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                                     resource_name=self.security_group.attr_group_id)]
        # Any account, as for the subnets: a given security group may be shared with this account.
        return [stack.format_arn(service="ec2", account="*", resource="security-group", resource_name=group,
                                 arn_format=ArnFormat.SLASH_RESOURCE_NAME) for group in self.security_group_ids]
