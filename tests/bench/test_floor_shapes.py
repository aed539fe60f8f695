"""The two floors' targets: the source's tables with their keys (foreign keys left out), and without any."""

from __future__ import annotations

from bench.floor import prepare_target


def _shape(credentials) -> tuple[list[str], list[str]]:
    conn = credentials.connect()
    try:
        constraints = [f"{table}:{kind}" for table, kind in conn.run(
            "SELECT conrelid::regclass::text, contype FROM pg_constraint "
            "WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'p', 'u') ORDER BY 1, 2")]
        indexes = [str(name) for (name,) in conn.run(
            "SELECT indexrelid::regclass::text FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
            "WHERE c.relnamespace = 'public'::regnamespace ORDER BY 1")]
        return constraints, indexes
    finally:
        conn.close()


def test_the_keyed_floor_keeps_primary_keys_and_drops_foreign_keys(empty_db):
    constraints, indexes = _shape(prepare_target(empty_db))
    assert constraints  # a primary key per table
    assert all(constraint.endswith(":p") for constraint in constraints)
    assert len(indexes) == len(constraints)


def test_the_keyless_floor_has_no_key_and_no_index(empty_db):
    assert _shape(prepare_target(empty_db, keys=False)) == ([], [])
