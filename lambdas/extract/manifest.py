"""Reading and creating the extract manifest `runs/<run_id>/extract.json` (its class: lambdas.shared.manifests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from lambdas.shared.layout import extract_manifest_key
from lambdas.shared.manifests import ExtractManifest

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def _is(error: ClientError, *codes: str) -> bool:
    return error.response.get("Error", {}).get("Code") in codes


def read_manifest(s3: S3Client, bucket: str, run_id: str) -> ExtractManifest | None:
    """The run's manifest, or None if the run has not completed."""
    key = extract_manifest_key(run_id)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _is(error, "NoSuchKey", "404"):
            return None
        raise
    return ExtractManifest.from_json(body, key)


def write_manifest(s3: S3Client, bucket: str, manifest: ExtractManifest) -> bool:
    """Create the manifest; False if another attempt of the same run created it first (it is kept)."""
    try:
        s3.put_object(Bucket=bucket, Key=manifest.key, Body=manifest.to_json(),
                      ContentType="application/json", IfNoneMatch="*")
    except ClientError as error:
        if _is(error, "PreconditionFailed", "ConditionalRequestConflict"):
            return False
        raise
    return True
