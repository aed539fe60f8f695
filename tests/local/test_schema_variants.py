"""The Totesys schema written as another source may declare it: enum types named otherwise, or text columns."""

from __future__ import annotations

import pytest

from lambdas.shared.totesys import TABLES
from local.seed.load import seed_generated
from local.seed.schema import (
    RENAMED_ENUMS,
    SCHEMA_SQL,
    TEXT_ENUMS,
    EnumDeclaration,
    created_types,
    source_schema_sql,
)
from tests.sql import run_sql


def _rows(database) -> dict[str, list[list[object]]]:
    """Every row of every table, the enum columns as text."""
    conn = database.connect()
    try:
        return {t.name: [list(row) for row in conn.run(
            f"SELECT {', '.join(f'CAST({c} AS text)' for c in t.column_names)} FROM {t.sql_name} ORDER BY {t.key}")]
            for t in TABLES}
    finally:
        conn.close()


def _enum_types(database) -> list[str]:
    return [name for (name,) in run_sql(database, "SELECT typname FROM pg_type WHERE typtype = 'e' ORDER BY 1")]


def test_without_a_variant_the_schema_is_totesys_own():
    assert source_schema_sql() == source_schema_sql({}) == SCHEMA_SQL.read_text()
    assert created_types() == ["payment_type_name", "transaction_type"]


def test_a_variant_says_which_types_it_creates():
    assert created_types(RENAMED_ENUMS) == ["PaymentTypeName", "TransactionType"]
    assert created_types(TEXT_ENUMS) == []
    assert created_types({"transaction_type": EnumDeclaration(plain="text")}) == ["payment_type_name"]


def test_a_variant_of_a_column_that_is_not_an_enum_column_or_a_type_that_is_not_a_string_is_refused():
    with pytest.raises(ValueError, match="not enum columns of Totesys: currency_code"):
        source_schema_sql({"currency_code": EnumDeclaration(plain="text")})
    with pytest.raises(ValueError, match="not a string type: 'integer'"):
        EnumDeclaration(plain="integer")


def test_a_variant_source_holds_the_very_rows_of_a_totesys_one(source_db, empty_db):
    seed_generated(source_db, 40, seed=3)
    seed_generated(empty_db, 40, seed=3, variant=RENAMED_ENUMS)

    assert _enum_types(empty_db) == ["PaymentTypeName", "TransactionType"]
    assert _rows(empty_db) == _rows(source_db)


def test_a_reset_drops_the_enum_types_the_tables_had_whatever_their_names(empty_db):
    seed_generated(empty_db, 10, variant=RENAMED_ENUMS)

    seed_generated(empty_db, 10, reset=True, variant=TEXT_ENUMS)

    assert _enum_types(empty_db) == []
    assert run_sql(empty_db, 'SELECT count(*) FROM "transaction" WHERE transaction_type = \'SALE\'') == [[10]]
