"""The local cloud's IAM: identity policies evaluated as AWS evaluates them, against the resource each call
names, for every request that reaches its moto server with credentials other than the operator's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from local.moto_cloud import ACCOUNT, REGION, MotoCloud
from local.moto_cloud_constants import OPERATOR_CREDENTIALS, signed_with
from local.moto_iam import Decision, evaluate

# One moto server for the module's server tests, on one worker.
pytestmark = pytest.mark.xdist_group("moto-iam")


def _allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource,
                                                    **extra}]}


@pytest.mark.parametrize(("pattern", "resource", "decision"), [
    ("arn:aws:secretsmanager:eu-west-2:1:secret:onyx/dev/totesys-??????",
     "arn:aws:secretsmanager:eu-west-2:1:secret:onyx/dev/totesys-AbC123", Decision.ALLOWED),
    # `?` is one character: a longer name is another secret
    ("arn:aws:secretsmanager:eu-west-2:1:secret:onyx/dev/totesys-??????",
     "arn:aws:secretsmanager:eu-west-2:1:secret:onyx/dev/totesys-down-AbC123", Decision.IMPLICIT_DENY),
    ("arn:aws:s3:::ingestion/*", "arn:aws:s3:::ingestion/runs/a.json", Decision.ALLOWED),
    ("arn:aws:s3:::ingestion/*", "arn:aws:s3:::ingestion", Decision.IMPLICIT_DENY),
    ("arn:aws:s3:::ingestion/*", "arn:aws:s3:::ingestion-copy/runs/a.json", Decision.IMPLICIT_DENY),
    # a dot is a dot, not "any character"
    ("arn:aws:s3:::a.b/*", "arn:aws:s3:::aXb/k", Decision.IMPLICIT_DENY),
    # resources are case-sensitive
    ("arn:aws:s3:::Bucket/*", "arn:aws:s3:::bucket/k", Decision.IMPLICIT_DENY),
])
def test_resources_match_with_iam_wildcards(pattern, resource, decision):
    assert evaluate([_allow("s3:GetObject", pattern)], "s3:GetObject", resource) is decision


def test_actions_match_case_insensitively_and_with_wildcards():
    assert evaluate([_allow("S3:getobject", "*")], "s3:GetObject", "arn:aws:s3:::b/k") is Decision.ALLOWED
    assert evaluate([_allow("kms:GenerateDataKey*", "*")], "kms:GenerateDataKeyWithoutPlaintext", "k") \
        is Decision.ALLOWED
    assert evaluate([_allow("s3:Get*", "*")], "s3:PutObject", "arn:aws:s3:::b/k") is Decision.IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow():
    documents = [_allow("s3:*", "*"),
                 {"Statement": {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}}]

    assert evaluate(documents, "s3:GetObject", "arn:aws:s3:::b/k") is Decision.ALLOWED
    assert evaluate(documents, "s3:DeleteObject", "arn:aws:s3:::b/k") is Decision.EXPLICIT_DENY


def test_not_action_and_not_resource_allow_everything_else():
    documents = [{"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret/*"}]}]

    assert evaluate(documents, "s3:GetObject", "arn:aws:s3:::open/k") is Decision.ALLOWED
    assert evaluate(documents, "s3:GetObject", "arn:aws:s3:::secret/k") is Decision.IMPLICIT_DENY
    assert evaluate(documents, "iam:PassRole", "arn:aws:iam::1:role/r") is Decision.IMPLICIT_DENY


def test_a_condition_is_not_assumed_met_and_an_unknown_resource_leaves_the_action_to_decide():
    conditional = _allow("s3:GetObject", "*", Condition={"Bool": {"aws:SecureTransport": "true"}})

    assert evaluate([conditional], "s3:GetObject", "arn:aws:s3:::b/k") is Decision.IMPLICIT_DENY
    assert evaluate([_allow("sns:Publish", "arn:aws:sns:eu-west-2:1:t")], "sns:Publish", None) is Decision.ALLOWED
    assert evaluate([_allow("sns:Publish", "arn:aws:sns:eu-west-2:1:t")], "sns:Subscribe", None) \
        is Decision.IMPLICIT_DENY


# ---- against the local cloud's moto server ------------------------------------------------------------------
ROLE_POLICY = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::onyx-granted/*"},
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::onyx-granted"},
    {"Effect": "Allow", "Action": "sns:Publish", "Resource": f"arn:aws:sns:{REGION}:{ACCOUNT}:granted"},
    {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
     "Resource": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:onyx/granted-??????"},
    {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::onyx-granted/locked/*"},
]}
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "lambda.amazonaws.com"}}]}


class Clients:
    def __init__(self, endpoint: str, credentials: dict[str, str]) -> None:
        self.endpoint, self.credentials = endpoint, credentials

    def __call__(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION, **signed_with(self.credentials))


@pytest.fixture(scope="module")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoCloud]:
    cloud = MotoCloud(state_dir=tmp_path_factory.mktemp("moto-iam")).start()
    try:
        operator = Clients(cloud.endpoint_url, OPERATOR_CREDENTIALS)
        iam = operator("iam")
        role = iam.create_role(RoleName="onyx-test-role", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]
        iam.put_role_policy(RoleName="onyx-test-role", PolicyName="stage", PolicyDocument=json.dumps(ROLE_POLICY))
        s3 = operator("s3")
        for bucket in ("onyx-granted", "onyx-other"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
            s3.put_object(Bucket=bucket, Key="k", Body=b"v")
        sns = operator("sns")
        for topic in ("granted", "other"):
            sns.create_topic(Name=topic)
        secrets = operator("secretsmanager")
        for name in ("onyx/granted", "onyx/granted-down", "onyx/other"):
            secrets.create_secret(Name=name, SecretString="{}")
        cloud.state_machine_role_arn = role["Arn"]
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def as_role(moto: MotoCloud) -> Clients:
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/onyx-test-role"
    return Clients(moto.endpoint_url, moto.sessions.environment(role_arn, "onyx-test-session"))


def _denied(call: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return {"code": raised.value.response["Error"]["Code"], "message": raised.value.response["Error"]["Message"]}


SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/onyx-test-role/onyx-test-session"


def test_s3_objects_are_checked_against_the_bucket_and_key_of_the_call(as_role):
    s3 = as_role("s3")

    assert s3.get_object(Bucket="onyx-granted", Key="k")["Body"].read() == b"v"
    s3.put_object(Bucket="onyx-granted", Key="new", Body=b"w")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="onyx-granted")["Contents"]] == ["k", "new"]
    assert _denied(lambda: s3.get_object(Bucket="onyx-other", Key="k")) == {
        "code": "AccessDenied",
        "message": f"User: {SESSION} is not authorized to perform: s3:GetObject on resource: "
                   "arn:aws:s3:::onyx-other/k because no identity-based policy allows the s3:GetObject action"}
    assert _denied(lambda: s3.put_object(Bucket="onyx-other", Key="k", Body=b"x"))["code"] == "AccessDenied"
    assert "s3:ListBucket on resource: arn:aws:s3:::onyx-other " in \
        _denied(lambda: s3.list_objects_v2(Bucket="onyx-other"))["message"]
    # granted GetObject/PutObject, never DeleteObject
    assert "s3:DeleteObject" in _denied(lambda: s3.delete_object(Bucket="onyx-granted", Key="k"))["message"]


def test_an_explicit_deny_refuses_what_an_allow_grants(as_role):
    denied = _denied(lambda: as_role("s3").put_object(Bucket="onyx-granted", Key="locked/k", Body=b"x"))

    assert denied["message"] == (f"User: {SESSION} is not authorized to perform: s3:PutObject on resource: "
                                 "arn:aws:s3:::onyx-granted/locked/k with an explicit deny in an identity-based policy")


def test_sns_publish_is_checked_against_the_topic(as_role):
    sns = as_role("sns")

    sns.publish(TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:granted", Message="m")
    denied = _denied(lambda: sns.publish(TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:other", Message="m"))

    assert denied["code"] == "AuthorizationError"  # SNS's name for it
    assert f"sns:Publish on resource: arn:aws:sns:{REGION}:{ACCOUNT}:other " in denied["message"]


def test_a_secret_is_checked_by_its_arn_whose_suffix_only_the_real_secret_matches(as_role):
    secrets = as_role("secretsmanager")

    assert secrets.get_secret_value(SecretId="onyx/granted")["SecretString"] == "{}"  # pragma: allowlist secret
    for name in ("onyx/granted-down", "onyx/other", "onyx/missing"):
        denied = _denied(lambda name=name: secrets.get_secret_value(SecretId=name))
        assert denied["code"] == "AccessDeniedException"
        assert f"secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}" \
            in denied["message"]


def test_every_refusal_is_recorded_with_its_principal_action_and_resource(moto, as_role):
    before = len(moto.authorizer.denials)
    _denied(lambda: as_role("sns").publish(TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:other", Message="m"))

    (denial,) = moto.authorizer.denials[before:]
    assert (denial.principal, denial.action, denial.resource) == (
        SESSION, "sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:other")


def test_unknown_or_forged_credentials_are_refused_and_the_operators_are_not_checked(moto, as_role):
    forged = Clients(moto.endpoint_url, {**as_role.credentials, "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    stranger = Clients(moto.endpoint_url, {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN000000000",  # pragma: allowlist secret
                                           "AWS_SECRET_ACCESS_KEY": "x"})

    assert _denied(lambda: forged("sns").list_topics())["code"] == "SignatureDoesNotMatch"
    assert _denied(lambda: stranger("sns").list_topics())["code"] == "InvalidClientTokenId"
    assert _denied(lambda: stranger("s3").list_buckets())["code"] == "InvalidAccessKeyId"
    anonymous = boto3.client("s3", endpoint_url=moto.endpoint_url, region_name=REGION,
                             config=Config(signature_version=UNSIGNED))
    assert _denied(lambda: anonymous.list_objects_v2(Bucket="onyx-granted")) == {
        "code": "AccessDenied", "message": "Access Denied"}
    _denied(lambda: anonymous.get_object(Bucket="onyx-granted", Key="k"))  # 403 (moto's own answer: no body)
    operator = Clients(moto.endpoint_url, OPERATOR_CREDENTIALS)
    assert len(operator("sns").list_topics()["Topics"]) == 2
    assert as_role("sts").get_caller_identity()["Arn"] == SESSION  # STS answers it whatever the policies say


def test_the_state_machines_interpreter_signs_with_the_state_machine_role(moto):
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    client = boto_client_for(REGION, "sts")

    assert client.get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/onyx-test-role/onyx-local-execution"
