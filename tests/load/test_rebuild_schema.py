"""A rebuilt warehouse swapped in whole: the data moves, the privileges follow, nothing half-done is ever seen, and
what a swap would lose or break is refused with its fix. Real PostgreSQL, logins of their own (roles are cluster-wide:
each test makes its own, with unique names, and drops them)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pg8000.native
import pytest

from lambdas.load.migrate import apply_migrations, migrations
from lambdas.load.rebuild_schema import (
    PrepareResult,
    SwapResult,
    prepare_rebuild_schema,
    previous_schema_name,
    rebuild_schema_name,
    swap_in,
)
from lambdas.load.runner import run_load
from lambdas.shared.constants import TRANSIENT_RETRY, Errors
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import RebuildIncomplete, RebuildRefused, WarehouseUnavailable
from lambdas.shared.identifiers import qualified
from lambdas.shared.star_schema import STAR_TABLES
from tests.fixtures.aws import Aws
from tests.load.builders import full_run, write_run
from tests.load.conftest import contents, rows
from tests.sql import run_sql

SCHEMA, REBUILD, PREVIOUS = "warehouse", "warehouse_rebuild", "warehouse_previous"
ALL_MIGRATIONS = tuple(m.name for m in migrations())
PASSWORD = f"Pw-{uuid.uuid4().hex}"
VIEWS = ("payment_current", "payment_wide", "purchase_order_current", "purchase_order_wide", "sales_order_current",
         "sales_order_wide")
RELATIONS = tuple(t.name for t in STAR_TABLES) + VIEWS
NOTHING_COPIED = {"grants_copied": 0, "grants_revoked": 0, "default_privileges_copied": 0, "owner": None,
                  "warnings": ()}


class Logins:
    """Roles made for one test, each LOGIN with the same password; dropped (with what they own) at its end."""

    def __init__(self, admin: DatabaseCredentials) -> None:
        self.admin = admin
        self.names: list[str] = []
        self.connections: list[pg8000.native.Connection] = []

    def make(self, purpose: str, *statements: str) -> DatabaseCredentials:
        """A new login; `statements` run as the superuser with `{role}` and `{database}` filled in."""
        role = f"onyx_{purpose}_{uuid.uuid4().hex[:8]}"
        self.names.append(role)
        run_sql(self.admin, f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'",
                *(s.format(role=role, database=self.admin.dbname) for s in statements))
        return replace(self.admin, username=role, password=PASSWORD)

    def connect(self, login: DatabaseCredentials | str) -> pg8000.native.Connection:
        """A connection as `login` (credentials, or the name of a login made here), closed at the end."""
        credentials = replace(self.admin, username=login, password=PASSWORD) if isinstance(login, str) else login
        conn = credentials.connect()
        self.connections.append(conn)
        return conn

    def drop(self) -> None:
        for conn in self.connections:
            with contextlib.suppress(pg8000.native.InterfaceError):  # a test may have closed it
                conn.close()
        if self.names:
            names = ", ".join(self.names)
            # One DROP OWNED per role: given two, PostgreSQL 15 drops a default ACL that involves both twice (XX000).
            run_sql(self.admin, f"REASSIGN OWNED BY {names} TO CURRENT_USER",
                    *(f"DROP OWNED BY {name}" for name in self.names), f"DROP ROLE {names}")


@pytest.fixture
def logins(empty_db: DatabaseCredentials) -> Iterator[Logins]:
    made = Logins(empty_db)
    yield made
    made.drop()


@pytest.fixture
def loader(logins: Logins) -> pg8000.native.Connection:
    """What the Load Lambda logs in as: not a superuser; may create schemas in the database."""
    return logins.connect(logins.make("loader", "GRANT CREATE ON DATABASE {database} TO {role}"))


@pytest.fixture
def live(loader: pg8000.native.Connection) -> pg8000.native.Connection:
    """The loader's connection to its migrated warehouse, schema `warehouse`, holding GBP and runs run-old, run-1."""
    apply_migrations(loader, SCHEMA)
    seed(loader, SCHEMA, "GBP", ["run-old", "run-1"])
    return loader


