"""Watermarks: the `high` of every table after the last complete run, kept without overwriting anything.

Each run that completes adds one object, `state/watermarks/<inverted high, epoch ms>-<run_id>.json`,
holding the highs of all 11 tables. Keys list in ascending order, and the inversion makes the
highest watermark list first: one `ListObjectsV2` with `MaxKeys=1` finds it. Ordering by `high`
rather than by finishing time means two overlapping runs can finish in any order: every row at or
below a written `high` is in the files of a completed run, so the highest `high` is always safe.
The object is written only after the run's files and manifest, so a failed run never moves it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from lambdas.shared.manifests import Watermarks

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

PREFIX = "state/watermarks/"
_DIGITS = 13
_INVERT = 10**_DIGITS - 1  # 13 digits of epoch milliseconds last until the year 2286
_SUFFIX = ".json"


def _epoch_ms(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp).replace(tzinfo=UTC).timestamp() * 1000 + 0.5)


def watermark_key(run_id: str, highs: dict[str, str]) -> str:
    return f"{PREFIX}{_INVERT - _epoch_ms(max(highs.values())):0{_DIGITS}d}-{run_id}{_SUFFIX}"


def run_id_of(key: str) -> str | None:
    """The run id in a watermark object's key (`watermark_key`'s), or None for any other key."""
    name = key.removeprefix(PREFIX)
    if name == key or not name.endswith(_SUFFIX) or name[_DIGITS:_DIGITS + 1] != "-" or not name[:_DIGITS].isdigit():
        return None
    return name[_DIGITS + 1:-len(_SUFFIX)]


def latest_watermarks(s3: S3Client, bucket: str) -> dict[str, str]:
    """Each table's high after the last complete run (empty before the first)."""
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=PREFIX, MaxKeys=1)
    if not listing.get("Contents"):
        return {}
    key = listing["Contents"][0]["Key"]
    return Watermarks.from_json(s3.get_object(Bucket=bucket, Key=key)["Body"].read(), key).highs


def advance_watermarks(s3: S3Client, bucket: str, run_id: str, highs: dict[str, str]) -> str:
    """Record the run's highs (idempotent: a second call for the same run leaves the first object)."""
    key = watermark_key(run_id, highs)
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=Watermarks(run_id=run_id, highs=highs).to_json(),
                      ContentType="application/json", IfNoneMatch="*")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("PreconditionFailed", "ConditionalRequestConflict"):
            raise
    return key
