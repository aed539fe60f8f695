"""What share of a lake the ingestion bucket's archive rule would move: `python -m bench.retention`.

    .venv/bin/python -m bench.retention                      # the ingestion bucket of the local cloud running here
    .venv/bin/python -m bench.retention --stack Onyx-prod    # a deployed stack's ingestion bucket
    .venv/bin/python -m bench.retention --bucket NAME [--endpoint-url URL]   # any bucket, your AWS credentials

The rule (stacks/data_lake.py) moves current objects to S3 Glacier Instant Retrieval after `archiveAfterDays`,
and S3 moves no object under 128 KiB to that class. This lists the bucket's current objects and prints, per kind
of key (data files, run manifests, watermarks), the objects and bytes in all and of 128 KiB or more (those the
rule moves once they are old enough), their shares, and what a month of storage costs in S3 Standard against
after the transition, at us-east-1 list prices: the steady state of a lake whose objects are all older than
`archiveAfterDays`. `make bench` prints the same for the lake its runs leave (bench/run.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.extract.watermarks import PREFIX as WATERMARKS_PREFIX
from lambdas.shared.constants import Env
from ops.deployed_stack import DeployedStack
from ops.targets import TargetError, open_target

# S3's default minimum size for a lifecycle transition (to GLACIER_IR under either TransitionDefaultMinimumSize):
# an object smaller than this stays where it is.
MIN_TRANSITION_BYTES: Final = 128 * 1024
GB: Final = 1024**3  # S3 bills storage by the GB-month of 2^30 bytes

# S3's us-east-1 list prices (aws.amazon.com/s3/pricing; S3 Standard's first-50-TB tier), as published in 2025,
# unchanged since Glacier Instant Retrieval's launch in November 2021. Other regions cost more.
STANDARD_GB_MONTH: Final = 0.023
GLACIER_IR_GB_MONTH: Final = 0.004
GLACIER_IR_RETRIEVAL_GB: Final = 0.03  # paid on every GB read from GLACIER_IR: a rebuild reads each file once
GLACIER_IR_TRANSITION_PER_1000: Final = 0.02  # lifecycle transition requests into GLACIER_IR, once per object

RUNS_PREFIX: Final = "runs/"  # extract manifests, runs/<run_id>/extract.json (lambdas/shared/layout.py)
# `<table>/<YYYY>/<MM>/<DD>/<run_id>[.<part>].jsonl` (lambdas/shared/layout.py)
_DATA_KEY = re.compile(r"[a-z][a-z0-9_]*/\d{4}/\d{2}/\d{2}/[^/]+\.jsonl")
KINDS: Final = {
    "data": "data files (<table>/.../*.jsonl)",
    "manifests": f"run manifests ({RUNS_PREFIX})",
    "watermarks": f"watermarks ({WATERMARKS_PREFIX})",
    "other": "other keys",
}
TOTAL: Final = "total"


def kind_of(key: str) -> str:
    """Which of KINDS an ingestion key is."""
    if key.startswith(RUNS_PREFIX):
        return "manifests"
    if key.startswith(WATERMARKS_PREFIX):
        return "watermarks"
    return "data" if _DATA_KEY.fullmatch(key) else "other"


@dataclass(frozen=True)
class Tally:
    """Objects and bytes in all, and of them those at least MIN_TRANSITION_BYTES (which the rule moves)."""

    objects: int = 0
    bytes: int = 0
    moved_objects: int = 0
    moved_bytes: int = 0

    def plus(self, size: int, min_bytes: int = MIN_TRANSITION_BYTES) -> Tally:
        moved = size >= min_bytes
        return Tally(self.objects + 1, self.bytes + size, self.moved_objects + moved, self.moved_bytes + size * moved)

    @property
    def byte_share(self) -> float | None:
        return self.moved_bytes / self.bytes if self.bytes else None

    @property
    def object_share(self) -> float | None:
        return self.moved_objects / self.objects if self.objects else None


def tally(objects: Iterable[tuple[str, int]], min_bytes: int = MIN_TRANSITION_BYTES) -> dict[str, Tally]:
    """(key, size) pairs -> a Tally per kind of key that occurs (in KINDS' order), then TOTAL."""
    kinds: dict[str, Tally] = {}
    total = Tally()
    for key, size in objects:
        kind = kind_of(key)
        kinds[kind] = kinds.get(kind, Tally()).plus(size, min_bytes)
        total = total.plus(size, min_bytes)
    return {**{kind: kinds[kind] for kind in KINDS if kind in kinds}, TOTAL: total}


@dataclass(frozen=True)
class Costs:
    """US dollars at the list prices above, for the objects of a Tally."""

    standard_per_month: float  # every object in S3 Standard
    archived_per_month: float  # the moved ones in Glacier Instant Retrieval, the rest in Standard
    saving_per_month: float
    transitions_once: float  # the lifecycle transition requests that move them
    retrieval_per_rebuild: float  # reading every moved byte once, as a rebuild does

    @classmethod
    def of(cls, counted: Tally) -> Costs:
        standard = counted.bytes / GB * STANDARD_GB_MONTH
        archived = ((counted.bytes - counted.moved_bytes) / GB * STANDARD_GB_MONTH
                    + counted.moved_bytes / GB * GLACIER_IR_GB_MONTH)
        return cls(standard_per_month=standard, archived_per_month=archived, saving_per_month=standard - archived,
                   transitions_once=counted.moved_objects / 1000 * GLACIER_IR_TRANSITION_PER_1000,
                   retrieval_per_rebuild=counted.moved_bytes / GB * GLACIER_IR_RETRIEVAL_GB)

    @property
    def months_per_rebuild(self) -> float | None:
        """Months of the saving one rebuild's retrieval fee takes back (1.58 whatever the lake's size)."""
        return self.retrieval_per_rebuild / self.saving_per_month if self.saving_per_month else None


def report(bucket: str, objects: Iterable[tuple[str, int]]) -> dict[str, Any]:
    """The figures of a bucket's (key, size) pairs, as `--json` prints them and `make bench` records them."""
    tallies = tally(objects)
    return {"bucket": bucket, "min_transition_bytes": MIN_TRANSITION_BYTES,
            "kinds": {kind: {**asdict(t), "byte_share": t.byte_share, "object_share": t.object_share}
                      for kind, t in tallies.items()},
            "costs": {**asdict(costs := Costs.of(tallies[TOTAL])), "months_per_rebuild": costs.months_per_rebuild},
            "prices": {"standard_gb_month": STANDARD_GB_MONTH, "glacier_ir_gb_month": GLACIER_IR_GB_MONTH,
                       "glacier_ir_retrieval_gb": GLACIER_IR_RETRIEVAL_GB,
                       "glacier_ir_transition_per_1000": GLACIER_IR_TRANSITION_PER_1000}}


def render(figures: Mapping[str, Any]) -> str:
    """The table `python -m bench.retention` prints."""
    kinds: Mapping[str, Mapping[str, Any]] = figures["kinds"]
    costs = figures["costs"]
    width = 36 + 10 + 12 + 12 + 12 + 9 + 9
    lines = [
        f"bucket {figures['bucket']}: current objects, and those of 128 KiB or more that the archive rule moves "
        "to GLACIER_IR",
        f"{'kind':<36}{'objects':>10}{'size':>12}{'>=128 KiB':>12}{'size':>12}{'bytes %':>9}{'objs %':>9}",
        "-" * width,
    ]
    for kind, t in kinds.items():
        if kind == TOTAL:
            lines.append("-" * width)
        lines.append(f"{KINDS.get(kind, kind):<36}{t['objects']:>10,}{_size(t['bytes']):>12}"
                     f"{t['moved_objects']:>12,}{_size(t['moved_bytes']):>12}{_percent(t['byte_share']):>9}"
                     f"{_percent(t['object_share']):>9}")
    standard, saving, months = costs["standard_per_month"], costs["saving_per_month"], costs["months_per_rebuild"]

    def cost(label: str, amount: float, note: str = "") -> str:
        return f"  {label:<50}{_dollars(amount):>12}{note}"

    lines += [
        "",
        "a month's storage once every object is older than archiveAfterDays (us-east-1 list prices):",
        cost(f"all in S3 Standard (${STANDARD_GB_MONTH}/GB)", standard),
        cost(f"after the transition (Glacier IR ${GLACIER_IR_GB_MONTH}/GB)", costs["archived_per_month"]),
        cost("saving", saving, f"  ({saving / standard:.1%})" if standard else ""),
        cost(f"once: transition requests (${GLACIER_IR_TRANSITION_PER_1000} per 1,000)", costs["transitions_once"]),
        cost(f"each rebuild: retrieval (${GLACIER_IR_RETRIEVAL_GB}/GB read)", costs["retrieval_per_rebuild"],
             f"  = {months:.2f} months of the saving" if months is not None else ""),
    ]
    return "\n".join(lines)


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count} B"


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share:.1%}"