def seed(conn: pg8000.native.Connection, schema: str, currency: str, runs: list[str]) -> None:
    """A currency and some runs: enough to tell two warehouses apart."""
    conn.run(f"INSERT INTO {qualified(schema, 'dim_currency')} VALUES (1, :code, :name)", code=currency,
             name=f"{currency} name")
    for run_id in runs:
        conn.run(f"INSERT INTO {qualified(schema, 'onyx_run')} (run_id, started_at, rows) "
                 "VALUES (:run_id, '2026-01-01T00:00:00Z', CAST(:rows AS jsonb))", run_id=run_id, rows=json.dumps({}))


def currencies(conn: pg8000.native.Connection, schema: str) -> list[list[Any]]:
    return rows(conn, "dim_currency", schema, "currency_code")


def schemas(conn: pg8000.native.Connection, prefix: str = SCHEMA) -> list[str]:
    return [name for (name,) in conn.run("SELECT nspname FROM pg_namespace WHERE nspname LIKE :p ORDER BY 1",
                                         p=f"{prefix}%")]


_GRANT = ("pg_get_userbyid(a.grantor), CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END, "
          "a.privilege_type, a.is_grantable")


def acls(conn: pg8000.native.Connection, schema: str) -> dict[str, Any]:
    """Everything a schema lets whom do: its owner, its ACL, its relations' and columns' ACLs, its default
    privileges; one (grantor, grantee, privilege, grantable) per entry, so two ACLs compare whatever their order."""
    def entries(sql: str) -> list[tuple[Any, ...]]:
        return sorted(tuple(row) for row in conn.run(sql, schema=schema))

    return {
        "owner": conn.run("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :s", s=schema)[0][0],
        "schema": entries(f"SELECT {_GRANT} FROM pg_namespace n, "
                          "aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a WHERE n.nspname = :schema"),
        "relations": entries(
            f"SELECT c.relname, {_GRANT} FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
            """aclexplode(coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's'::"char" ELSE 'r'::"char" END,
            c.relowner))) a WHERE n.nspname = :schema AND c.relkind IN ('r', 'v', 'S')"""),
        "columns": entries(
            f"SELECT c.relname, t.attname, {_GRANT} FROM pg_attribute t JOIN pg_class c ON c.oid = t.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(t.attacl) a WHERE n.nspname = :schema"),
        "defaults": entries(
            f"SELECT pg_get_userbyid(d.defaclrole), d.defaclobjtype, {_GRANT} FROM pg_default_acl d "
            "JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) a WHERE n.nspname = :schema"),
    }


def state(conn: pg8000.native.Connection) -> dict[str, Any]:
    """Every warehouse schema: its privileges and its currencies."""
    return {name: {"acls": acls(conn, name), "currencies": currencies(conn, name)} for name in schemas(conn)}


def login_of(conn: pg8000.native.Connection) -> str:
    """The login a connection is made as."""
    return str(conn.run("SELECT current_user")[0][0])


def sqlstate_of(conn: pg8000.native.Connection, sql: str) -> str:
    with pytest.raises(pg8000.native.DatabaseError) as error:
        conn.run(sql)
    return f"{error.value.args[0]['C']} {error.value.args[0]['M']}"


def test_the_rebuild_and_previous_schemas_are_named_after_the_live_one():
    assert rebuild_schema_name("public") == "public_rebuild"
    assert previous_schema_name("warehouse") == "warehouse_previous"
    assert rebuild_schema_name("w" * 55) == "w" * 55 + "_rebuild"  # 63 characters: PostgreSQL's longest name


@pytest.mark.parametrize(("schema", "message"), [
    ("w" * 55, f"warehouse schema {'w' * 55!r} is too long to rebuild: {'w' * 55 + '_previous'!r} must match "),
    ("Public", "warehouse schema 'Public' must match "),
])
def test_a_name_that_cannot_be_derived_is_refused(schema, message):
    with pytest.raises(ValueError, match="must match") as error:
        previous_schema_name(schema)
    assert str(error.value) == message + r"^[a-z_][a-z0-9_]{0,62}$"


