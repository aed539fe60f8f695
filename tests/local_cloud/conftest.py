"""The local cloud in the test process: real PostgreSQL, moto, the synthesized stack, the real handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.cloud import LocalCloud
from tests.fixtures.local_cloud import Console, release, use_databases


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def cloud(module_cloud, seeded_source_db, empty_db, console) -> Iterator[LocalCloud]:
    """The module's local cloud over a seeded source and an empty warehouse of this test's own."""
    use_databases(module_cloud, seeded_source_db, empty_db)
    module_cloud.progress = console
    yield module_cloud
    release(module_cloud)
