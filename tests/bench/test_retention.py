"""`python -m bench.retention`: what the ingestion bucket's archive rule would move of a lake, and what it saves."""

from __future__ import annotations

import json

import pytest

from bench.retention import GB, Costs, Tally, kind_of, main, render, report, tally

OBJECTS = [
    ("sales_order/2024/01/02/run-1.jsonl", 3 * GB),
    ("sales_order/2024/01/02/run-1.1.jsonl", 131_071),  # a byte short of 128 KiB: S3 leaves it in Standard
    ("payment/2024/01/02/run-1.jsonl", 131_072),  # 128 KiB exactly: moved
    ("runs/run-1/extract.json", 2_000),
    ("state/watermarks/8295-run-1.json", 300),
    ("notes.txt", 200_000),
]


@pytest.mark.parametrize(("key", "kind"), [
    ("address/2024/01/02/run-20261125T225410Z-96f8c5.jsonl", "data"),
    ("sales_order/2024/01/02/run-1.2.jsonl", "data"),
    ("runs/run-1/extract.json", "manifests"),
    ("state/watermarks/8295-run-1.json", "watermarks"),
    ("state/other.json", "other"),
    ("address/run-1.jsonl", "other"),
    ("address/2024/01/02/run-1.json", "other"),
])
def test_each_key_is_of_one_kind(key, kind):
    assert kind_of(key) == kind


def test_tally_counts_every_object_and_those_of_128_kib_or_more_per_kind():
    assert tally(OBJECTS) == {
        "data": Tally(objects=3, bytes=3 * GB + 131_071 + 131_072, moved_objects=2, moved_bytes=3 * GB + 131_072),
        "manifests": Tally(objects=1, bytes=2_000, moved_objects=0, moved_bytes=0),
        "watermarks": Tally(objects=1, bytes=300, moved_objects=0, moved_bytes=0),
        "other": Tally(objects=1, bytes=200_000, moved_objects=1, moved_bytes=200_000),
        "total": Tally(objects=6, bytes=3 * GB + 464_443, moved_objects=3, moved_bytes=3 * GB + 331_072),
    }


def test_tally_of_no_objects_is_an_empty_total():
    assert tally([]) == {"total": Tally()}
    assert (Tally().byte_share, Tally().object_share) == (None, None)


def test_shares_are_of_bytes_and_of_objects():
    counted = Tally(objects=4, bytes=1_000, moved_objects=1, moved_bytes=750)
    assert (counted.byte_share, counted.object_share) == (0.75, 0.25)


def test_costs_at_us_east_1_list_prices():
    # 10 GB of which 8 GB in 1,000 objects move: Standard 10 x 0.023; after, 2 x 0.023 + 8 x 0.004.
    costs = Costs.of(Tally(objects=2_000, bytes=10 * GB, moved_objects=1_000, moved_bytes=8 * GB))

    assert costs.standard_per_month == pytest.approx(0.23, abs=1e-12)
    assert costs.archived_per_month == pytest.approx(0.078, abs=1e-12)
    assert costs.saving_per_month == pytest.approx(0.152, abs=1e-12)
    assert costs.transitions_once == pytest.approx(0.02, abs=1e-12)
    assert costs.retrieval_per_rebuild == pytest.approx(0.24, abs=1e-12)
    # A rebuild's retrieval fee is 0.03 / (0.023 - 0.004) months of the saving, whatever the lake.
    assert costs.months_per_rebuild == pytest.approx(0.03 / 0.019, abs=1e-12)
    assert Costs.of(Tally(objects=1, bytes=100, moved_objects=0, moved_bytes=0)).months_per_rebuild is None


def test_the_report_prints_each_kind_the_total_and_the_costs():
    assert render(report("onyx-ingestion", OBJECTS)) == "\n".join([
        "bucket onyx-ingestion: current objects, and those of 128 KiB or more that the archive rule moves to "
        "GLACIER_IR",
        "kind                                   objects        size   >=128 KiB        size  bytes %   objs %",
        "-" * 100,
        "data files (<table>/.../*.jsonl)             3     3.0 GiB           2     3.0 GiB   100.0%    66.7%",
        "run manifests (runs/)                        1     2.0 KiB           0         0 B     0.0%     0.0%",
        "watermarks (state/watermarks/)               1       300 B           0         0 B     0.0%     0.0%",
        "other keys                                   1   195.3 KiB           1   195.3 KiB   100.0%   100.0%",
        "-" * 100,
        "total                                        6     3.0 GiB           3     3.0 GiB   100.0%    50.0%",
        "",
        "a month's storage once every object is older than archiveAfterDays (us-east-1 list prices):",
        "  all in S3 Standard ($0.023/GB)                       $0.069010",
        "  after the transition (Glacier IR $0.004/GB)          $0.012004",
        "  saving                                               $0.057006  (82.6%)",
        "  once: transition requests ($0.02 per 1,000)          $0.000060",
        "  each rebuild: retrieval ($0.03/GB read)              $0.090009  = 1.58 months of the saving",
    ])


def test_a_named_bucket_is_listed_with_the_callers_credentials(aws, capsys):
    for key, size in [("address/2024/01/02/run-1.jsonl", 131_072), ("runs/run-1/extract.json", 10)]:
        aws.s3.put_object(Bucket=aws.ingestion_bucket, Key=key, Body=b"x" * size)

    assert main(["--bucket", aws.ingestion_bucket, "--json"]) == 0

    figures = json.loads(capsys.readouterr().out)
    assert figures["bucket"] == aws.ingestion_bucket
    assert figures["kinds"]["data"] == {"objects": 1, "bytes": 131_072, "moved_objects": 1, "moved_bytes": 131_072,
                                        "byte_share": 1.0, "object_share": 1.0}
    assert figures["kinds"]["total"] == {"objects": 2, "bytes": 131_082, "moved_objects": 1,
                                         "moved_bytes": 131_072, "byte_share": 131_072 / 131_082,
                                         "object_share": 0.5}


def test_a_bucket_that_cannot_be_listed_is_named(aws, capsys):
    assert main(["--bucket", "onyx-no-such-bucket"]) == 2
    assert capsys.readouterr().err.startswith("error: listing onyx-no-such-bucket: An error occurred (NoSuchBucket)")


def test_without_a_local_cloud_or_a_bucket_it_says_how_to_name_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ONYX_LOCAL_DIR", str(tmp_path))

    assert main([]) == 2
    assert capsys.readouterr().err == (
        "error: no local cloud is running here: start one with `python -m local up`, or name one with "
        "--stack Onyx-<env> or --bucket NAME\n")


def test_endpoint_url_goes_with_bucket(capsys):
    with pytest.raises(SystemExit):
        main(["--endpoint-url", "http://127.0.0.1:9000"])
    assert "--endpoint-url goes with --bucket" in capsys.readouterr().err
