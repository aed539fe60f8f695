"""Fixtures shared by every test tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local.seed.load import open_dump
from stacks.node import use_pinned_node

# Before any test module imports aws_cdk: jsii runs on the Node LTS package.json pins.
use_pinned_node()

# Powertools outside Lambda: a namespace for Metrics, no X-Ray daemon to talk to.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "OnyxTest")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "onyx")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
# The environment every function's metrics name (the stack sets it on each function; ONYX_ENV_NAME).
os.environ.setdefault("ONYX_ENV_NAME", "test")
# The local clouds of the tests fork new Lambda environments from a process holding the libraries
# (local/lambda_forkserver.py): cold starts without the library imports, in every cloud and command line.
os.environ.setdefault("ONYX_LOCAL_FORK_SERVER", "1")

pytest_plugins = ["tests.fixtures.postgres", "tests.fixtures.aws", "tests.fixtures.observability",
                  "tests.fixtures.cdk", "tests.fixtures.local_cloud"]

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


# Fixtures that cost seconds to build: a test using one is slow on its own (`make test-fast` leaves it out).
COSTLY_FIXTURES = ("module_cloud", "built", "synthesized", "synthesized_in_vpc", "synthesized_in_vpc_with_groups")
# Tests sharing one of these run on one xdist worker (--dist loadgroup), so it is built once: `built` and the
# bundled app are per session, a module's local cloud per module.
GROUPED_FIXTURES = {"built": "analytics", "bundled_app": "stacks", "synthesized_in_vpc": "stacks",
                    "synthesized_in_vpc_with_groups": "stacks", "module_cloud": "cloud"}


def _group(item: pytest.Item) -> str | None:
    names = set(item.fixturenames)
    # tests/stacks/conftest.py's `synthesized` is the bundled, cdk-nag-checked app, not the local cloud's
    if "synthesized" in names and Path(item.path).is_relative_to(REPO / "tests" / "stacks"):
        names.add("bundled_app")
    group = next((group for fixture, group in GROUPED_FIXTURES.items() if fixture in names), None)
    if group == "cloud":
        return f"cloud-{Path(item.path).relative_to(REPO).with_suffix('').as_posix().replace('/', '.')}"
    return group


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the xdist_group marks into scheduling groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(fixture in item.fixturenames for fixture in COSTLY_FIXTURES):
            item.add_marker(pytest.mark.slow)
        group = _group(item)
        if group is not None and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    # Slow tests first (stable order otherwise): xdist hands out the groups, biggest first, then single tests in
    # this order, so the long ones start early and both workers finish together on the short ones.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
