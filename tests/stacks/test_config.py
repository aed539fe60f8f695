"""Configuration from cdk.json context: defaults per environment, -c overrides, and errors that name the key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from stacks.application import build_app
from stacks.bundling import REPO
from stacks.config import ConfigError, OnyxConfig, cdk_json_context, load_config


def config_with(**overrides: Any) -> OnyxConfig:
    return load_config({**cdk_json_context(), **overrides})


def test_dev_is_the_default_environment():
    config = config_with()
    assert config.env_name == "dev"
    assert config.stack_name == "Onyx-dev"
    assert config.source_secret_name == "onyx/dev/totesys"
    assert config.schedule_minutes == 15


def test_env_selects_another_environment():
    config = config_with(env="prod")
    assert config.stack_name == "Onyx-prod"
    assert config.warehouse_secret_name == "onyx/prod/warehouse"


def test_command_line_values_override_the_environment_as_text():
    config = config_with(scheduleMinutes="30", alertEmail="ops@example.org", tags='{"team": "data"}')
    assert config.schedule_minutes == 30
    assert config.alert_email == "ops@example.org"
    assert config.tags == {"team": "data"}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("alertEmail", "not-an-email"),
        ("scheduleMinutes", "0"),
        ("scheduleMinutes", "1441"),
        ("scheduleMinutes", "often"),
        ("warehouseSchema", "Bad-Schema"),
        ("sourceSecretName", ""),
        ("warehouseSecretName", "has space"),
        ("logRetentionDays", "31"),
        ("safetyLagSeconds", "-1"),
        ("extractMemoryMb", "64"),
        ("loadTimeoutSeconds", "901"),
    ],
)
def test_bad_value_fails_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"{key}: .*\(from context key '{key}' \(-c {key}=\.\.\.\)\)"):
        config_with(**{key: value})


def test_missing_required_value_names_the_key_in_cdk_json():
    context = cdk_json_context()
    dev = dict(context["onyx"]["environments"]["dev"])
    del dev["alertEmail"]
    context["onyx"] = {"environments": {"dev": dev}}
    with pytest.raises(ConfigError, match=r"alertEmail: is required"):
        load_config(context)


def test_misspelt_key_in_cdk_json_is_refused():
    context = cdk_json_context()
    context["onyx"] = {"environments": {"dev": {**context["onyx"]["environments"]["dev"], "alertMail": "a@b.co"}}}
    with pytest.raises(ConfigError, match=r"alertMail: is not a known key; known keys: alertEmail, "):
        load_config(context)


def test_unknown_environment_names_the_env_key():
    with pytest.raises(ConfigError, match=r"context key 'env': unknown environment 'staging'; .* \['dev', 'prod'\]"):
        config_with(env="staging")


def test_building_the_app_with_a_bad_value_fails_before_synth():
    with pytest.raises(ConfigError, match="scheduleMinutes"):
        build_app({"scheduleMinutes": "0"})


@pytest.mark.slow
def test_cdk_synth_with_a_bad_value_exits_with_the_key_named(tmp_path):
    # What `cdk synth -c alertEmail=nope` runs: app.py with the CLI's context in CDK_CONTEXT_JSON.
    context = {**cdk_json_context(), "alertEmail": "nope"}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env={**os.environ, "CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "error: invalid Onyx configuration for environment 'dev':" in result.stderr
    assert "alertEmail: not an e-mail address: 'nope'" in result.stderr
