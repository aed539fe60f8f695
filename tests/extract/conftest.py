"""Fixtures for the extract tests."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lambdas.extract.run import ExtractResult, run_extract
from lambdas.shared.database import DatabaseCredentials
from tests.extract.helpers import Extract
from tests.fixtures.aws import Aws


@pytest.fixture
def extract(aws: Aws) -> Extract:
    """`extract(credentials, run_id, **options)`: one run into the moto ingestion bucket, no safety lag."""

    def run(credentials: DatabaseCredentials, run_id: str, **options: Any) -> ExtractResult:
        time.sleep(0.005)  # rows stamped just before are then at least a millisecond in the past
        options.setdefault("safety_lag_seconds", 0)
        return run_extract(credentials, aws.s3, aws.ingestion_bucket, run_id, **options)

    return run
