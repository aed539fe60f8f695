"""A source is compatible when its tables have our columns with compatible kinds: the names of its types are not
compared, and its enum values are checked as data (the transform names a row holding one Onyx does not know)."""

from __future__ import annotations

import json

import pytest

from lambdas.extract.schema_check import check_source_schema
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import InvalidData, SourceSchemaChanged
from lambdas.transform.runner import run_transform
from local.seed.load import apply_source_schema, seed_generated
from local.seed.schema import RENAMED_ENUMS, TEXT_ENUMS, EnumDeclaration, SchemaVariant
from tests.extract.helpers import Extract
from tests.fixtures.aws import Aws
from tests.sql import run_sql

WITH_REFUND: SchemaVariant = {"transaction_type": EnumDeclaration(type_name="TxKind", labels_added=("REFUND",))}
VARIANTS: dict[str, SchemaVariant | None] = {
    "totesys": None,
    "enum types named otherwise": RENAMED_ENUMS,
    "text and varchar columns": TEXT_ENUMS,
    "char columns": {"payment_type_name": EnumDeclaration(plain="char(16)"),
                     "transaction_type": EnumDeclaration(plain="character varying")},
    "an enum type with a label Onyx does not know": WITH_REFUND,
}


def _create_schema(database: DatabaseCredentials, variant: SchemaVariant | None) -> None:
    conn = database.connect()
    try:
        apply_source_schema(conn, variant=variant)
    finally:
        conn.close()


def _check(database: DatabaseCredentials) -> list[str]:
    conn = database.connect()
    try:
        return check_source_schema(conn)
    finally:
        conn.close()


def _types(database: DatabaseCredentials) -> list[list[str]]:
    """(column, data_type, udt_name) of the two enum columns, as information_schema has them."""
    return run_sql(database, """
        SELECT column_name, data_type, udt_name FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name IN ('payment_type_name', 'transaction_type')
         ORDER BY column_name""")


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS.keys())
def test_a_source_whose_enum_columns_are_any_enum_type_or_text_is_accepted(empty_db, variant):
    _create_schema(empty_db, variant)

    notes = _check(empty_db)

    if variant is WITH_REFUND:
        assert notes == ["transaction.transaction_type (type TxKind) also allows REFUND, which Onyx does not know: "
                         "a row holding one fails the transform"]
    else:
        assert notes == []


@pytest.mark.parametrize(("variant", "columns", "enum_types"), [
    (RENAMED_ENUMS, [["payment_type_name", "USER-DEFINED", "PaymentTypeName"],
                     ["transaction_type", "USER-DEFINED", "TransactionType"]],
     [["PaymentTypeName"], ["TransactionType"]]),
    (TEXT_ENUMS, [["payment_type_name", "text", "text"], ["transaction_type", "character varying", "varchar"]], []),
], ids=["renamed", "text"])
def test_the_variants_declare_the_types_they_say(empty_db, variant, columns, enum_types):
    """The schema variants are what the tests claim to check (read back from the catalog)."""
    _create_schema(empty_db, variant)

    assert [list(row) for row in _types(empty_db)] == columns
    assert [list(row) for row in run_sql(empty_db, "SELECT typname FROM pg_type WHERE typtype = 'e' ORDER BY 1")] == (
        enum_types)


def test_an_integer_transaction_type_is_still_refused_naming_table_column_and_kinds(source_db):
    run_sql(source_db, 'ALTER TABLE "transaction" ALTER COLUMN transaction_type TYPE integer USING 0')

    with pytest.raises(SourceSchemaChanged) as refused:
        _check(source_db)

    assert str(refused.value) == ("Totesys schema differs from what Onyx knows: "
                                  "transaction: column transaction_type is integer, expected an enum or text")


def test_a_type_that_is_not_an_enum_is_refused_for_an_enum_column(source_db):
    run_sql(source_db, "CREATE TYPE payment_kind AS (code integer)",
            "ALTER TABLE payment_type ALTER COLUMN payment_type_name TYPE payment_kind USING ROW(0)")

    with pytest.raises(SourceSchemaChanged) as refused:
        _check(source_db)

    assert str(refused.value) == ("Totesys schema differs from what Onyx knows: "
                                  "payment_type: column payment_type_name is payment_kind, expected an enum or text")


def test_an_enum_type_on_a_column_that_is_not_an_enum_column_is_refused(source_db):
    run_sql(source_db, "CREATE TYPE currency_code AS ENUM ('GBP', 'USD', 'EUR')",
            "ALTER TABLE currency ALTER COLUMN currency_code TYPE currency_code"
            " USING CAST(CAST(currency_code AS text) AS currency_code)")

    with pytest.raises(SourceSchemaChanged) as refused:
        _check(source_db)

    assert str(refused.value) == ("Totesys schema differs from what Onyx knows: "
                                  "currency: column currency_code is currency_code, expected text")


UNKNOWN_VALUES = {  # table -> (its enum column, a value Onyx does not know, the values it knows)
    "transaction": ("transaction_type", "REFUND", "SALE, PURCHASE"),
    "payment_type": ("payment_type_name", "CASH", "SALES_RECEIPT, SALES_REFUND, PURCHASE_PAYMENT, PURCHASE_REFUND"),
}


@pytest.mark.parametrize("table", UNKNOWN_VALUES)
def test_a_value_onyx_does_not_know_is_extracted_then_refused_by_the_transform_naming_table_key_and_rule(
        empty_db, aws: Aws, extract: Extract, log_output, table):
    column, value, known = UNKNOWN_VALUES[table]
    variant: SchemaVariant = {"transaction_type": EnumDeclaration(type_name="TxKind", labels_added=("REFUND",)),
                              "payment_type_name": EnumDeclaration(plain="text")}
    seed_generated(empty_db, 10, seed=5, variant=variant)
    (new_id,) = run_sql(empty_db, f'INSERT INTO "{table}" ({column}) VALUES (\'{value}\') RETURNING {table}_id')[0]

    result = extract(empty_db, "run-1", commit=False)  # the schema is compatible: the values are data

    assert result.manifest.tables[table].rows == {"transaction": 15, "payment_type": 5}[table]
    logged = [json.loads(line) for line in log_output.getvalue().splitlines()]
    assert [e["note"] for e in logged if e["message"] == "the source allows values Onyx does not know"] == [
        "transaction.transaction_type (type TxKind) also allows REFUND, which Onyx does not know: "
        "a row holding one fails the transform"]
    with pytest.raises(InvalidData) as refused:
        run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-1", result.manifest.key)

    assert (refused.value.table, refused.value.key, refused.value.rule) == (
        table, f"{table}_id={new_id}", f'{column} "{value}" is not one of {known}')
    assert aws.keys(aws.processed_bucket) == []
