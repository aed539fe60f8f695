"""The warehouse probe (lambdas/shared/probe.py): does each analyst view answer, and may the Load function's
login do what every load needs? Read only: one READ ONLY transaction, rolled back.

Each view is counted (`count(*)`: cheap next to a load, and a number a person can compare with the source);
a view that fails (missing, no privilege, a broken join) is reported with PostgreSQL's message while the others
are still counted.
"""

from __future__ import annotations

from typing import Any, Final

import pg8000.native

from lambdas.load.runner import connect
from lambdas.load.warehouse import unavailable
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.identifiers import qualified
from lambdas.shared.probe import WAREHOUSE, read_only
from lambdas.shared.sqlstates import error_reason, is_transient

# The views analysts query (lambdas/load/migrations/0004_views.sql; README "Connecting Power BI").
ANALYST_VIEWS: Final = (
    "sales_order_current",
    "purchase_order_current",
    "payment_current",
    "sales_order_wide",
    "purchase_order_wide",
    "payment_wide",
)

# What every load needs of its login, beyond its own tables: TEMP on the database (the run's Parquet is staged
# in temporary tables, lambdas/load/staging.py) and CREATE in the schema (a new migration creates its objects).
# has_schema_privilege raises on a schema that does not exist: CASE keeps it from being asked.
_PRIVILEGES_SQL = """
    SELECT current_user,
           current_database(),
           has_database_privilege(current_database(), 'TEMP'),
           CASE WHEN to_regnamespace(:schema) IS NULL THEN NULL ELSE has_schema_privilege(:schema, 'CREATE') END
"""


def _count_views(conn: pg8000.native.Connection, schema: str) -> dict[str, dict[str, Any]]:
    views: dict[str, dict[str, Any]] = {}
    for view in ANALYST_VIEWS:
        conn.run("SAVEPOINT probe_view")
        try:
            ((rows,),) = conn.run(f"SELECT count(*) FROM {qualified(schema, view)}")
        except pg8000.native.DatabaseError as exc:
            if is_transient(exc):  # the server, not the view: the whole probe failed
                raise
            conn.run("ROLLBACK TO SAVEPOINT probe_view")
            views[view] = {"error": error_reason(exc)}
        else:
            conn.run("RELEASE SAVEPOINT probe_view")
            views[view] = {"rows": int(rows)}
    return views


def probe_warehouse(credentials: DatabaseCredentials, schema: str) -> dict[str, Any]:
    """`{"probe": "warehouse", "user", "database", "schema", "views": {view: {"rows": n} | {"error": message}},
    "temporary_tables", "create_in_schema"}` (`create_in_schema` is None when the schema does not exist)."""
    conn = connect(credentials)
    try:
        with read_only(conn):
            ((user, database, temporary, create),) = conn.run(_PRIVILEGES_SQL, schema=schema)
            views = _count_views(conn, schema)
    except Exception as exc:
        if is_transient(exc):
            raise unavailable(exc, "probing") from exc
        raise
    return {"probe": WAREHOUSE, "user": str(user), "database": str(database), "schema": schema, "views": views,
            "temporary_tables": bool(temporary), "create_in_schema": None if create is None else bool(create)}
