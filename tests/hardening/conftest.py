"""One local cloud per test module, reused by every sequence (each gets fresh databases)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl, retrier_decl

from lambdas.shared.database import DatabaseCredentials
from local.cloud import LocalCloud
from tests.fixtures.local_cloud import release
from tests.fixtures.postgres import TEMPLATE_SEEDED
from tests.hardening.harness import Campaign
from tests.local_cloud.helpers import RetryClock


@pytest.fixture(scope="module")
def local_cloud(module_cloud: LocalCloud) -> Iterator[LocalCloud]:
    """The module's local cloud for the module's campaign; moto's Retry waits are recorded, not slept.

    Each sequence starts with `campaign.reset()`: new databases, secrets pointed at them, empty buckets.
    """
    clock = RetryClock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retrier_decl, "time", clock.time)
        patch.setattr(jitter_strategy_decl, "random", clock.random)
        try:
            yield module_cloud
        finally:
            release(module_cloud)


@pytest.fixture(scope="module")
def campaign(local_cloud: LocalCloud, pg_server: DatabaseCredentials) -> Iterator[Campaign]:
    """The module's cloud as a campaign: `campaign.reset()` before each sequence."""
    shared = Campaign(local_cloud, pg_server, TEMPLATE_SEEDED)
    yield shared
    shared.close()
