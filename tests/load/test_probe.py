"""The warehouse probe: each analyst view counted (or its error named), the login's privileges, nothing written.
(Asked through the Load handler: tests/load/test_handler.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from lambdas.load.probe import ANALYST_VIEWS, probe_warehouse
from lambdas.shared.database import DatabaseCredentials
from tests.sql import run_sql

PASSWORD = f"Pw-{uuid.uuid4().hex}"


def _counted(rows: int) -> dict[str, dict[str, int]]:
    return {view: {"rows": rows} for view in ANALYST_VIEWS}


def test_the_analyst_views_are_the_views_the_migrations_create(warehouse):
    views = {name for (name,) in warehouse.run("SELECT table_name FROM information_schema.views "
                                               "WHERE table_schema = 'public'")}

    assert views == set(ANALYST_VIEWS)


def test_the_owner_of_a_migrated_warehouse_may_do_everything_a_load_needs(empty_db, warehouse):
    before = run_sql(empty_db, "SELECT count(*) FROM onyx_migration")

    answer = probe_warehouse(empty_db, "public")

    assert answer == {"probe": "warehouse", "user": empty_db.username, "database": empty_db.dbname, "schema": "public",
                      "views": _counted(0), "temporary_tables": True, "create_in_schema": True}
    assert run_sql(empty_db, "SELECT count(*) FROM onyx_migration") == before  # nothing applied, nothing written


@pytest.fixture
def analyst(empty_db: DatabaseCredentials, warehouse) -> Iterator[DatabaseCredentials]:
    """A login that may read every view but payment_wide, and nothing else: no CREATE in the schema, no TEMP on
    the database. (A view reads its tables with its owner's privileges: SELECT on the view is all it takes.)"""
    role = f"onyx_analyst_{uuid.uuid4().hex[:8]}"
    run_sql(empty_db, f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'",
            f"REVOKE TEMPORARY ON DATABASE {empty_db.dbname} FROM PUBLIC",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
            f"GRANT SELECT ON {', '.join(v for v in ANALYST_VIEWS if v != 'payment_wide')} TO {role}")
    yield replace(empty_db, username=role, password=PASSWORD)
    run_sql(empty_db, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def test_a_login_without_temp_or_create_is_told_so_and_a_view_it_may_not_read_is_named(analyst):
    answer = probe_warehouse(analyst, "public")

    refused = {"error": "42501 permission denied for view payment_wide"}
    assert answer == {"probe": "warehouse", "user": analyst.username, "database": analyst.dbname, "schema": "public",
                      "views": {**_counted(0), "payment_wide": refused}, "temporary_tables": False,
                      "create_in_schema": False}


def test_a_schema_that_does_not_exist_is_named_and_every_view_fails(empty_db, warehouse):
    answer = probe_warehouse(empty_db, "nowhere")

    assert answer["create_in_schema"] is None
    assert answer["views"]["sales_order_current"] == {
        "error": '42P01 relation "nowhere.sales_order_current" does not exist'}
    assert all("error" in result for result in answer["views"].values())
