"""`python -m bench.retention` with no options: the ingestion bucket of the local cloud running here.

A module of its own: its local cloud must not share the process's moto with the `mock_aws` tests of
tests/bench/test_retention.py (tests/fixtures/local_cloud.py).
"""

from __future__ import annotations

import json

from bench.retention import main
from lambdas.shared.constants import Env
from tests.fixtures.local_cloud import function_environments, release, use_fresh_databases


def test_by_default_it_lists_the_ingestion_bucket_of_the_local_cloud_running_here(module_cloud, pg_server,
                                                                                   monkeypatch, capsys):
    use_fresh_databases(module_cloud, pg_server)  # empty buckets
    try:
        (ingestion,) = {env[Env.INGESTION_BUCKET] for env in function_environments(module_cloud).values()
                        if Env.INGESTION_BUCKET in env}
        s3 = module_cloud.client("s3")
        for key, size in [("payment/2024/01/02/run-1.jsonl", 200_000), ("payment/2024/01/02/run-2.jsonl", 1_000),
                          ("state/watermarks/8295-run-1.json", 300)]:
            s3.put_object(Bucket=ingestion, Key=key, Body=b"x" * size)
        monkeypatch.setenv("ONYX_LOCAL_DIR", str(module_cloud.directory))

        assert main(["--json"]) == 0
    finally:
        release(module_cloud)

    figures = json.loads(capsys.readouterr().out)
    assert figures["bucket"] == ingestion
    assert {kind: (t["objects"], t["bytes"], t["moved_objects"], t["moved_bytes"])
            for kind, t in figures["kinds"].items()} == {
        "data": (2, 201_000, 1, 200_000), "watermarks": (1, 300, 0, 0), "total": (3, 201_300, 1, 200_000)}
