"""A deployed Onyx stack (`Onyx-<env>`) as a target, found through CloudFormation.

The stack's `StateMachineArn` output names the pipeline. The secrets and the warehouse schema are what
the deployed functions were configured with: their environment in the stack's template
(ONYX_WAREHOUSE_SECRET_NAME, ONYX_SOURCE_SECRET_NAME, ONYX_WAREHOUSE_SCHEMA), so a `-c` override given at
deploy time is honoured and nothing has to be kept in step by hand. The secrets are read with the
operator's own credentials (the usual AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, or --profile and --region).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.shared.constants import Env
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.secrets import Role, database_settings
from ops.targets import TargetError


def _reason(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', 'error')}: {details.get('Message', '')}".rstrip(": ")


def _template_body(cfn: Any, stack_name: str) -> dict[str, Any]:
    body = cfn.get_template(StackName=stack_name)["TemplateBody"]
    # botocore hands a JSON template back already parsed; a YAML one (not CDK's) stays a string.
    parsed = json.loads(body) if isinstance(body, str) else body
    if not isinstance(parsed, dict):
        raise TargetError(f"stack {stack_name}: its template is not a JSON object")
    return parsed


def function_environment(template: dict[str, Any]) -> dict[str, str]:
    """The literal environment variables of every Lambda function in the template, merged."""
    merged: dict[str, str] = {}
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        # References (bucket names and the like) are resolved by CloudFormation; only literals name a secret.
        merged.update({k: v for k, v in variables.items() if isinstance(v, str)})
    return merged


@dataclass
class StackTarget:
    stack_name: str
    session: Any  # boto3.Session
    outputs: dict[str, str]
    environment: dict[str, str]
    _credentials: dict[str, DatabaseCredentials] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def open(cls, stack_name: str, *, region: str | None = None, profile: str | None = None) -> StackTarget:
        try:
            # AWS_REGION as Lambda and most SDKs read it; boto3 itself reads only AWS_DEFAULT_REGION.
            session = boto3.Session(profile_name=profile, region_name=region or os.environ.get("AWS_REGION"))
        except BotoCoreError as exc:  # e.g. the profile does not exist
            raise TargetError(f"AWS credentials: {exc}") from None
        if not session.region_name:
            raise TargetError("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION, or give --region "
                              "(or a profile with a region)")
        cfn = session.client("cloudformation")
        try:
            stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
            template = _template_body(cfn, stack_name)
        except ClientError as exc:
            if "does not exist" in str(exc):
                raise TargetError(f"stack {stack_name} not found in {session.region_name}: check --stack "
                                  "(Onyx-<env>), the region and the account of your credentials") from None
            raise TargetError(f"stack {stack_name}: {_reason(exc)}") from None
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        return cls(stack_name, session, outputs, function_environment(template))

    @property
    def description(self) -> str:
        return f"stack {self.stack_name} ({self.session.region_name})"

    def state_machine_arn(self) -> str:
        arn = self.outputs.get("StateMachineArn")
        if not arn:
            raise TargetError(f"stack {self.stack_name} has no StateMachineArn output: is it an Onyx stack?")
        return arn

    def stepfunctions(self) -> Any:
        return self.session.client("stepfunctions")

    def client(self, service: str, config: Any = None) -> Any:
        return self.session.client(service, config=config)

    def warehouse_schema(self) -> str:
        return self.environment.get(Env.WAREHOUSE_SCHEMA) or "public"

    def warehouse(self) -> DatabaseCredentials:
        return self._from_secret(Env.WAREHOUSE_SECRET_NAME, "warehouse")

    def source(self) -> DatabaseCredentials:
        return self._from_secret(Env.SOURCE_SECRET_NAME, "source")

    def _from_secret(self, variable: str, role: Role) -> DatabaseCredentials:
        name = self.environment.get(variable)
        if not name:
            raise TargetError(f"stack {self.stack_name} names no {role} secret (no function has {variable}): "
                              "is it an Onyx stack?")
        if name not in self._credentials:
            self._credentials[name] = self._read(name, role)
        return self._credentials[name]

    def _read(self, name: str, role: Role) -> DatabaseCredentials:
        where = f"the {role} secret {name} (named by stack {self.stack_name})"
        try:
            value = self.session.client("secretsmanager").get_secret_value(SecretId=name)
        except ClientError as exc:
            raise TargetError(f"cannot read {where}: {_reason(exc)}") from None
        try:
            secret = json.loads(value.get("SecretString") or "")
            if not isinstance(secret, dict):
                raise ValueError("not a JSON object")
            # What the secret lacks, the functions' settings give (sourceHost, ...), as they do for the functions.
            return DatabaseCredentials.from_secret(secret, database_settings(role, self.environment))
        except ValueError as exc:  # json.JSONDecodeError is one; the value itself is never shown
            raise TargetError(f"{where} is not database credentials: "
                              f"{'not JSON' if isinstance(exc, json.JSONDecodeError) else exc}") from None
