"""The source probe (lambdas/shared/probe.py): what the Extract function's Totesys login may do. Read only: one
READ ONLY transaction, rolled back; no table is read, only the catalog.

- SELECT on each of the 11 tables: without it every run fails.
- pg_read_all_stats (its privileges, i.e. membership that inherits them): without it `pg_stat_activity` hides
  other roles' transactions, so a late commit is protected by the safety lag alone (lambdas/extract/window.py).
- the server's version: reading by ranges of heap pages needs PostgreSQL 14 or later.
"""

from __future__ import annotations

from typing import Any, Final

from lambdas.extract.source import connect_source, source_errors
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.probe import SOURCE, read_only
from lambdas.shared.totesys import TABLE_NAMES

# to_regclass takes a quoted name (`transaction` is a reserved word); has_table_privilege is only asked of a
# table that exists (CASE), since it raises on one that does not.
_TABLES_SQL = """
    SELECT name,
           CASE WHEN to_regclass(quote_ident(name)) IS NULL THEN NULL
                ELSE has_table_privilege(to_regclass(quote_ident(name)), 'SELECT') END
      FROM unnest(CAST(:names AS text[])) WITH ORDINALITY AS t(name, position)
     ORDER BY position
"""
_LOGIN_SQL = """
    SELECT current_user,
           pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'),
           split_part(current_setting('server_version'), ' ', 1),
           current_setting('server_version_num')::int
"""
PROBE_IO_TIMEOUT_SECONDS: Final = 90


def probe_source(credentials: DatabaseCredentials) -> dict[str, Any]:
    """`{"probe": "source", "user", "pg_read_all_stats", "server_version", "server_version_num",
    "tables_missing", "tables_not_readable"}` (the last two: Totesys table names, in source order)."""
    conn = connect_source(credentials, io_timeout=PROBE_IO_TIMEOUT_SECONDS)
    with source_errors(credentials), read_only(conn):
        ((user, read_all_stats, version, version_num),) = conn.run(_LOGIN_SQL)
        tables = conn.run(_TABLES_SQL, names=list(TABLE_NAMES))
    return {"probe": SOURCE, "user": str(user), "pg_read_all_stats": bool(read_all_stats),
            "server_version": str(version), "server_version_num": int(version_num),
            "tables_missing": [str(name) for name, readable in tables if readable is None],
            "tables_not_readable": [str(name) for name, readable in tables if readable is False]}
