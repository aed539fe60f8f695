"""Fixtures shared by every test tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local.seed.load import open_dump

# Powertools outside Lambda: a namespace for Metrics, no X-Ray daemon to talk to.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OnyxTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "onyx")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.aws", "tests.fixtures.observability",
                  "tests.fixtures.cdk"]

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "data" / "totesys"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    """The real Totesys sample rows vendored in the repository (`<table>.jsonl.gz`, see its SOURCES.md)."""
    return SAMPLE_DIR


@pytest.fixture
def plain_sample(tmp_path: Path, sample_dir: Path) -> Path:
    """The sample decompressed into `<table>.jsonl` files of a scratch directory, for tests that edit a dump."""
    for path in sample_dir.glob("*.jsonl.gz"):
        with open_dump(path) as dump:
            (tmp_path / path.name.removesuffix(".gz")).write_text(dump.read(), encoding="utf-8")
    return tmp_path