def test_a_refused_or_incomplete_rebuild_is_never_retried():
    names = {RebuildRefused.__name__, RebuildIncomplete.__name__}
    assert names == {Errors.REBUILD_REFUSED, Errors.REBUILD_INCOMPLETE}
    assert names.isdisjoint(TRANSIENT_RETRY.errors)


def test_a_brand_new_warehouse_is_prepared_and_renamed_into_place(loader):
    prepared = prepare_rebuild_schema(loader, SCHEMA)

    assert prepared == PrepareResult(schema=SCHEMA, rebuild_schema=REBUILD, live_exists=False, dropped_leftover=False,
                                     migrations=ALL_MIGRATIONS)
    assert schemas(loader) == [REBUILD]
    seed(loader, REBUILD, "EUR", ["run-1"])

    swapped = swap_in(loader, SCHEMA, expected_runs=1)

    assert swapped == SwapResult(schema=SCHEMA, previous_schema=None, runs=1, runs_missing=(), **NOTHING_COPIED)
    assert schemas(loader) == [SCHEMA]
    assert currencies(loader, SCHEMA) == [["EUR"]]


def test_preparing_again_drops_the_earlier_rebuild(live):
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "EUR", ["run-1"])

    again = prepare_rebuild_schema(live, SCHEMA)

    assert again == PrepareResult(schema=SCHEMA, rebuild_schema=REBUILD, live_exists=True, dropped_leftover=True,
                                  migrations=ALL_MIGRATIONS)
    assert currencies(live, REBUILD) == []
    assert rows(live, "onyx_run", REBUILD) == []
    assert currencies(live, SCHEMA) == [["GBP"]]  # the live warehouse untouched


def test_the_swap_puts_the_rebuilt_warehouse_live_and_keeps_the_old_one_as_previous(live):
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "EUR", ["run-1", "run-2"])

    swapped = swap_in(live, SCHEMA, expected_runs=2)

    # run-old was loaded into the live warehouse but is not in the lake any more: reported, not refused.
    assert swapped == SwapResult(schema=SCHEMA, previous_schema=PREVIOUS, runs=2, runs_missing=("run-old",),
                                 **NOTHING_COPIED)
    assert schemas(live) == [SCHEMA, PREVIOUS]
    assert currencies(live, SCHEMA) == [["EUR"]]
    assert currencies(live, PREVIOUS) == [["GBP"]]
    assert rows(live, "onyx_run", SCHEMA, "run_id") == [["run-1"], ["run-2"]]

    # The next rebuild replaces the previous warehouse with the one it replaces.
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "USD", ["run-1", "run-2", "run-3"])
    swap_in(live, SCHEMA, expected_runs=3)

    assert schemas(live) == [SCHEMA, PREVIOUS]
    assert currencies(live, SCHEMA) == [["USD"]]
    assert currencies(live, PREVIOUS) == [["EUR"]]


def test_the_same_runs_loaded_into_the_rebuild_make_the_same_warehouse(aws: Aws, loader):
    apply_migrations(loader, SCHEMA)
    key = write_run(aws, "run-1", full_run())
    run_load(loader, aws.s3, aws.processed_bucket, SCHEMA, key)
    before = contents(loader, SCHEMA)

    prepare_rebuild_schema(loader, SCHEMA)
    run_load(loader, aws.s3, aws.processed_bucket, REBUILD, key)  # the rebuild loads into its own schema
    swap_in(loader, SCHEMA, expected_runs=1)

    after = contents(loader, SCHEMA)
    assert {t: r for t, r in after.items() if t != "onyx_run"} == {t: r for t, r in before.items() if t != "onyx_run"}
    assert [r[0] for r in after["onyx_run"]] == ["run-1"]


