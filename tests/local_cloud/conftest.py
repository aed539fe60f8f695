"""The local cloud in the test process: real PostgreSQL, moto, the synthesized stack, the real handlers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.cloud import LocalCloud, UpOptions


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
