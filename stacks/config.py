"""Deployment configuration: CDK context (`cdk.json` per environment, `-c KEY=VALUE` overrides) -> validated."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from lambdas.shared.constants import DEFAULT_SAFETY_LAG_SECONDS, DEFAULT_SCHEDULE_MINUTES

CDK_JSON: Final = Path(__file__).resolve().parent.parent / "cdk.json"
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
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")

MemoryMb = Annotated[int, Field(ge=128, le=10240)]
TimeoutSeconds = Annotated[int, Field(ge=1, le=900)]


class ConfigError(ValueError):
    """The deployment configuration is missing or invalid; the message names the context key."""


class OnyxConfig(BaseModel):
    """What one environment of Onyx is deployed with. Keys are camelCase in `cdk.json` and on `-c`."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)

    env_name: str = Field(default=DEFAULT_ENV, exclude=True)
    alert_email: str
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
    log_retention_days: int = 30
    log_level: str = "INFO"
    noncurrent_version_days: Annotated[int, Field(ge=1, le=3650)] = 90
    access_log_days: Annotated[int, Field(ge=1, le=3650)] = 365
    account: str | None = None
    region: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("alert_email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not _EMAIL.fullmatch(value.strip()):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value.strip()

    @field_validator("source_secret_name", "warehouse_secret_name")
    @classmethod
    def _secret_name(cls, value: str) -> str:
        if not _SECRET_NAME.fullmatch(value):
            raise ValueError(f"not a Secrets Manager secret name (1-512 of A-Z a-z 0-9 /_+=.@-): {value!r}")
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


KEYS: Final = tuple(field.alias or name for name, field in OnyxConfig.model_fields.items() if name != "env_name")


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
            key = str(item["loc"][0]) if item["loc"] else "?"
            where = sources.get(key, f"cdk.json context '{CONTEXT_ROOT}.environments.{env_name}.{key}'")
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "is required"
            elif item["type"] == "extra_forbidden":
                message = f"is not a known key; known keys: {', '.join(KEYS)}"
            problems.append(f"{key}: {message} (from {where})")
        raise ConfigError(
            f"invalid Onyx configuration for environment {env_name!r}:\n  " + "\n  ".join(problems)
        ) from None