def test_every_privilege_of_the_live_schema_is_copied_exactly(logins, live, empty_db):
    loader = live
    analyst, reporter = logins.make("analyst").username, logins.make("reporter").username
    for statement in (f"GRANT USAGE ON SCHEMA {SCHEMA} TO {analyst}, {reporter}",
                      f"GRANT CREATE ON SCHEMA {SCHEMA} TO {reporter} WITH GRANT OPTION",
                      f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {analyst}",
                      f"GRANT SELECT ON {SCHEMA}.dim_staff TO {reporter} WITH GRANT OPTION",
                      f"GRANT SELECT (design_name), UPDATE (file_name) ON {SCHEMA}.dim_design TO {reporter}",
                      f"GRANT USAGE ON SEQUENCE {SCHEMA}.fact_payment_payment_record_id_seq TO {reporter}",
                      f"GRANT SELECT ON {SCHEMA}.dim_date TO PUBLIC",
                      f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT SELECT ON TABLES TO {analyst}",
                      f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT USAGE ON SEQUENCES TO {reporter} "
                      "WITH GRANT OPTION"):
        loader.run(statement)
    # Made after the live warehouse, this default gives the rebuild's tables a privilege the live ones lack: copying
    # must take it away again (but keep reporter's SELECT WITH GRANT OPTION on dim_staff).
    run_sql(empty_db, f"ALTER DEFAULT PRIVILEGES FOR ROLE {login_of(loader)} GRANT INSERT ON TABLES TO {reporter}")
    before = acls(loader, SCHEMA)
    prepare_rebuild_schema(loader, SCHEMA)
    seed(loader, REBUILD, "EUR", ["run-1"])

    swapped = swap_in(loader, SCHEMA, expected_runs=1)

    assert acls(loader, SCHEMA) == before
    assert acls(loader, PREVIOUS) == before  # the old warehouse keeps its own
    # USAGE x2 and CREATE on the schema; SELECT on 8 dimensions, 3 facts, the ledgers and 6 views; reporter's SELECT
    # on dim_staff, 2 column privileges, the sequence's USAGE; PUBLIC's SELECT on dim_date. Revoked: INSERT on the 13
    # tables and 6 views of the rebuild. Defaults: analyst's SELECT, reporter's USAGE.
    assert (swapped.grants_copied, swapped.grants_revoked, swapped.default_privileges_copied) == (
        3 + 19 + 1 + 2 + 1 + 1, 19, 2)
    assert (swapped.owner, swapped.warnings) == (None, ())


def test_an_analyst_reads_every_star_table_and_view_after_the_swap_and_never_the_rebuild_before(logins, live):
    analyst_login = logins.make("analyst")
    name = analyst_login.username
    for statement in (f"GRANT USAGE ON SCHEMA {SCHEMA} TO {name}",
                      f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {name}",
                      f"ALTER DEFAULT PRIVILEGES IN SCHEMA {SCHEMA} GRANT SELECT ON TABLES TO {name}"):
        live.run(statement)
    analyst = logins.connect(analyst_login)
    before = {r: analyst.run(f"SELECT count(*) FROM {qualified(SCHEMA, r)}")[0][0] for r in RELATIONS}
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "EUR", ["run-1"])

    assert sqlstate_of(analyst, f"SELECT * FROM {REBUILD}.dim_currency") == (
        f"42501 permission denied for schema {REBUILD}")

    swap_in(live, SCHEMA, expected_runs=1)

    after = {r: analyst.run(f"SELECT count(*) FROM {qualified(SCHEMA, r)}")[0][0] for r in RELATIONS}
    assert before == {**dict.fromkeys(RELATIONS, 0), "dim_currency": 1}
    assert after == {**dict.fromkeys(RELATIONS, 0), "dim_currency": 1}
    assert analyst.run(f"SELECT currency_code FROM {SCHEMA}.dim_currency") == [["EUR"]]
    # The schema's default privileges came along: a table the loader makes later is the analyst's to read.
    live.run(f"CREATE TABLE {SCHEMA}.later (x int)")
    assert analyst.run(f"SELECT count(*) FROM {SCHEMA}.later") == [[0]]


