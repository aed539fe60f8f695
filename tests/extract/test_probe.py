"""The source probe: what the Extract function's Totesys login may do, read from the catalog (no table is read).
(Asked through the Extract handler: tests/extract/test_handler.py.)"""

from __future__ import annotations

import uuid
from dataclasses import replace

from lambdas.extract.probe import probe_source
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.totesys import TABLE_NAMES
from tests.sql import run_sql

PASSWORD = f"Pw-{uuid.uuid4().hex}"


def _version(source: DatabaseCredentials) -> tuple[str, int]:
    ((version, number),) = run_sql(source, "SELECT split_part(current_setting('server_version'), ' ', 1), "
                                           "current_setting('server_version_num')::int")
    return str(version), int(number)


def test_the_superuser_may_read_every_table_and_holds_pg_read_all_stats_s_privileges(source_db):
    version, number = _version(source_db)

    assert probe_source(source_db) == {"probe": "source", "user": source_db.username, "pg_read_all_stats": True,
                                       "server_version": version, "server_version_num": number,
                                       "tables_missing": [], "tables_not_readable": []}


def test_a_login_missing_grants_is_told_which_tables_it_may_not_read_and_that_it_lacks_pg_read_all_stats(source_db):
    role = f"onyx_extract_{uuid.uuid4().hex[:8]}"
    readable = [name for name in TABLE_NAMES if name not in ("payment", "transaction")]
    # NOINHERIT: a member of pg_read_all_stats that does not inherit its privileges sees no other session either.
    run_sql(source_db, f"CREATE ROLE {role} LOGIN NOINHERIT PASSWORD '{PASSWORD}'",
            f"GRANT SELECT ON {', '.join(readable)} TO {role}", f"GRANT pg_read_all_stats TO {role}",
            "DROP TABLE sales_order CASCADE")
    try:
        answer = probe_source(replace(source_db, username=role, password=PASSWORD))
    finally:
        run_sql(source_db, f"DROP OWNED BY {role}", f"DROP ROLE {role}")

    assert (answer["user"], answer["pg_read_all_stats"]) == (role, False)
    assert answer["tables_missing"] == ["sales_order"]
    assert answer["tables_not_readable"] == ["transaction", "payment"]  # in the order Totesys lists them
