"""A warehouse's contents as comparable values: what two warehouses built from the same runs must share."""

from __future__ import annotations

from typing import Any

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.identifiers import qualified
from lambdas.shared.star_schema import STAR_TABLES


def star_contents(warehouse: DatabaseCredentials, schema: str, *, ledger: bool = False) -> dict[str, list[list[Any]]]:
    """Every row of every star table, surrogate record ids left out, in a fixed order; with `ledger`, also the run
    ledger's run ids (`onyx_run`)."""
    conn = warehouse.connect()
    try:
        contents = {}
        for table in STAR_TABLES:
            columns = ", ".join(table.columns)
            contents[table.name] = conn.run(f"SELECT {columns} FROM {qualified(schema, table.name)} ORDER BY {columns}")
        if ledger:
            contents["onyx_run"] = conn.run(f"SELECT run_id FROM {qualified(schema, 'onyx_run')} ORDER BY run_id")
        return contents
    finally:
        conn.close()
