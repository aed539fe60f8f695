"""The data lake: ingestion (JSON Lines) and processed (Parquet) buckets, with their access-log bucket."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.shared.rebuild import REBUILDS_PREFIX
from stacks.config import OnyxConfig


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    lifecycle_rules: Sequence[s3.LifecycleRule],
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
        lifecycle_rules=list(lifecycle_rules),
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
            lifecycle_rules=[s3.LifecycleRule(
                id="expire-access-logs",
                expiration=Duration.days(config.access_log_days),
                noncurrent_version_expiration=Duration.days(1),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )],
        )
        data_lifecycle = s3.LifecycleRule(
            id="expire-noncurrent-versions",
            noncurrent_version_expiration=Duration.days(config.noncurrent_version_days),
            abort_incomplete_multipart_upload_after=Duration.days(7),
        )
        # Extracted files are written once and read again only by a rebuild (or a replay of the transform's
        # state), which re-reads every one of them: after archiveAfterDays they move to Glacier Instant Retrieval,
        # the one archive class GetObject reads at once, in milliseconds, with no restore first (Glacier Flexible
        # Retrieval and Deep Archive would fail a rebuild until each object was restored). Its price: a per-GB
        # retrieval fee when read, and 90 days of storage billed for an object deleted sooner (these never are).
        # Every key, no size filter: S3 transitions no object under 128 KB to GLACIER_IR under either default
        # minimum size (and one would cost more in its transition request than it ever saved there), so the
        # manifests (`runs/`) and watermarks (`state/watermarks/`), a few KB each, stay in Standard anyway, and a
        # table added to the source is covered without a rule of its own.
        archive = s3.LifecycleRule(
            id="archive-current-versions",
            transitions=[s3.Transition(storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                                       transition_after=Duration.days(config.archive_after_days))],
        )
        self.ingestion = secure_bucket(
            self,
            "Ingestion",
            lifecycle_rules=[data_lifecycle, archive],
            access_logs=self.access_logs,
            access_log_prefix="ingestion/",
        )
        # A rebuild's transform state and Parquet (`rebuilds/<rebuild_id>/`) are scratch once it has finished or
        # failed. Expiring them leaves delete markers: their noncurrent versions go a day later, and S3 removes
        # the markers left alone once they are older than the rule's days.
        rebuild_scratch = s3.LifecycleRule(
            id="expire-rebuild-scratch",
            prefix=REBUILDS_PREFIX,
            expiration=Duration.days(config.rebuild_scratch_days),
            noncurrent_version_expiration=Duration.days(1),
        )
        self.processed = secure_bucket(
            self,
            "Processed",
            lifecycle_rules=[data_lifecycle, rebuild_scratch],
            access_logs=self.access_logs,
            access_log_prefix="processed/",
        )
