"""The data lake: ingestion (JSON Lines) and processed (Parquet) buckets, with their access-log bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.config import OnyxConfig


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    lifecycle_rule: s3.LifecycleRule,
    access_logs: s3.IBucket | None = None,
    access_log_prefix: str | None = None,
) -> s3.Bucket:
    """An encrypted, versioned, private, SSL-only bucket that survives stack deletion."""
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=access_log_prefix,
        lifecycle_rules=[lifecycle_rule],
        # The data is the product: deleting the stack must never take it along.
        removal_policy=RemovalPolicy.RETAIN,
    )


class DataLake(Construct):
    """The ingestion and processed buckets, both logging access to a third bucket."""

    def __init__(self, scope: Construct, construct_id: str, *, config: OnyxConfig) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = secure_bucket(
            self,
            "AccessLogs",
            lifecycle_rule=s3.LifecycleRule(
                id="expire-access-logs",
                expiration=Duration.days(config.access_log_days),
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            ),
        )
        data_lifecycle = s3.LifecycleRule(
            id="expire-noncurrent-versions",
            noncurrent_version_expiration=Duration.days(config.noncurrent_version_days),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        )
        self.ingestion = secure_bucket(
            self,
            "Ingestion",
            lifecycle_rule=data_lifecycle,
            access_logs=self.access_logs,
            access_log_prefix="ingestion/",
        )
        self.processed = secure_bucket(
            self,
            "Processed",
            lifecycle_rule=data_lifecycle,
            access_logs=self.access_logs,
            access_log_prefix="processed/",
        )
