"""The local cloud in the test process: real PostgreSQL, moto, the synthesized stack, the real handlers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local.cloud import LocalCloud, UpOptions
from local.deploy import synthesize


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The CDK app synthesized once for the whole session (as `up` does, without bundling).

    No safety lag: a change made by a test is visible to the very next run.
    """
    return synthesize(tmp_path_factory.mktemp("cdk") / "cdk.out", {"safetyLagSeconds": "0"})


class Console:
    """Collects what the local cloud prints."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(message)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def cloud(seeded_source_db, empty_db, synthesized, tmp_path, console) -> Iterator[LocalCloud]:
    """A local cloud over a seeded source and an empty warehouse, torn down after the test."""
    local = LocalCloud(directory=tmp_path / "cloud", progress=console)
    local.up(UpOptions(source_url=seeded_source_db.to_url(), warehouse_url=empty_db.to_url(),
                       synthesized=synthesized))
    yield local
    local.down()
