"""One warehouse built by the real pipeline (local cloud: full load, business activity, incremental run),
made once per session and copied (CREATE DATABASE ... TEMPLATE) for each test that breaks it on purpose."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from lambdas.shared.database import DatabaseCredentials
from local.cloud import LocalCloud, UpOptions
from local.postgres import create_database, drop_database
from local.simulate import Activity, simulate
from tests.fixtures.postgres import TEMPLATE_SEEDED
from tests.sql import run_sql

ACTIVITY = Activity(new_sales_orders=20, new_purchase_orders=5, amended_orders=10, payments_made=7)


@dataclass(frozen=True)
class Built:
    source: DatabaseCredentials
    warehouse: DatabaseCredentials
    before_activity: datetime  # the source's newest last_updated when the first run had loaded everything


@pytest.fixture(scope="session")
def built(pg_server: DatabaseCredentials, _source_templates: None, synthesized: tuple[Path, Any],
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """A seeded source and the warehouse the pipeline made of it (two runs, history included).

    Read-only for tests: break a copy (`broken_warehouse`, `changed_source`) instead. Its cloud (on the
    session's one synthesized app) is down again before any test runs: moto's state lives in the process.
    """
    tag = uuid.uuid4().hex[:8]
    source = create_database(pg_server, f"onyx_analytics_src_{tag}", TEMPLATE_SEEDED)
    warehouse = create_database(pg_server, f"onyx_analytics_wh_{tag}")
    cloud = LocalCloud(directory=tmp_path_factory.mktemp("analytics-cloud") / "cloud", progress=lambda _message: None)
    try:
        cloud.up(UpOptions(source_url=source.to_url(), warehouse_url=warehouse.to_url(), synthesized=synthesized))
        first = cloud.execute()
        assert first.succeeded, first.error
        conn = source.connect()
        try:
            before = conn.run("SELECT max(last_updated) FROM sales_order")[0][0]
        finally:
            conn.close()
        simulate(source, ACTIVITY)
        second = cloud.execute()
        assert second.succeeded, second.error
    finally:
        cloud.down()
    yield Built(source, warehouse, before)
    drop_database(pg_server, source.dbname)
    drop_database(pg_server, warehouse.dbname)


def _copy(server: DatabaseCredentials, original: DatabaseCredentials) -> Iterator[DatabaseCredentials]:
    name = f"onyx_test_{uuid.uuid4().hex[:12]}"
    copy = create_database(server, name, original.dbname)
    try:
        yield copy
    finally:
        drop_database(server, name)


@pytest.fixture
def broken_warehouse(pg_server: DatabaseCredentials, built: Built) -> Iterator[DatabaseCredentials]:
    """A copy of the good warehouse, for a test to break."""
    yield from _copy(pg_server, built.warehouse)


@pytest.fixture
def changed_source(pg_server: DatabaseCredentials, built: Built) -> Iterator[DatabaseCredentials]:
    """A copy of the source the good warehouse was built from, for a test to change."""
    yield from _copy(pg_server, built.source)


@pytest.fixture
def sql():
    """Run statements on a database: sql(credentials, "ALTER ...", "UPDATE ...")."""
    return run_sql


@pytest.fixture
def report_path(tmp_path: Path) -> Path:
    return tmp_path / "report.html"
