"""The buckets: encrypted, versioned, private, SSL-only, access-logged, retained; their lifecycle rules."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.application import build_app, stack_of
from tests.stacks.conftest import NO_BUNDLING, Synthesized

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


NONCURRENT_VERSIONS_RULE = {
    "Id": "expire-noncurrent-versions",
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
    "Status": "Enabled",
}


def test_ingestion_bucket_archives_current_objects_to_glacier_instant_retrieval_after_90_days(synthesized):
    # GLACIER_IR: read by GetObject without a restore, so a rebuild still reads every extracted file. Every key:
    # S3 moves nothing under 128 KB (the manifests, the watermarks) to GLACIER_IR, hence no filter.
    assert _bucket(synthesized, "ingestion")["Properties"]["LifecycleConfiguration"] == {
        "Rules": [
            NONCURRENT_VERSIONS_RULE,
            {
                "Id": "archive-current-versions",
                "Status": "Enabled",
                "Transitions": [{"StorageClass": "GLACIER_IR", "TransitionInDays": 90}],
            },
        ]
    }


def test_processed_bucket_expires_rebuild_scratch_after_7_days(synthesized):
    assert _bucket(synthesized, "processed")["Properties"]["LifecycleConfiguration"] == {
        "Rules": [
            NONCURRENT_VERSIONS_RULE,
            {
                "Id": "expire-rebuild-scratch",
                "ExpirationInDays": 7,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                "Prefix": "rebuilds/",
                "Status": "Enabled",
            },
        ]
    }


def test_access_log_bucket_expires_logs_after_365_days(synthesized):
    assert _bucket(synthesized, "access_logs")["Properties"]["LifecycleConfiguration"] == {
        "Rules": [
            {
                "Id": "expire-access-logs",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                "ExpirationInDays": 365,
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                "Status": "Enabled",
            }
        ]
    }


def test_retention_settings_reach_the_lifecycle_rules():
    stack = stack_of(build_app({**NO_BUNDLING, "archiveAfterDays": "180", "rebuildScratchDays": "2",
                                "noncurrentVersionDays": "30"}, nag=False))
    resources = Template.from_stack(stack).to_json()["Resources"]

    def rules(bucket):
        return resources[stack.resolve(bucket.node.default_child.logical_id)]["Properties"][
            "LifecycleConfiguration"]["Rules"]

    ingestion, processed = rules(stack.data_lake.ingestion), rules(stack.data_lake.processed)
    assert [rule.get("NoncurrentVersionExpiration") for rule in ingestion] == [{"NoncurrentDays": 30}, None]
    assert ingestion[1]["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": 180}]
    assert [rule.get("NoncurrentVersionExpiration") for rule in processed] == [{"NoncurrentDays": 30},
                                                                              {"NoncurrentDays": 1}]
    assert processed[1]["ExpirationInDays"] == 2
