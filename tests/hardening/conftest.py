"""One local cloud per test module, reused by every sequence of the module (each gets fresh databases)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl, retrier_decl

from lambdas.shared.database import DatabaseCredentials
from local.cloud import LocalCloud, UpOptions
from local.deploy import synthesize
from local.postgres import create_database, drop_database
from tests.fixtures.postgres import TEMPLATE_SEEDED
from tests.hardening.harness import Campaign
from tests.local_cloud.helpers import RetryClock


@pytest.fixture(scope="session")
def hardening_synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The CDK app synthesized once (no bundling); no safety lag, so a change is visible to the next run."""
    return synthesize(tmp_path_factory.mktemp("cdk-hardening") / "cdk.out", {"safetyLagSeconds": "0"})


class Console:
    """Collects what the local cloud prints (shown by pytest when a test fails)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(message)


@pytest.fixture(scope="module")
def local_cloud(pg_server: DatabaseCredentials, _source_templates: None, hardening_synthesized: tuple[Path, Any],
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """A local cloud up for the whole module; moto's Retry waits are recorded, not slept."""
    tag = uuid.uuid4().hex[:8]
    names = (f"onyx_hard_boot_src_{tag}", f"onyx_hard_boot_wh_{tag}")
    source = create_database(pg_server, names[0], TEMPLATE_SEEDED)
    warehouse = create_database(pg_server, names[1])
    cloud = LocalCloud(directory=tmp_path_factory.mktemp("hardening") / "cloud", progress=Console())
    clock = RetryClock()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(retrier_decl, "time", clock.time)
        patch.setattr(jitter_strategy_decl, "random", clock.random)
        cloud.up(UpOptions(source_url=source.to_url(), warehouse_url=warehouse.to_url(),
                           synthesized=hardening_synthesized))
        try:
            yield cloud
        finally:
            cloud.down()
            for name in names:
                drop_database(pg_server, name)


@pytest.fixture(scope="module")
def campaign(local_cloud: LocalCloud, pg_server: DatabaseCredentials) -> Iterator[Campaign]:
    """The module's cloud as a campaign: `campaign.reset()` before each sequence."""
    shared = Campaign(local_cloud, pg_server, TEMPLATE_SEEDED)
    yield shared
    shared.close()