def test_the_public_schema_of_postgresql_15_is_swapped_with_its_owner_and_its_grant_to_everyone(logins, empty_db):
    """PostgreSQL 15: `public` is owned by pg_database_owner, whose only member is the database's owner, and every
    role may use it (USAGE to PUBLIC). The analyst was granted nothing on the schema."""
    owner = logins.make("owner", "ALTER DATABASE {database} OWNER TO {role}")
    loader = logins.connect(owner)
    apply_migrations(loader, "public")
    seed(loader, "public", "GBP", [])
    analyst_login = logins.make("analyst")
    loader.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {analyst_login.username}")
    analyst = logins.connect(analyst_login)
    before = acls(loader, "public")
    prepare_rebuild_schema(loader, "public")
    seed(loader, "public_rebuild", "EUR", ["run-1"])

    swapped = swap_in(loader, "public", expected_runs=1)

    assert swapped.owner == "pg_database_owner"
    assert loader.run("SELECT nspacl FROM pg_namespace WHERE nspname = 'public'") == [
        ["{pg_database_owner=UC/pg_database_owner,=U/pg_database_owner}"]]
    assert acls(loader, "public") == before
    assert analyst.run("SELECT currency_code FROM public.dim_currency") == [["EUR"]]
    assert {r: analyst.run(f"SELECT count(*) FROM public.{r}")[0][0] for r in RELATIONS} == {
        **dict.fromkeys(RELATIONS, 0), "dim_currency": 1}


def test_a_swap_that_fails_after_copying_the_privileges_leaves_every_schema_as_it_was(logins, live):
    """The previous warehouse is dropped after the privileges are copied, so a swap that times out waiting for an
    analyst still reading the previous warehouse (and for nothing else: the error names that session alone) has
    copied them: all of it is rolled back."""
    analyst_login = logins.make("analyst")
    live.run(f"GRANT USAGE ON SCHEMA {SCHEMA} TO {analyst_login.username}")
    live.run(f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {analyst_login.username}")
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "EUR", ["run-1"])
    swap_in(live, SCHEMA, expected_runs=1)  # GBP is now the previous warehouse, EUR the live one
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "USD", ["run-1", "run-2"])
    analyst = logins.connect(analyst_login)
    analyst.run("BEGIN")
    assert analyst.run(f"SELECT currency_code FROM {PREVIOUS}.dim_currency") == [["GBP"]]
    pid = analyst.run("SELECT pg_backend_pid()")[0][0]
    before = state(live)

    with pytest.raises(WarehouseUnavailable) as error:
        swap_in(live, SCHEMA, expected_runs=2, lock_timeout="100ms")

    assert str(error.value) == (f"warehouse unavailable (swapping {REBUILD} in as {SCHEMA}): 55P03 canceling "
                                "statement due to lock timeout; sessions holding its tables: "
                                f"pid {pid} ({analyst_login.username})")
    assert state(live) == before
    owner = login_of(live)  # the rebuild's schema is its owner's alone again
    assert before[REBUILD]["acls"]["schema"] == [(owner, owner, "CREATE", False), (owner, owner, "USAGE", False)]
    analyst.run("ROLLBACK")

    swap_in(live, SCHEMA, expected_runs=2)  # once the analyst is done
    assert (currencies(live, SCHEMA), currencies(live, PREVIOUS)) == ([["USD"]], [["EUR"]])


def test_an_incomplete_rebuild_is_not_swapped_in(live):
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "EUR", ["run-1", "run-2"])
    before = state(live)

    with pytest.raises(RebuildIncomplete) as error:
        swap_in(live, SCHEMA, expected_runs=3)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: schema {REBUILD} holds 2 runs, not the 3 "
                                "expected: load the missing runs into it, then swap again")
    assert state(live) == before


