"""Where the databases are and how their connections are protected, from the settings to the functions: the
variables of the function that reads each database's secret, the customer managed keys of the secrets (kms:Decrypt
on exactly that key, through Secrets Manager only, for exactly that function), and the CA bundle shipped in the code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lambdas.shared.constants import Env
from stacks.application import build_app, stack_of
from stacks.bundling import copy_sources, source_hash
from stacks.config import ConfigError
from tests.stacks.conftest import Synthesized
from tests.stacks.test_config import config_with
from tests.stacks.test_permissions import grants

# One app synthesized with every database setting (bundled, cdk-nag checked), on the worker that holds the default app.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stacks")]

SOURCE_KEY = "arn:aws:kms:eu-west-2:123456789012:key/0b5e5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
WAREHOUSE_KEY = "arn:aws:kms:eu-west-2:123456789012:key/mrk-0123456789abcdef0123456789abcdef"
CA_BUNDLE = "tests/stacks/data/test-ca.pem"
# The name RDS gives the secret it manages for an instance's master user.
RDS_SECRET = "rds!db-3f1c0a9e-5b7d-4c2a-9e8f-1a2b3c4d5e6f"  # pragma: allowlist secret
SETTINGS = {
    "sourceSecretName": RDS_SECRET,
    "sourceHost": "totesys.c1a2b3.eu-west-2.rds.amazonaws.com", "sourcePort": "5433", "sourceDatabase": "totesys",
    "sourceSslMode": "verify-full", "sourceSecretKeyArn": SOURCE_KEY,
    "warehouseHost": "warehouse.c1a2b3.eu-west-2.rds.amazonaws.com", "warehousePort": "6432",
    "warehouseDatabase": "dw", "warehouseSslMode": "verify-ca", "warehouseSecretKeyArn": WAREHOUSE_KEY,
    "sslRootCert": CA_BUNDLE,
}
VIA_SECRETS_MANAGER = {"StringEquals": {"kms:ViaService": {
    "Fn::Join": ["", ["secretsmanager.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}}


class Configured:
    def __init__(self, outdir: Path) -> None:
        app = build_app(SETTINGS, outdir=str(outdir))  # cdk-nag included: a finding fails the synth
        self.stack = stack_of(app)
        app.synth()
        self.template: dict[str, Any] = json.loads((outdir / f"{self.stack.stack_name}.template.json").read_text())
        assets = json.loads((outdir / f"{self.stack.stack_name}.assets.json").read_text())
        (asset,) = [a["source"]["path"] for a in assets["files"].values() if a["source"].get("packaging") == "zip"]
        self.asset_dir = outdir / asset

    def resource(self, construct: Any) -> dict[str, Any]:
        logical_id = self.stack.resolve(construct.node.default_child.logical_id)
        return dict(self.template["Resources"][logical_id])

    def statements(self, role: Any) -> list[dict[str, Any]]:
        role_id = self.stack.resolve(role.node.default_child.logical_id)
        return [statement for resource in self.template["Resources"].values()
                if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]
                for statement in resource["Properties"]["PolicyDocument"]["Statement"]]


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory) -> Configured:
    return Configured(tmp_path_factory.mktemp("configured"))


def _variables(configured: Configured, stage: str) -> dict[str, Any]:
    function = configured.resource(getattr(configured.stack.pipeline, stage).function)
    return dict(function["Properties"]["Environment"]["Variables"])


def _on_secret_keys(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [statement for statement in statements if statement["Resource"] in (SOURCE_KEY, WAREHOUSE_KEY)]


def test_the_function_reading_each_secret_gets_its_database_settings_and_the_ca_bundle(configured):
    extract, load = _variables(configured, "extract"), _variables(configured, "load")
    assert {k: extract.get(k) for k in (Env.SOURCE_HOST, Env.SOURCE_PORT, Env.SOURCE_DATABASE, Env.SOURCE_SSL_MODE,
                                         Env.SSL_ROOT_CERT)} == {
        Env.SOURCE_HOST: "totesys.c1a2b3.eu-west-2.rds.amazonaws.com", Env.SOURCE_PORT: "5433",
        Env.SOURCE_DATABASE: "totesys", Env.SOURCE_SSL_MODE: "verify-full", Env.SSL_ROOT_CERT: CA_BUNDLE}
    assert {k: load.get(k) for k in (Env.WAREHOUSE_HOST, Env.WAREHOUSE_PORT, Env.WAREHOUSE_DATABASE,
                                      Env.WAREHOUSE_SSL_MODE, Env.SSL_ROOT_CERT)} == {
        Env.WAREHOUSE_HOST: "warehouse.c1a2b3.eu-west-2.rds.amazonaws.com", Env.WAREHOUSE_PORT: "6432",
        Env.WAREHOUSE_DATABASE: "dw", Env.WAREHOUSE_SSL_MODE: "verify-ca", Env.SSL_ROOT_CERT: CA_BUNDLE}
    # each function knows its own database only; the others none
    assert not any(name.startswith("ONYX_WAREHOUSE_") and name != Env.WAREHOUSE_SECRET_NAME for name in extract)
    assert not any(name.startswith("ONYX_SOURCE_") for name in load)
    for stage in ("transform", "advance_watermark"):
        assert not {Env.SSL_ROOT_CERT, Env.SOURCE_HOST, Env.WAREHOUSE_HOST} & set(_variables(configured, stage))


def test_a_secret_rds_manages_is_named_as_rds_names_it_and_only_rds_names_have_a_bang():
    assert config_with(sourceSecretName=RDS_SECRET).source_secret_name == RDS_SECRET
    with pytest.raises(ConfigError, match="warehouseSecretName: not a Secrets Manager secret name"):
        config_with(warehouseSecretName="onyx!warehouse")  # pragma: allowlist secret


def test_the_extract_may_read_the_secret_rds_manages(configured):
    (statement,) = [s for s in configured.statements(configured.stack.pipeline.extract.role)
                    if s.get("Sid") == "ReadSourceSecret"]
    assert statement["Resource"] == {"Fn::Join": ["", [
        "arn:", {"Ref": "AWS::Partition"}, ":secretsmanager:", {"Ref": "AWS::Region"}, ":",
        {"Ref": "AWS::AccountId"}, f":secret:{RDS_SECRET}-??????"]]}


def test_each_secret_s_key_may_decrypt_exactly_that_secret_for_exactly_its_reader_through_secrets_manager(configured):
    pipeline = configured.stack.pipeline
    assert _on_secret_keys(configured.statements(pipeline.extract.role)) == [
        {"Sid": "DecryptSourceSecret", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": SOURCE_KEY,
         "Condition": VIA_SECRETS_MANAGER}]
    assert _on_secret_keys(configured.statements(pipeline.load.role)) == [
        {"Sid": "DecryptWarehouseSecret", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": WAREHOUSE_KEY,
         "Condition": VIA_SECRETS_MANAGER}]
    for stage in (pipeline.transform, pipeline.advance_watermark, configured.stack.run_alerts.notifier):
        assert _on_secret_keys(configured.statements(stage.role)) == []
    # nowhere else in the template: no key policy, no grant
    text = json.dumps(configured.template)
    assert (text.count(SOURCE_KEY), text.count(WAREHOUSE_KEY)) == (1, 1)


def test_without_the_settings_no_key_is_granted_and_no_database_setting_but_sslmode_is_given(synthesized: Synthesized):
    pipeline = synthesized.stack.pipeline
    for stage in pipeline.stages:  # (the notifier uses the alert topic's key, of the stack's own)
        assert not {action for action, _ in grants(synthesized, stage.role) if action.startswith("kms:")}
    extract = synthesized.resource(pipeline.extract.function)["Properties"]["Environment"]["Variables"]
    load = synthesized.resource(pipeline.load.function)["Properties"]["Environment"]["Variables"]
    assert {k: v for k, v in extract.items() if k.startswith("ONYX_SOURCE_") or k == Env.SSL_ROOT_CERT} == {
        Env.SOURCE_SECRET_NAME: "onyx/dev/totesys",  # pragma: allowlist secret
        Env.SOURCE_SSL_MODE: "require"}
    assert {k: v for k, v in load.items() if k.startswith("ONYX_WAREHOUSE_") or k == Env.SSL_ROOT_CERT} == {
        Env.WAREHOUSE_SECRET_NAME: "onyx/dev/warehouse",  # pragma: allowlist secret
        Env.WAREHOUSE_SCHEMA: "public",
        Env.WAREHOUSE_SSL_MODE: "require"}


def test_the_ca_bundle_is_in_the_asset_where_the_functions_look_for_it(configured):
    # LAMBDA_TASK_ROOT is the asset's root: the variable's relative path from there is the bundle
    shipped = configured.asset_dir / _variables(configured, "extract")[Env.SSL_ROOT_CERT]
    assert shipped.read_bytes() == (Path(__file__).resolve().parents[2] / CA_BUNDLE).read_bytes()
    assert (configured.asset_dir / "lambdas" / "shared" / "tls.py").is_file()


def test_the_bundle_is_part_of_the_asset_s_hash_and_copied_beside_the_code(tmp_path):
    assert source_hash([CA_BUNDLE]) != source_hash()
    copy_sources(tmp_path, [CA_BUNDLE])
    assert (tmp_path / CA_BUNDLE).is_file()
    assert (tmp_path / "lambdas" / "shared" / "database.py").is_file()
