"""The Totesys schema the project creates is the real one, read back through information_schema."""

from __future__ import annotations

import pytest

from lambdas.shared.totesys import BOOL, ENUMS, INT, MONEY, TABLES, TEXT, TIMESTAMP

# What information_schema says for each kind of column in the real Totesys.
EXPECTED_TYPES = {
    INT: ("integer", None, None, None),
    TEXT: ("character varying", None, None, None),
    TIMESTAMP: ("timestamp without time zone", None, None, 3),
    MONEY: ("numeric", 10, 2, None),
    BOOL: ("boolean", None, None, None),
}


def _columns(conn, table):
    return conn.run(
        "SELECT column_name, data_type, udt_name, numeric_precision, numeric_scale, datetime_precision, is_nullable"
        "  FROM information_schema.columns WHERE table_schema = 'public' AND table_name = :t"
        " ORDER BY ordinal_position", t=table)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.name)
def test_columns_names_types_and_nullability_match_totesys(source_db, table):
    conn = source_db.connect()
    try:
        actual = _columns(conn, table.name)
    finally:
        conn.close()
    expected = []
    for column in table.columns:
        if column.kind.startswith("enum:"):
            enum = column.kind.split(":", 1)[1]
            data_type, udt, precision, scale, dt_precision = "USER-DEFINED", enum, None, None, None
        else:
            data_type, precision, scale, dt_precision = EXPECTED_TYPES[column.kind]
            udt = {"integer": "int4", "character varying": "varchar", "numeric": "numeric", "boolean": "bool",
                   "timestamp without time zone": "timestamp"}[data_type]
        if column.kind == INT:
            precision, scale = 32, 0  # information_schema reports integer as numeric precision 32
        expected.append([column.name, data_type, udt, precision, scale, dt_precision,
                         "YES" if column.nullable else "NO"])
    assert [list(row) for row in actual] == expected


def test_every_table_has_its_integer_primary_key(source_db):
    conn = source_db.connect()
    try:
        rows = conn.run("""
            SELECT tc.table_name, kcu.column_name
              FROM information_schema.table_constraints tc
              JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
             WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = 'public'""")
    finally:
        conn.close()
    assert sorted(map(tuple, rows)) == sorted((t.name, t.key) for t in TABLES)


def test_foreign_keys_are_those_of_totesys(source_db):
    conn = source_db.connect()
    try:
        rows = conn.run("""
            SELECT kcu.table_name, kcu.column_name, ccu.table_name, ccu.column_name
              FROM information_schema.referential_constraints rc
              JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
              JOIN information_schema.constraint_column_usage ccu
                ON ccu.constraint_schema = rc.unique_constraint_schema
               AND ccu.constraint_name = rc.unique_constraint_name""")
    finally:
        conn.close()
    expected = sorted((t.name, c.name, c.references, f"{c.references}_id")
                      for t in TABLES for c in t.columns if c.references)
    assert sorted(map(tuple, rows)) == expected
    assert len(expected) == 17


def test_the_two_enums_have_the_totesys_values(source_db):
    conn = source_db.connect()
    try:
        rows = conn.run("""
            SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
              FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname""")
    finally:
        conn.close()
    assert {name: tuple(labels) for name, labels in rows} == ENUMS


def test_transaction_is_a_quoted_reserved_word_table(source_db):
    conn = source_db.connect()
    try:
        assert conn.run('SELECT count(*) FROM "transaction"') == [[0]]
    finally:
        conn.close()