def test_a_run_loaded_into_the_live_warehouse_around_or_after_the_plan_refuses_the_swap(live):
    # run-old was loaded an hour before the plan; a run the rebuild's admission missed is loaded now.
    live.run(f"UPDATE {SCHEMA}.onyx_run SET loaded_at = now() - interval '70 minutes' WHERE run_id = 'run-old'")
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "EUR", ["run-1"])
    planned_at = live.run("SELECT CAST(now() - interval '10 minutes' AS text)")[0][0]
    live.run(f"INSERT INTO {SCHEMA}.onyx_run (run_id, started_at, rows) VALUES ('run-late', now(), '{{}}')")
    before = state(live)

    with pytest.raises(RebuildRefused) as error:
        swap_in(live, SCHEMA, expected_runs=1, planned_at=planned_at)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: run run-late loaded into {SCHEMA} around or "
                                f"after the time the rebuild's plan was made ({planned_at}) and not in the rebuild: "
                                "start the rebuild again (it will include it once committed)")
    assert state(live) == before
    # A run loaded well before the plan and never committed to the lake (run-old) is reported, not refused.
    live.run(f"DELETE FROM {SCHEMA}.onyx_run WHERE run_id = 'run-late'")
    swapped = swap_in(live, SCHEMA, expected_runs=1, planned_at=planned_at)
    assert swapped.runs_missing == ("run-old",)


def test_a_swap_without_a_prepared_rebuild_is_refused(live):
    with pytest.raises(RebuildRefused) as error:
        swap_in(live, SCHEMA, expected_runs=0)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: schema {REBUILD} does not exist or holds no run "
                                "ledger: prepare a rebuild and load the runs into it (a swap that has run leaves the "
                                f"old warehouse in {PREVIOUS})")


def test_a_load_in_progress_holds_the_swap_off(empty_db, live):
    """A load holds its schema's advisory lock until it commits; the swap waits for it, then gives up, retryably."""
    load = empty_db.connect()
    try:
        load.run("BEGIN")
        load.run("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))", lock=f"onyx:load:{SCHEMA}")
        prepare_rebuild_schema(live, SCHEMA)
        before = state(live)

        with pytest.raises(WarehouseUnavailable) as error:
            swap_in(live, SCHEMA, expected_runs=0, lock_timeout="100ms")

        assert str(error.value) == (f"warehouse unavailable (swapping {REBUILD} in as {SCHEMA}): 55P03 canceling "
                                    "statement due to lock timeout")
        assert state(live) == before
    finally:
        load.close()


def test_a_repeatable_read_transaction_reads_the_old_warehouse_until_it_ends_and_new_ones_read_the_new(logins, live):
    """A transaction that has read the live tables is waited for: PostgreSQL would resolve its next statement's
    names to the new tables and read them with its old snapshot (an empty or half-loaded warehouse)."""
    prepare_rebuild_schema(live, SCHEMA)
    seed(live, REBUILD, "EUR", ["run-1"])
    reader = logins.connect(logins.make("reader", f"GRANT USAGE ON SCHEMA {SCHEMA} TO {{role}}",
                                        f"GRANT SELECT ON ALL TABLES IN SCHEMA {SCHEMA} TO {{role}}"))
    reader.run("START TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    assert reader.run(f"SELECT currency_code FROM {SCHEMA}.dim_currency") == [["GBP"]]

    with pytest.raises(WarehouseUnavailable, match="55P03 canceling statement due to lock timeout; sessions holding"):
        swap_in(live, SCHEMA, expected_runs=1, lock_timeout="100ms")

    assert reader.run(f"SELECT currency_code FROM {SCHEMA}.dim_currency") == [["GBP"]]
    assert reader.run(f"SELECT count(*) FROM {SCHEMA}.sales_order_wide") == [[0]]
    reader.run("COMMIT")

    swap_in(live, SCHEMA, expected_runs=1)

    assert reader.run(f"SELECT currency_code FROM {SCHEMA}.dim_currency") == [["EUR"]]
    newcomer = logins.connect(login_of(reader))
    assert newcomer.run(f"SELECT currency_code FROM {SCHEMA}.dim_currency") == [["EUR"]]


def test_objects_the_migrations_do_not_create_refuse_the_rebuild(live):
    live.run(f"CREATE TABLE {SCHEMA}.analyst_notes (note text PRIMARY KEY)")
    live.run(f"ALTER TABLE {SCHEMA}.dim_staff ADD COLUMN nickname text")
    live.run(f"CREATE INDEX staff_by_last_name ON {SCHEMA}.dim_staff (last_name)")
    live.run(f"CREATE FUNCTION {SCHEMA}.double_it(n integer) RETURNS integer LANGUAGE sql RETURN n * 2")
    expected = (f"rebuild of schema {SCHEMA} refused: schema {SCHEMA} holds objects the Onyx migrations do not create, "
                f"which would stay behind in {PREVIOUS} with the old warehouse: column dim_staff.nickname, "
                "function double_it(int4), index staff_by_last_name, table analyst_notes; move them to another schema "
                "or drop them (or add them to a migration)")

    with pytest.raises(RebuildRefused) as error:
        prepare_rebuild_schema(live, SCHEMA)

    assert str(error.value) == expected
    assert schemas(live) == [SCHEMA]  # the rebuild made to compare with is gone again

    # Made after the rebuild was prepared: the swap refuses it the same way, and changes nothing.
    live.run(f"DROP TABLE {SCHEMA}.analyst_notes")
    live.run(f"ALTER TABLE {SCHEMA}.dim_staff DROP COLUMN nickname")
    live.run(f"DROP INDEX {SCHEMA}.staff_by_last_name")
    live.run(f"DROP FUNCTION {SCHEMA}.double_it")
    prepare_rebuild_schema(live, SCHEMA)
    live.run(f"CREATE TABLE {SCHEMA}.analyst_notes (note text PRIMARY KEY)")
    before = state(live)

    with pytest.raises(RebuildRefused) as error:
        swap_in(live, SCHEMA, expected_runs=0)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: schema {SCHEMA} holds objects the Onyx "
                                f"migrations do not create, which would stay behind in {PREVIOUS} with the old "
                                "warehouse: table analyst_notes; move them to another schema or drop them (or add them "
                                "to a migration)")
    assert state(live) == before