def _dollars(amount: float) -> str:
    # A local lake costs fractions of a cent a month: those get six decimals.
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.6f}"


def list_objects(s3: Any, bucket: str) -> Iterator[tuple[str, int]]:
    """(key, size) of every current object (the rule transitions current versions only)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            yield str(item["Key"]), int(item["Size"])


def ingestion_bucket(cloudformation: Any, lambda_: Any, stack_name: str) -> str:
    """The ingestion bucket of an Onyx stack: what its extract function writes to."""
    extract = DeployedStack.read(cloudformation, stack_name).functions["extract"]
    variables = lambda_.get_function_configuration(FunctionName=extract).get("Environment", {}).get("Variables", {})
    if not variables.get(Env.INGESTION_BUCKET):
        raise TargetError(f"stack {stack_name}: its extract function {extract} has no {Env.INGESTION_BUCKET}")
    return str(variables[Env.INGESTION_BUCKET])


def _bucket_and_client(args: argparse.Namespace) -> tuple[str, Any]:
    if args.bucket:
        import boto3

        # AWS_REGION as ops/stack_target.py reads it: boto3 itself reads only AWS_DEFAULT_REGION.
        session = boto3.Session(profile_name=args.profile, region_name=args.region or os.environ.get("AWS_REGION"))
        return args.bucket, session.client("s3", endpoint_url=args.endpoint_url)
    target = open_target(args.stack, region=args.region, profile=args.profile,
                         alternatives=", or name one with --stack Onyx-<env> or --bucket NAME")
    bucket = ingestion_bucket(target.client("cloudformation"), target.client("lambda"), target.stack_name)
    return bucket, target.client("s3")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.retention", description=(__doc__ or "").splitlines()[0])
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--stack", metavar="Onyx-<env>", help="a deployed stack's ingestion bucket")
    where.add_argument("--bucket", metavar="NAME", help="this bucket, with your AWS credentials")
    parser.add_argument("--endpoint-url", help="with --bucket: an S3 endpoint other than AWS's")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION or your profile's)")
    parser.add_argument("--profile", help="AWS profile (default: AWS_PROFILE or the default one)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)
    if args.endpoint_url and not args.bucket:
        parser.error("--endpoint-url goes with --bucket")
    try:
        bucket, s3 = _bucket_and_client(args)
        figures = report(bucket, list_objects(s3, bucket))
    except TargetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (BotoCoreError, ClientError) as exc:
        print(f"error: listing {args.bucket or 'the ingestion bucket'}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(figures, indent=2) if args.json else render(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
