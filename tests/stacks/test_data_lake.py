"""The buckets: encrypted, versioned, private, SSL-only, access-logged, retained."""

from __future__ import annotations

from typing import Any

import pytest

from tests.stacks.conftest import Synthesized

BUCKETS = ("ingestion", "processed", "access_logs")


def _bucket(synthesized: Synthesized, name: str) -> dict[str, Any]:
    return synthesized.resource(getattr(synthesized.stack.data_lake, name))


@pytest.mark.parametrize("name", BUCKETS)
def test_bucket_is_encrypted_versioned_and_private(synthesized, name):
    properties = _bucket(synthesized, name)["Properties"]
    assert properties["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


@pytest.mark.parametrize("name", BUCKETS)
def test_bucket_survives_stack_deletion(synthesized, name):
    bucket = _bucket(synthesized, name)
    assert bucket["DeletionPolicy"] == "Retain"
    assert bucket["UpdateReplacePolicy"] == "Retain"


@pytest.mark.parametrize("name", BUCKETS)
def test_bucket_policy_denies_requests_without_ssl(synthesized, name):
    bucket_id = synthesized.logical_id(getattr(synthesized.stack.data_lake, name))
    (policy,) = [
        resource
        for resource in synthesized.resources("AWS::S3::BucketPolicy").values()
        if resource["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert {
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": [
            {"Fn::GetAtt": [bucket_id, "Arn"]},
            {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
        ],
    } in policy["Properties"]["PolicyDocument"]["Statement"]


@pytest.mark.parametrize(("name", "prefix"), [("ingestion", "ingestion/"), ("processed", "processed/")])
def test_data_bucket_logs_access_to_the_log_bucket(synthesized, name, prefix):
    logs_id = synthesized.logical_id(synthesized.stack.data_lake.access_logs)
    assert _bucket(synthesized, name)["Properties"]["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": logs_id},
        "LogFilePrefix": prefix,
    }


@pytest.mark.parametrize("name", ["ingestion", "processed"])
def test_data_bucket_expires_old_versions_after_90_days(synthesized, name):
    assert _bucket(synthesized, name)["Properties"]["LifecycleConfiguration"] == {
        "Rules": [
            {
                "Id": "expire-noncurrent-versions",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                "Status": "Enabled",
            }
        ]
    }
