"""Deployment configuration: CDK context (`cdk.json` per environment, `-c KEY=VALUE` overrides) -> validated."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from lambdas.shared.constants import (
    DEFAULT_SAFETY_LAG_SECONDS,
    DEFAULT_SCHEDULE_MINUTES,
    PIPELINE_MACHINE_SUFFIX,
    REBUILD_MACHINE_SUFFIX,
)
from lambdas.shared.database import DEFAULT_SSL_MODE, SSL_MODES

REPO: Final = Path(__file__).resolve().parent.parent
CDK_JSON: Final = REPO / "cdk.json"
CONTEXT_ROOT: Final = "onyx"
ENV_KEY: Final = "env"
DEFAULT_ENV: Final = "dev"

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}
)
_DOMAIN_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Secrets Manager's names; RDS names the secrets it manages for a database's master user `rds!db-<id>` or
# `rds!cluster-<id>` (a prefix of its own, the only names with "!").
_SECRET_NAME = re.compile(r"^(?:rds!)?[A-Za-z0-9/_+=.@-]{1,512}$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_HOST = re.compile(rf"^{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*$")
# EC2 resource ids: a prefix and 8 (older) or 17 hexadecimal digits.
_EC2_ID = {
    prefix: re.compile(rf"^{prefix}-(?:[0-9a-f]{{8}}|[0-9a-f]{{17}})$") for prefix in ("vpc", "subnet", "sg", "rtb")
}
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z]{2}(-[a-z]+)+-\d:\d{12}:key/(?:mrk-[0-9a-f]{32}|[0-9a-f-]{36})$")
# The settings that list EC2 resources by id, and the prefix of each id.
_EC2_ID_LISTS: Final = {"subnet_ids": "subnet", "security_group_ids": "sg", "route_table_ids": "rtb"}
# The interface (or, for S3, gateway) endpoints a VPC without a NAT needs for what the functions call.
VPC_ENDPOINTS: Final = ("s3", "secretsmanager", "sts", "xray")
# Environments that must page a person: they refuse to synthesize without alertEmail.
ALERT_EMAIL_REQUIRED: Final = frozenset({"prod"})

MemoryMb = Annotated[int, Field(ge=128, le=10240)]
TimeoutSeconds = Annotated[int, Field(ge=1, le=900)]
Port = Annotated[int, Field(ge=1, le=65535)]


class ConfigError(ValueError):
    """The deployment configuration is missing or invalid; the message names the context key."""


class OnyxConfig(BaseModel):
    """What one environment of Onyx is deployed with. Keys are camelCase in `cdk.json` and on `-c`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    env_name: str = Field(default=DEFAULT_ENV, exclude=True)
    # None: no e-mail subscription (said at synth); environments in ALERT_EMAIL_REQUIRED refuse that.
    alert_email: str | None = None
    schedule_minutes: Annotated[int, Field(ge=1, le=1440)] = DEFAULT_SCHEDULE_MINUTES
    safety_lag_seconds: Annotated[int, Field(ge=0, le=3600)] = DEFAULT_SAFETY_LAG_SECONDS
    source_secret_name: str
    warehouse_secret_name: str
    warehouse_schema: str = "public"
    extract_memory_mb: MemoryMb = 1024
    extract_timeout_seconds: TimeoutSeconds = 900
    transform_memory_mb: MemoryMb = 2048
    transform_timeout_seconds: TimeoutSeconds = 900
    load_memory_mb: MemoryMb = 1024
    load_timeout_seconds: TimeoutSeconds = 900
    execution_timeout_minutes: Annotated[int, Field(ge=5, le=1440)] = 120
    # A rebuild's own state machine (docs/operations.md): a year of 15-minute runs takes hours; Step Functions allows
    # a Standard execution a year.
    rebuild_timeout_hours: Annotated[int, Field(ge=1, le=8760)] = 24
    log_retention_days: int = 30
    log_level: str = "INFO"
    noncurrent_version_days: Annotated[int, Field(ge=1, le=3650)] = 90
    # Days an ingestion object stays in S3 Standard before its lifecycle moves it to Glacier Instant Retrieval
    # (stacks/data_lake.py). S3 itself takes 0 and up for GLACIER_IR; under 30 the runs that may still re-read a
    # file (a failed run's retry, a replay of the transform's state) would pay Glacier IR's retrieval fee for a
    # saving of under two cents a GB.
    archive_after_days: Annotated[int, Field(ge=30, le=3650)] = 90
    # Days a rebuild's scratch (`rebuilds/<rebuild_id>/` in the processed bucket) lives; more than any rebuild takes.
    rebuild_scratch_days: Annotated[int, Field(ge=1, le=365)] = 7
    access_log_days: Annotated[int, Field(ge=1, le=3650)] = 365
    account: str | None = None
    region: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    # Private networking: the extract, transform and load functions run in these subnets of this VPC.
    vpc_id: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()  # none: one security group of the stack's, egress only
    route_table_ids: tuple[str, ...] = ()  # for the S3 gateway endpoint
    vpc_endpoints: tuple[str, ...] = ()  # subset of VPC_ENDPOINTS the stack creates (the VPC lacks them)
    # Where each database is, when its secret does not say (the secret RDS manages holds only the login), how
    # its connection is protected, and the customer managed KMS key its secret is encrypted with, if any.
    source_host: str | None = None
    source_port: Port | None = None
    source_database: str | None = None
    source_ssl_mode: str = DEFAULT_SSL_MODE
    source_secret_key_arn: str | None = None
    warehouse_host: str | None = None
    warehouse_port: Port | None = None
    warehouse_database: str | None = None
    warehouse_ssl_mode: str = DEFAULT_SSL_MODE
    warehouse_secret_key_arn: str | None = None
    # A PEM bundle of the certificate authorities verify-ca / verify-full trust (the RDS one), as a path in this
    # repository; it is shipped in the functions' code. None: the runtime's default trust store.
    ssl_root_cert: str | None = None

    @field_validator("alert_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _EMAIL.fullmatch(value.strip()):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value.strip()

    @field_validator("subnet_ids", "security_group_ids", "route_table_ids", "vpc_endpoints", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        # `-c subnetIds=subnet-1,subnet-2` arrives as one string; cdk.json may hold a list.
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("vpc_id")
    @classmethod
    def _vpc_id(cls, value: str | None) -> str | None:
        return _ec2_id("vpc", value) if value else None

    @field_validator(*_EC2_ID_LISTS)
    @classmethod
    def _ec2_ids(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return tuple(_ec2_id(_EC2_ID_LISTS[str(info.field_name)], item) for item in value)

    @field_validator("vpc_endpoints")
    @classmethod
    def _vpc_endpoints(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [item for item in value if item not in VPC_ENDPOINTS]
        if unknown:
            raise ValueError(
                f"unknown endpoint {', '.join(map(repr, unknown))}; choose from {', '.join(VPC_ENDPOINTS)}")
        return tuple(dict.fromkeys(value))

    @field_validator("source_host", "warehouse_host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        if value is not None and not _HOST.fullmatch(value):
            raise ValueError(f"not a host name or IPv4 address: {value!r}")
        return value

    @field_validator("source_database", "warehouse_database")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is not None and not 0 < len(value) <= 63:
            raise ValueError(f"not a PostgreSQL database name (1-63 characters): {value!r}")
        return value

    @field_validator("source_ssl_mode", "warehouse_ssl_mode")
    @classmethod
    def _ssl_mode(cls, value: str) -> str:
        if value not in SSL_MODES:
            raise ValueError(f"not an sslmode; use one of {', '.join(SSL_MODES)}: {value!r}")
        return value

    @field_validator("source_secret_key_arn", "warehouse_secret_key_arn")
    @classmethod
    def _kms_key_arn(cls, value: str | None) -> str | None:
        if value is not None and not _KMS_KEY_ARN.fullmatch(value):
            raise ValueError(f"not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>): {value!r}")
        return value

    @field_validator("ssl_root_cert")
    @classmethod
    def _ssl_root_cert(cls, value: str | None) -> str | None:
        if not value:
            return None
        path = (REPO / value).resolve()
        if not path.is_relative_to(REPO) or not path.is_file():
            raise ValueError(f"not a file in this repository (a path relative to it, shipped with the functions): "
                             f"{value!r}")
        return path.relative_to(REPO).as_posix()

    @model_validator(mode="after")
    def _consistent(self) -> OnyxConfig:
        if self.alert_email is None and self.env_name in ALERT_EMAIL_REQUIRED:
            raise ValueError(f"alertEmail: is required in the {self.env_name!r} environment (failed runs and "
                             "alarms must reach a person)")
        if self.vpc_id and not self.subnet_ids:
            raise ValueError("subnetIds: is required with vpcId (the private subnets the functions run in)")
        vpc_only = {"subnetIds": self.subnet_ids, "securityGroupIds": self.security_group_ids,
                    "routeTableIds": self.route_table_ids, "vpcEndpoints": self.vpc_endpoints}
        for key, value in vpc_only.items():
            if value and not self.vpc_id:
                raise ValueError(f"{key}: needs vpcId (it only applies to functions in a VPC)")
        if "s3" in self.vpc_endpoints and not self.route_table_ids:
            raise ValueError("routeTableIds: is required when vpcEndpoints includes s3 (a gateway endpoint is a "
                             "route in the subnets' route tables)")
        if self.rebuild_timeout_hours > 24 * self.rebuild_scratch_days:
            # The scratch rule counts from each file's writing: a rebuild outliving it would lose its own state.
            raise ValueError(f"rebuildTimeoutHours: {self.rebuild_timeout_hours} outlives rebuildScratchDays "
                             f"({self.rebuild_scratch_days} days), after which a rebuild's own files expire; raise "
                             "rebuildScratchDays")
        return self

    @field_validator("source_secret_name", "warehouse_secret_name")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        if not _SECRET_NAME.fullmatch(value):
            raise ValueError(f"not a Secrets Manager secret name (1-512 of A-Z a-z 0-9 /_+=.@-, or RDS's own "
                             f"rds!...): {value!r}")
        return value

    @field_validator("warehouse_schema")
    @classmethod
    def _schema(cls, value: str) -> str:
        if not _IDENTIFIER.fullmatch(value):
            raise ValueError(f"not a lower-case PostgreSQL identifier ({_IDENTIFIER.pattern}): {value!r}")
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"{value} is not a CloudWatch Logs retention; use one of {sorted(LOG_RETENTION_DAYS)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"not a log level (DEBUG, INFO, WARNING, ERROR, CRITICAL): {value!r}")
        return level

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not _ACCOUNT.fullmatch(value):
            raise ValueError(f"not a 12-digit AWS account id: {value!r}")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.fullmatch(value):
            raise ValueError(f"not an AWS region: {value!r}")
        return value

    @field_validator("tags", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        # `-c tags={"team":"data"}` arrives as a string.
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"not a JSON object of tag names to values: {value!r}") from error
        if isinstance(value, Mapping):
            for key in value:
                if not _TAG_KEY.fullmatch(str(key)) or str(key).lower().startswith("aws:"):
                    raise ValueError(f"not a valid tag key: {key!r}")
        return value

    @property
    def stack_name(self) -> str:
        return f"Onyx-{self.env_name}"

    @property
    def pipeline_state_machine_name(self) -> str:
        """Set, not generated: the rebuild's first step lists its running executions, and it refers to that step."""
        return f"{self.stack_name}{PIPELINE_MACHINE_SUFFIX}"

    @property
    def rebuild_state_machine_name(self) -> str:
        return f"{self.stack_name}{REBUILD_MACHINE_SUFFIX}"

    @property
    def in_vpc(self) -> bool:
        return self.vpc_id is not None


def _ec2_id(prefix: str, value: str) -> str:
    if not _EC2_ID[prefix].fullmatch(value):
        raise ValueError(f"not a {prefix}- id ({prefix}- and 8 or 17 hexadecimal digits): {value!r}")
    return value


KEYS: Final = tuple(field.alias or name for name, field in OnyxConfig.model_fields.items() if name != "env_name")


def required_keys(env_name: str) -> tuple[str, ...]:
    """The keys environment `env_name` cannot do without."""
    required = tuple(field.alias or name for name, field in OnyxConfig.model_fields.items() if field.is_required())
    return (*required, "alertEmail") if env_name in ALERT_EMAIL_REQUIRED else required


# Context keys that are not an environment's settings: the environment to build, and the environments.
OWN_KEYS: Final = (ENV_KEY, CONTEXT_ROOT)
# A context key shaped like ours (a plain camelCase word). CDK's own keys have "@", ":" or "-" in them
# (feature flags, aws:cdk:..., lookups cached in cdk.context.json), so a key of this shape that we do not
# know is a typo: `-c scheduleMinute=5` would otherwise be ignored without a word.
_OUR_SHAPE = re.compile(r"^[a-z][A-Za-z0-9]*$")


def unknown_keys(context_keys: Iterable[str]) -> list[str]:
    """The keys of `context_keys` that look like Onyx settings but are none."""
    known = {*KEYS, *OWN_KEYS}
    return sorted(key for key in context_keys if _OUR_SHAPE.fullmatch(key) and key not in known)


def check_keys(context_keys: Iterable[str]) -> None:
    """Raise ConfigError naming each unknown key and the known ones."""
    unknown = unknown_keys(context_keys)
    if unknown:
        raise ConfigError(
            f"unknown context key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
            f"known keys: {', '.join((*OWN_KEYS, *KEYS))}"
        )


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The `context` of cdk.json, as the CDK CLI passes it to the app."""
    context: dict[str, Any] = json.loads(path.read_text())["context"]
    return context


def load_config(context: Mapping[str, Any]) -> OnyxConfig:
    """Build the config for the environment `context["env"]` (default dev); `-c KEY=VALUE` overrides a key.

    Raises ConfigError naming the offending key (and where its value came from).
    """
    env_name = str(context.get(ENV_KEY) or DEFAULT_ENV)
    root = context.get(CONTEXT_ROOT)
    if isinstance(root, str):  # a context value given on the command line arrives as JSON text
        root = json.loads(root)
    if not isinstance(root, Mapping) or not isinstance(root.get("environments"), Mapping):
        raise ConfigError(f"cdk.json context is missing '{CONTEXT_ROOT}.environments' (one object per environment)")
    environments: Mapping[str, Any] = root["environments"]
    if env_name not in environments:
        raise ConfigError(
            f"context key '{ENV_KEY}': unknown environment {env_name!r}; "
            f"cdk.json '{CONTEXT_ROOT}.environments' defines {sorted(environments)}"
        )
    values = dict(environments[env_name] or {})
    sources = {key: f"cdk.json context '{CONTEXT_ROOT}.environments.{env_name}.{key}'" for key in values}
    for key in KEYS:
        if key in context:
            values[key] = context[key]
            sources[key] = f"context key '{key}' (-c {key}=...)"
    try:
        return OnyxConfig.model_validate({**values, "envName": env_name})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            message = item["msg"].removeprefix("Value error, ")
            if item["loc"]:
                key = str(item["loc"][0])
            else:  # a rule across keys (_consistent) names its key first: "key: message"
                key, _, message = message.partition(": ")
            where = sources.get(key, f"cdk.json context '{CONTEXT_ROOT}.environments.{env_name}.{key}'")
            if item["type"] == "missing":
                message = "is required"
            elif item["type"] == "extra_forbidden":
                message = f"is not a known key; known keys: {', '.join(KEYS)}"
            problems.append(f"{key}: {message} (from {where})")
        raise ConfigError(
            f"invalid Onyx configuration for environment {env_name!r}:\n  " + "\n  ".join(problems)
        ) from None
