"""Fixtures for the extract tests."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lambdas.extract import run as extract_run
from lambdas.extract.run import ExtractResult
from lambdas.shared.database import DatabaseCredentials
from tests.extract.helpers import Extract
from tests.fixtures.aws import Aws


@pytest.fixture
def extract(aws: Aws) -> Extract:
    """`extract(credentials, run_id, commit=True, **options)`: one run into the moto ingestion bucket, no safety lag.

    With `commit` (the default) the run is then committed, as the state machine does once the run
    is in the warehouse; `commit=False` stands for a run that failed downstream.
    """

    def run(credentials: DatabaseCredentials, run_id: str, commit: bool = True, **options: Any) -> ExtractResult:
        time.sleep(0.005)  # rows stamped just before are then at least a millisecond in the past
        options.setdefault("safety_lag_seconds", 0)
        result = extract_run.run_extract(credentials, aws.s3, aws.ingestion_bucket, run_id, **options)
        if commit:
            extract_run.commit_run(aws.s3, aws.ingestion_bucket, run_id)
        return result

    return run
