"""Names quoted for SQL and the one list of transient SQLSTATEs, against a real PostgreSQL."""

from __future__ import annotations

import pg8000.native
import pytest

from lambdas.shared.identifiers import qualified, schema_identifier
from lambdas.shared.sqlstates import TRANSIENT_SQLSTATES, is_transient, sqlstate
from lambdas.shared.totesys import TABLES_BY_NAME


def _error(conn: pg8000.native.Connection, sql: str) -> pg8000.native.DatabaseError:
    with pytest.raises(pg8000.native.DatabaseError) as caught:
        conn.run(sql)
    conn.run("ROLLBACK")  # a no-op outside a transaction, but keeps the session usable
    return caught.value


def test_a_qualified_name_reaches_the_table_even_when_its_name_is_a_reserved_word(empty_db):
    conn = empty_db.connect()
    try:
        conn.run("CREATE SCHEMA onyx_wh")
        conn.run(f"CREATE TABLE {qualified('onyx_wh', 'transaction')} (transaction_id int)")
        conn.run(f"INSERT INTO {qualified('onyx_wh', 'transaction')} VALUES (7)")
        assert conn.run(f"SELECT transaction_id FROM onyx_wh.{TABLES_BY_NAME['transaction'].sql_name}") == [[7]]
    finally:
        conn.close()


@pytest.mark.parametrize("schema", ['wh"; DROP TABLE x; --', "Upper", "", "a" * 64, "1st"])
def test_a_schema_name_outside_the_pattern_is_refused_before_it_reaches_sql(schema):
    with pytest.raises(ValueError, match="must match"):
        schema_identifier(schema)


def test_the_quoted_schema_name_is_pg8000s_quoting():
    assert schema_identifier("onyx_wh") == '"onyx_wh"'
    assert qualified("public", 'we"ird') == '"public"."we""ird"'


def test_a_statement_timeout_is_transient_and_a_data_error_is_not(empty_db):
    conn = empty_db.connect()
    try:
        # Only the sleep runs under the timeout: a statement after it could itself be cancelled on a busy machine.
        conn.run("SET statement_timeout = 200")
        timeout = _error(conn, "SELECT pg_sleep(5)")
    finally:
        conn.close()
    conn = empty_db.connect()
    try:
        division = _error(conn, "SELECT 1 / 0")
    finally:
        conn.close()
    assert (sqlstate(timeout), is_transient(timeout)) == ("57014", True)
    assert (sqlstate(division), is_transient(division)) == ("22012", False)


def test_a_refused_connection_is_transient(empty_db):
    from local.postgres import free_port

    closed = empty_db.__class__(**{**empty_db.__dict__, "port": free_port()})
    with pytest.raises((pg8000.native.InterfaceError, OSError)) as caught:
        closed.connect(timeout=2)
    assert is_transient(caught.value)


@pytest.mark.parametrize(("code", "transient"), [
    ("08006", True), ("53300", True), ("57P01", True), ("57014", True), ("55P03", True), ("40001", True),
    ("40P01", True), ("40002", False), ("57000", False), ("23505", False), ("42P01", False)])
def test_the_transient_list_decides_by_code(code, transient):
    error = pg8000.native.DatabaseError({"C": code, "M": "m"})
    assert is_transient(error) is transient
    assert any(code.startswith(p) for p in TRANSIENT_SQLSTATES) is transient