def test_an_extension_in_the_live_schema_is_named_as_one(live):
    if not live.run("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'"):
        pytest.skip("this server has no pg_trgm (PostgreSQL's contrib)")
    live.run(f"CREATE EXTENSION pg_trgm SCHEMA {SCHEMA}")  # a trusted extension: the schema's owner may

    with pytest.raises(RebuildRefused) as error:
        prepare_rebuild_schema(live, SCHEMA)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: schema {SCHEMA} holds objects the Onyx "
                                f"migrations do not create, which would stay behind in {PREVIOUS} with the old "
                                "warehouse: extension pg_trgm; move them to another schema or drop them (or add them "
                                "to a migration)")


def test_objects_elsewhere_depending_on_the_live_schema_refuse_the_rebuild(live):
    live.run("CREATE SCHEMA analyst")
    live.run(f"CREATE VIEW analyst.big_orders AS SELECT * FROM {SCHEMA}.fact_sales_order WHERE units_sold > 100")
    live.run(f"CREATE TABLE analyst.staff_notes (staff_id integer REFERENCES {SCHEMA}.dim_staff, note text)")
    live.run("CREATE TABLE analyst.numbered "
             f"(n integer DEFAULT nextval('{SCHEMA}.fact_payment_payment_record_id_seq'))")

    with pytest.raises(RebuildRefused) as error:
        prepare_rebuild_schema(live, SCHEMA)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: objects in other schemas depend on schema "
                                f"{SCHEMA} and would keep reading the old warehouse in {PREVIOUS} after the swap: "
                                "analyst.big_orders (view), analyst.numbered (default value), analyst.staff_notes "
                                "(table constraint); drop them before the swap and create them again after it")
    assert schemas(live) == [SCHEMA]


def test_an_object_depending_on_the_previous_warehouse_refuses_the_swap_that_would_drop_it(live):
    prepare_rebuild_schema(live, SCHEMA)
    swap_in(live, SCHEMA, expected_runs=0)
    live.run("CREATE SCHEMA analyst")
    live.run(f"CREATE VIEW analyst.old_currencies AS SELECT * FROM {PREVIOUS}.dim_currency")

    with pytest.raises(RebuildRefused) as error:
        prepare_rebuild_schema(live, SCHEMA)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: objects in other schemas depend on schema "
                                f"{PREVIOUS} (the warehouse before the last rebuild), which the swap drops, and would "
                                "be dropped with it: analyst.old_currencies (view); drop them, or create them again on "
                                f"schema {SCHEMA}")


