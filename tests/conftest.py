"""Fixtures shared by every test tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Powertools outside Lambda: a namespace for Metrics, no X-Ray daemon to talk to.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OnyxTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "onyx")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.aws", "tests.fixtures.observability",
                  "tests.fixtures.cdk"]

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO.parent / "shared" / "data" / "totesys"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The real Totesys sample rows (read in place, never copied into the repo)."""
    if not SAMPLE_DIR.is_dir():
        pytest.fail(f"Totesys sample data not found at {SAMPLE_DIR}")
    return SAMPLE_DIR
