"""Configuration from cdk.json context: defaults per environment, -c overrides, and errors that name the key."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from stacks.application import build_app
from stacks.bundling import REPO
from stacks.config import ConfigError, OnyxConfig, cdk_json_context, load_config, unknown_keys


def config_with(**overrides: Any) -> OnyxConfig:
    return load_config({**cdk_json_context(), **overrides})


def test_dev_is_the_default_environment():
    config = config_with()
    assert config.env_name == "dev"
    assert config.stack_name == "Onyx-dev"
    assert config.source_secret_name == "onyx/dev/totesys"
    assert config.schedule_minutes == 15


def test_env_selects_another_environment():
    config = config_with(env="prod", alertEmail="ops@example.org")
    assert config.stack_name == "Onyx-prod"
    assert config.warehouse_secret_name == "onyx/prod/warehouse"


def test_command_line_values_override_the_environment_as_text():
    config = config_with(scheduleMinutes="30", alertEmail=" ops@example.org ", tags='{"team": "data"}')
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


def test_retention_settings_default_to_90_days_in_standard_and_7_days_of_rebuild_scratch():
    config = config_with()
    assert (config.archive_after_days, config.rebuild_scratch_days) == (90, 7)


@pytest.mark.parametrize(("key", "value"), [("archiveAfterDays", "30"), ("archiveAfterDays", "3650"),
                                            ("rebuildScratchDays", "1"), ("rebuildScratchDays", "365")])
def test_retention_settings_take_their_bounds(key, value):
    assert config_with(**{key: value}).model_dump(by_alias=True)[key] == int(value)


@pytest.mark.parametrize(("key", "value", "message"), [
    ("archiveAfterDays", "29", "Input should be greater than or equal to 30"),
    ("archiveAfterDays", "3651", "Input should be less than or equal to 3650"),
    ("archiveAfterDays", "never", "Input should be a valid integer"),
    ("rebuildScratchDays", "0", "Input should be greater than or equal to 1"),
    ("rebuildScratchDays", "366", "Input should be less than or equal to 365"),
])
def test_retention_setting_out_of_range_fails_naming_the_key(key, value, message):
    with pytest.raises(ConfigError, match=rf"\n  {key}: {message}.* \(from context key '{key}' \(-c {key}=\.\.\.\)\)$"):
        config_with(**{key: value})


def test_missing_required_value_names_the_key_in_cdk_json():
    context = cdk_json_context()
    dev = dict(context["onyx"]["environments"]["dev"])
    del dev["sourceSecretName"]
    context["onyx"] = {"environments": {"dev": dev}}
    with pytest.raises(ConfigError, match=r"sourceSecretName: is required \(from cdk.json context "
                                          r"'onyx.environments.dev.sourceSecretName'\)"):
        load_config(context)


def test_no_environment_of_cdk_json_has_a_placeholder_alert_address():
    for env in cdk_json_context()["onyx"]["environments"].values():
        assert "alertEmail" not in env


def test_dev_without_an_alert_address_has_none():
    assert config_with().alert_email is None
    assert config_with(alertEmail="").alert_email is None


def test_prod_without_an_alert_address_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match=r"environment 'prod':\n  alertEmail: is required in the 'prod' environment "
                                          r"\(failed runs and alarms must reach a person\) \(from cdk.json context "
                                          r"'onyx.environments.prod.alertEmail'\)$"):
        config_with(env="prod")
    assert config_with(env="prod", alertEmail="ops@example.org").alert_email == "ops@example.org"


def test_building_prod_without_an_alert_address_fails_before_synth():
    with pytest.raises(ConfigError, match="alertEmail: is required in the 'prod' environment"):
        build_app({"env": "prod"})


def test_vpc_settings_from_the_command_line_are_comma_separated():
    config = config_with(vpcId="vpc-0123456789abcdef0", subnetIds="subnet-0123456789abcdef0, subnet-01234567",
                         securityGroupIds="sg-0123456789abcdef0", routeTableIds="rtb-0123456789abcdef0",
                         vpcEndpoints="s3,secretsmanager,s3")
    assert config.in_vpc
    assert config.subnet_ids == ("subnet-0123456789abcdef0", "subnet-01234567")
    assert config.security_group_ids == ("sg-0123456789abcdef0",)
    assert config.route_table_ids == ("rtb-0123456789abcdef0",)
    assert config.vpc_endpoints == ("s3", "secretsmanager")
    assert not config_with().in_vpc


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"vpcId": "vpc-0123456789abcdef0"}, "subnetIds: is required with vpcId"),
        ({"subnetIds": "subnet-01234567"}, "subnetIds: needs vpcId"),
        ({"vpcId": "vpc-01234567", "subnetIds": "subnet-01234567", "vpcEndpoints": "s3"},
         "routeTableIds: is required when vpcEndpoints includes s3"),
        ({"vpcId": "vpc-01234567", "subnetIds": "subnet-01234567", "vpcEndpoints": "dynamodb"},
         "vpcEndpoints: unknown endpoint 'dynamodb'; choose from s3, secretsmanager, sts, xray"),
        ({"vpcId": "vpc-1", "subnetIds": "subnet-01234567"}, "vpcId: not a vpc- id"),
        ({"vpcId": "vpc-01234567", "subnetIds": "sg-01234567"}, "subnetIds: not a subnet- id"),
        ({"sourceSslMode": "allow"}, "sourceSslMode: not an sslmode; use one of disable, prefer, require, "
                                     "verify-ca, verify-full: 'allow'"),
        ({"warehousePort": "0"}, "warehousePort: Input should be greater than or equal to 1"),
        ({"sourceHost": "db host"}, "sourceHost: not a host name"),
        ({"sourceSecretKeyArn": "alias/aws/secretsmanager"},  # pragma: allowlist secret
         "sourceSecretKeyArn: not a KMS key ARN"),
        ({"sslRootCert": "../shared/ca.pem"}, "sslRootCert: not a file in this repository"),
        ({"sslRootCert": "certs/missing.pem"}, "sslRootCert: not a file in this repository"),
    ],
)
def test_inconsistent_or_malformed_deployment_settings_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_with(**overrides)


def test_database_settings_default_to_tls_and_the_secret():
    config = config_with(sourceHost="totesys.abc.eu-west-2.rds.amazonaws.com", sourcePort="5433",
                         warehouseSecretKeyArn="arn:aws:kms:eu-west-2:123456789012:key/"  # pragma: allowlist secret
                                               "1234abcd-12ab-34cd-56ef-1234567890ab",
                         sslRootCert="cdk.json")
    assert (config.source_host, config.source_port, config.source_database) == (
        "totesys.abc.eu-west-2.rds.amazonaws.com", 5433, None)
    assert (config.source_ssl_mode, config.warehouse_ssl_mode) == ("require", "require")
    assert config.warehouse_secret_key_arn.endswith(":key/1234abcd-12ab-34cd-56ef-1234567890ab")
    assert config.ssl_root_cert == "cdk.json"


def test_an_unknown_command_line_key_is_refused_naming_it_and_the_known_ones():
    with pytest.raises(ConfigError, match=r"^unknown context key 'scheduleMinute'; known keys: env, onyx, alertEmail, "
                                          r"scheduleMinutes, "):
        build_app({"scheduleMinute": "5"})


def test_cdk_own_context_keys_are_not_taken_for_typos():
    assert unknown_keys(["@aws-cdk/core:checkSecretUsage", "aws:cdk:bundling-stacks", "acknowledged-issue-numbers",
                         "availability-zones:account=123456789012:region=eu-west-2", "env", "onyx",
                         "scheduleMinutes", "vpcId"]) == []
    assert unknown_keys(["alertMail", "vpcID", "scheduleMinutes"]) == ["alertMail", "vpcID"]


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


def test_a_rebuild_may_not_outlive_its_own_scratch_files():
    assert config_with().rebuild_timeout_hours == 24
    assert config_with(rebuildTimeoutHours="168", rebuildScratchDays="7").rebuild_timeout_hours == 168
    with pytest.raises(ConfigError, match=r"rebuildTimeoutHours: 169 outlives rebuildScratchDays \(7 days\), after "
                                          r"which a rebuild's own files expire; raise rebuildScratchDays"):
        config_with(rebuildTimeoutHours="169", rebuildScratchDays="7")
    with pytest.raises(ConfigError, match=r"rebuildTimeoutHours"):
        config_with(rebuildTimeoutHours="0")
