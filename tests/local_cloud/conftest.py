"""The local cloud in the test process: real PostgreSQL, moto, the synthesized stack, the real handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.cloud import LocalCloud
from tests.fixtures.local_cloud import Console, release, use_fresh_databases


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def cloud(module_cloud, pg_server, console) -> Iterator[LocalCloud]:
    """The module's local cloud over a freshly seeded source and a fresh, empty warehouse."""
    use_fresh_databases(module_cloud, pg_server)
    module_cloud.progress = console
    yield module_cloud
    release(module_cloud)
