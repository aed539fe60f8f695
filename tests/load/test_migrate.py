"""The warehouse schema as migrations: complete, idempotent, in any schema, safe to run concurrently."""

from __future__ import annotations

import shutil
import threading

import pg8000.native
import pytest

from lambdas.load.migrate import MIGRATIONS_DIR, MigrationError, apply_migrations, migrations
from lambdas.shared.star_schema import FACTS, STAR_TABLES

ALL_MIGRATIONS = [m.name for m in migrations()]
NEXT = f"{len(ALL_MIGRATIONS) + 1:04d}"  # the version a new migration would take
VIEWS = ["payment_current", "payment_wide", "purchase_order_current", "purchase_order_wide",
         "sales_order_current", "sales_order_wide"]


def relations(conn: pg8000.native.Connection, schema: str, kind: str) -> list[str]:
    return [r[0] for r in conn.run(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :schema AND c.relkind = :kind ORDER BY 1", schema=schema, kind=kind)]


@pytest.fixture
def conn(empty_db):
    connection = empty_db.connect()
    yield connection
    connection.close()


def test_migrations_create_the_star_tables_ledgers_and_views_in_the_given_schema(conn):
    applied = apply_migrations(conn, "analytics")

    assert applied == ALL_MIGRATIONS
    assert ALL_MIGRATIONS[:4] == ["0001_dimensions.sql", "0002_facts.sql", "0003_run_ledger.sql", "0004_views.sql"]
    assert [m[:4] for m in ALL_MIGRATIONS] == [f"{v:04d}" for v in range(1, len(ALL_MIGRATIONS) + 1)]
    assert relations(conn, "analytics", "r") == sorted([t.name for t in STAR_TABLES] + ["onyx_migration",
                                                                                         "onyx_run"])
    assert relations(conn, "analytics", "v") == VIEWS
    assert relations(conn, "public", "r") == []


def test_table_columns_are_in_star_schema_order(conn):
    apply_migrations(conn)

    for table in STAR_TABLES:
        columns = [r[0] for r in conn.run(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = :t ORDER BY ordinal_position", t=table.name)]
        assert columns == ([table.surrogate] if table.surrogate else []) + list(table.columns), table.name


def test_applying_migrations_twice_changes_nothing(conn):
    apply_migrations(conn)
    ledger = conn.run("SELECT name, checksum, applied_at FROM onyx_migration ORDER BY 1")

    assert apply_migrations(conn) == []
    assert conn.run("SELECT name, checksum, applied_at FROM onyx_migration ORDER BY 1") == ledger


def test_every_fact_reference_is_a_foreign_key_and_every_version_unique(conn):
    apply_migrations(conn)

    for fact in FACTS:
        foreign_keys = conn.run(
            "SELECT a.attname, r.relname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "JOIN pg_class r ON r.oid = c.confrelid "
            "WHERE c.conrelid = CAST(:t AS regclass) AND c.contype = 'f' ORDER BY 1", t=fact.name)
        assert foreign_keys == sorted([list(r) for r in fact.references]), fact.name
        unique = conn.run(
            "SELECT array_agg(a.attname ORDER BY k.ord) FROM pg_constraint c "
            "CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord) "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
            "WHERE c.conrelid = CAST(:t AS regclass) AND c.contype = 'u' GROUP BY c.oid", t=fact.name)
        assert unique == [[list(fact.key)]], fact.name


def test_concurrent_appliers_apply_each_migration_once(empty_db):
    applied: list[list[str]] = []

    def apply() -> None:
        connection = empty_db.connect()
        try:
            applied.append(apply_migrations(connection, "analytics"))
        finally:
            connection.close()

    threads = [threading.Thread(target=apply) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(applied) == [[], [], ALL_MIGRATIONS]


def test_a_new_migration_is_applied_on_top_of_the_old_ones(conn, tmp_path):
    apply_migrations(conn)
    shutil.copytree(MIGRATIONS_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / f"{NEXT}_note.sql").write_text("COMMENT ON TABLE dim_staff IS 'people who sell and buy';")

    assert apply_migrations(conn, "public", tmp_path) == [f"{NEXT}_note.sql"]
    assert conn.run("SELECT obj_description(CAST('public.dim_staff' AS regclass))") == [["people who sell and buy"]]


def test_an_applied_migration_that_was_edited_is_refused(conn, tmp_path):
    apply_migrations(conn)
    shutil.copytree(MIGRATIONS_DIR, tmp_path, dirs_exist_ok=True)
    edited = tmp_path / "0004_views.sql"
    edited.write_text(edited.read_text() + "\n-- edited\n")

    with pytest.raises(MigrationError, match=r"0004_views\.sql was changed after it was applied"):
        apply_migrations(conn, "public", tmp_path)


def test_a_failing_migration_leaves_nothing_behind(conn, tmp_path):
    shutil.copytree(MIGRATIONS_DIR, tmp_path, dirs_exist_ok=True)
    (tmp_path / f"{NEXT}_broken.sql").write_text("CREATE TABLE nonsense (;")

    with pytest.raises(Exception, match="syntax error"):
        apply_migrations(conn, "analytics", tmp_path)

    assert conn.run("SELECT count(*) FROM pg_namespace WHERE nspname = 'analytics'") == [[0]]


@pytest.mark.parametrize("schema", ['analytics"; DROP TABLE x; --', "Analytics", "1st", "", "a" * 64])
def test_a_schema_name_outside_the_allowed_pattern_is_refused(conn, schema):
    with pytest.raises(ValueError, match="must match"):
        apply_migrations(conn, schema)