def test_a_schema_in_the_way_that_is_not_an_onyx_warehouse_is_never_dropped(live):
    live.run(f"CREATE SCHEMA {PREVIOUS}")
    live.run(f"CREATE TABLE {PREVIOUS}.precious (x int)")

    with pytest.raises(RebuildRefused) as error:
        prepare_rebuild_schema(live, SCHEMA)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: schema {PREVIOUS} is not an Onyx warehouse (it "
                                "has no onyx_migration table), and a rebuild would drop it: rename it or drop it "
                                "yourself")


def test_a_login_that_does_not_own_the_live_schema_is_refused(logins, live):
    other = logins.connect(logins.make("other", "GRANT CREATE ON DATABASE {database} TO {role}"))
    user, owner = login_of(other), login_of(live)

    with pytest.raises(RebuildRefused) as error:
        prepare_rebuild_schema(other, SCHEMA)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: login {user} does not own schema {SCHEMA} "
                                f"(owned by {owner}), and renaming or dropping a schema takes its owner's privileges: "
                                f"ALTER SCHEMA {SCHEMA} OWNER TO {user}, or GRANT {owner} TO {user}")
    assert schemas(live) == [SCHEMA]


def test_a_login_without_create_on_the_database_is_refused(empty_db, live):
    user, database = login_of(live), empty_db.dbname
    run_sql(empty_db, f"REVOKE CREATE ON DATABASE {database} FROM {user}")

    with pytest.raises(RebuildRefused) as error:
        prepare_rebuild_schema(live, SCHEMA)

    assert str(error.value) == (f"rebuild of schema {SCHEMA} refused: login {user} lacks the CREATE privilege on "
                                f"database {database}, which creating and renaming schemas takes: GRANT CREATE ON "
                                f"DATABASE {database} TO {user}")


def test_a_login_that_does_not_own_the_database_may_not_rebuild_its_public_schema(logins, empty_db):
    other = logins.connect(logins.make("other", "GRANT CREATE ON DATABASE {database} TO {role}"))
    user, database = login_of(other), empty_db.dbname

    with pytest.raises(RebuildRefused) as error:
        prepare_rebuild_schema(other, "public")

    assert str(error.value) == (f"rebuild of schema public refused: login {user} does not own schema public (owned by "
                                f"pg_database_owner, the owner of database {database}: {empty_db.username}), and "
                                "renaming or dropping a schema takes its owner's privileges: ALTER SCHEMA public OWNER "
                                f"TO {user}, or ALTER DATABASE {database} OWNER TO {user}")


def test_default_privileges_of_a_role_the_login_is_not_a_member_of_are_left_with_a_warning(logins, live, empty_db):
    """Only a member of a role may define its default privileges: the swap goes ahead and says what to run."""
    other, analyst = logins.make("other").username, logins.make("analyst").username
    run_sql(empty_db, f"GRANT CREATE ON SCHEMA {SCHEMA} TO {other}",
            f"ALTER DEFAULT PRIVILEGES FOR ROLE {other} IN SCHEMA {SCHEMA} GRANT SELECT ON TABLES TO {analyst}")
    prepare_rebuild_schema(live, SCHEMA)

    swapped = swap_in(live, SCHEMA, expected_runs=0)

    assert swapped.warnings == (
        f'default privileges of role {other} in schema {SCHEMA} not copied (42501 must be member of role "{other}"); '
        f'a member of {other} can run: ALTER DEFAULT PRIVILEGES FOR ROLE "{other}" IN SCHEMA "{SCHEMA}" '
        f'GRANT SELECT ON TABLES TO "{analyst}"',)
    assert (swapped.grants_copied, swapped.default_privileges_copied) == (1, 0)  # other's CREATE on the schema
    assert acls(live, SCHEMA)["defaults"] == []
