"""A warehouse rebuilt beside the live one, then swapped in whole: analysts see the old one until the new is complete.

`prepare_rebuild_schema` makes `<schema>_rebuild`, empty and migrated, for the runs to be loaded into again.
`swap_in` then, in one transaction: renames the live schema to `<schema>_previous` (dropping the one an earlier
rebuild left there) and `<schema>_rebuild` to `<schema>`, after giving the rebuilt schema and its objects the live
ones' privileges (lambdas/load/privileges.py). The previous warehouse is kept until the next swap: renaming the
two schemas back undoes it.

A rename moves everything in the schema, and whatever refers to its objects refers to them by OID: so both refuse
(RebuildRefused, never retried; the message names each problem and its fix) when the live schema holds objects the
migrations do not create, which would stay behind with the old warehouse, or when an object in another schema
depends on it, which would keep reading the old tables.

Readers: PostgreSQL resolves names afresh at each statement but reads with its transaction's snapshot, so a
REPEATABLE READ transaction spanning a bare rename would read the new tables through a snapshot older than their
rows: an empty, or half-loaded, warehouse. The swap therefore locks the live tables (ACCESS EXCLUSIVE): it waits
for every transaction that has read them to end, and new queries wait the moment the swap takes, then read the new
warehouse. It waits at most `lock_timeout`, then fails as WarehouseUnavailable (retried; nothing changed) naming the
sessions it waited for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import pg8000.native

from lambdas.load.migrate import LEDGER as MIGRATION_LEDGER
from lambdas.load.migrate import apply_migrations
from lambdas.load.privileges import CopiedPrivileges, copy_privileges
from lambdas.load.runner import RUN_LEDGER
from lambdas.load.schema_catalog import foreign_dependents, schema_objects
from lambdas.load.warehouse import rollback_quietly, unavailable
from lambdas.shared.errors import OnyxError, RebuildIncomplete, RebuildRefused, WarehouseUnavailable
from lambdas.shared.identifiers import SCHEMA_PATTERN, qualified, schema_identifier
from lambdas.shared.sqlstates import is_transient, sqlstate

REBUILD_SUFFIX: Final = "_rebuild"
PREVIOUS_SUFFIX: Final = "_previous"
# How long the swap waits for a lock (a load committing, an analyst's transaction on the live tables) before it
# gives up and is retried: analysts' new queries queue behind the waiting swap meanwhile.
DEFAULT_LOCK_TIMEOUT: Final = "30s"
LOCK_NOT_AVAILABLE: Final = "55P03"


def rebuild_schema_name(schema: str) -> str:
    """`<schema>_rebuild`: where a rebuild is loaded before it is swapped in."""
    return _derived(schema, REBUILD_SUFFIX)


def previous_schema_name(schema: str) -> str:
    """`<schema>_previous`: where the swap leaves the warehouse it replaced."""
    return _derived(schema, PREVIOUS_SUFFIX)


def _derived(schema: str, suffix: str) -> str:
    schema_identifier(schema)  # the configured name itself must be valid
    name = schema + suffix
    if not re.fullmatch(SCHEMA_PATTERN, name):
        raise ValueError(f"warehouse schema {schema!r} is too long to rebuild: {name!r} must match {SCHEMA_PATTERN}")
    return name


# `loaded_at` is its load transaction's start: a load that began up to a Lambda's longest life before the plan was made
# may have committed after the plan listed the committed runs.
LOAD_WINDOW: Final = "15 minutes"


@dataclass(frozen=True)
class PrepareResult:
    schema: str
    rebuild_schema: str
    live_exists: bool  # False: a brand-new warehouse, nothing to keep
    dropped_leftover: bool  # an earlier rebuild's schema was dropped
    migrations: tuple[str, ...]  # applied to the new rebuild schema


@dataclass(frozen=True)
class SwapResult:
    schema: str
    previous_schema: str | None  # where the replaced warehouse is now; None: there was none
    runs: int  # in the run ledger of the warehouse swapped in
    runs_missing: tuple[str, ...]  # run ids the replaced warehouse had and the new one lacks (loaded, not in the lake)
    grants_copied: int  # privileges granted on the new schema, its objects and columns (see privileges.py)
    grants_revoked: int
    default_privileges_copied: int
    owner: str | None  # the owner given to the new schema; None: it had the live one's already
    warnings: tuple[str, ...]  # what could not be copied, with the statement that would


def prepare_rebuild_schema(conn: pg8000.native.Connection, schema: str) -> PrepareResult:
    """Check the swap will be possible, then (re)create `<schema>_rebuild`, migrated and empty.

    Refuses (RebuildRefused) before changing anything when the login could not swap or a swap would lose or break
    something; the check of the live schema's objects needs the migrated rebuild schema to compare with, so a
    refusal there drops it again. A leftover rebuild schema (an earlier rebuild's) is dropped first.
    """
    rebuild = rebuild_schema_name(schema)
    try:
        blocking, dependents = _login_problems(conn, schema), _dependency_problems(conn, schema)
        if blocking:  # the rebuild schema cannot (or must not) be made: say everything known so far
            raise RebuildRefused.of_schema(schema, blocking + dependents)
        live_exists = _exists(conn, schema)
        dropped = _drop_rebuild(conn, rebuild)
        applied = apply_migrations(conn, rebuild)
        problems = _extra_objects(conn, schema) + dependents
        if problems:
            _drop_rebuild(conn, rebuild)
            raise RebuildRefused.of_schema(schema, problems)
        return PrepareResult(schema=schema, rebuild_schema=rebuild, live_exists=live_exists, dropped_leftover=dropped,
                             migrations=tuple(applied))
    except Exception as exc:
        if not isinstance(exc, OnyxError) and is_transient(exc):
            raise unavailable(exc, f"preparing {rebuild}") from exc
        raise


def swap_in(conn: pg8000.native.Connection, schema: str, *, expected_runs: int, planned_at: str | None = None,
            lock_timeout: str = DEFAULT_LOCK_TIMEOUT) -> SwapResult:
    """Make `<schema>_rebuild` the warehouse `schema`, keeping the old one as `<schema>_previous`, in one transaction.

    Refuses unless the rebuild's run ledger holds exactly `expected_runs` runs (RebuildIncomplete) and the checks of
    prepare_rebuild_schema pass again (RebuildRefused); any failure leaves every schema as it was. Loads of either
    schema wait for it (their advisory lock), and it waits for them. `planned_at`: when the rebuild's plan was made; a
    run the live warehouse loaded after it (a run the rebuild's admission missed: ListExecutions is eventually
    consistent) is not in the rebuild, and refuses the swap rather than vanish from the warehouse.
    """
    rebuild, previous = rebuild_schema_name(schema), previous_schema_name(schema)
    try:
        conn.run("BEGIN")
        conn.run("SELECT set_config('lock_timeout', :timeout, true)", timeout=lock_timeout)
        # A migration of the live schema would create it under our feet; a load would commit into one of the two.
        for lock in (f"onyx:migrate:{schema}", f"onyx:load:{schema}", f"onyx:load:{rebuild}"):
            conn.run("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))", lock=lock)
        runs = _runs(conn, schema, expected_runs)
        live_exists = _exists(conn, schema)
        _refuse_if(schema, _problems(conn, schema))  # before the table locks: a refusal keeps no analyst waiting
        if live_exists:
            _lock_tables(conn, schema)
            # Authoritative now: nothing can start depending on a table we hold (that takes a lock on it).
            _refuse_if(schema, _problems(conn, schema))
            missing = _runs_missing(conn, schema, rebuild)
            _refuse_if(schema, _loaded_while_rebuilding(conn, schema, missing, planned_at))
            copied = copy_privileges(conn, schema, rebuild, final_name=schema)
            conn.run(f"DROP SCHEMA IF EXISTS {schema_identifier(previous)} CASCADE")
            conn.run(f"ALTER SCHEMA {schema_identifier(schema)} RENAME TO {schema_identifier(previous)}")
        else:
            missing, copied = (), CopiedPrivileges()
        conn.run(f"ALTER SCHEMA {schema_identifier(rebuild)} RENAME TO {schema_identifier(schema)}")
        conn.run("COMMIT")
    except BaseException as exc:
        rollback_quietly(conn)
        if not isinstance(exc, OnyxError) and is_transient(exc):
            raise _unavailable(conn, exc, schema, rebuild, previous) from exc
        raise
    return SwapResult(schema=schema, previous_schema=previous if live_exists else None, runs=runs,
                      runs_missing=missing, grants_copied=copied.granted, grants_revoked=copied.revoked,
                      default_privileges_copied=copied.default_privileges, owner=copied.owner,
                      warnings=copied.warnings)


def _problems(conn: pg8000.native.Connection, schema: str) -> list[str]:
    """Everything that would make a swap impossible or harmful, each with its fix."""
    return _login_problems(conn, schema) + _extra_objects(conn, schema) + _dependency_problems(conn, schema)


def _login_problems(conn: pg8000.native.Connection, schema: str) -> list[str]:
    """What keeps the login from making, renaming and dropping the schemas a rebuild uses (or makes it one it
    must not drop)."""
    # The schemas the rebuild renames or drops: the previous one only goes when the live one takes its name.
    touched = [schema, rebuild_schema_name(schema)] + ([previous_schema_name(schema)] if _exists(conn, schema) else [])
    user, database, may_create, database_owner = conn.run(
        "SELECT current_user, current_database(), has_database_privilege(current_database(), 'CREATE'), "
        "pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")[0]
    problems = []
    if not may_create:
        problems.append(f"login {user} lacks the CREATE privilege on database {database}, which creating and "
                        f"renaming schemas takes: GRANT CREATE ON DATABASE {database} TO {user}")
    # 'USAGE': holds the owner's privileges, as renaming and dropping check them ('MEMBER' also counts a NOINHERIT
    # member, whom PostgreSQL would still refuse).
    for name, owner, acts_as_owner in conn.run(
            "SELECT nspname, pg_get_userbyid(nspowner), pg_has_role(current_user, nspowner, 'USAGE') "
            "FROM pg_namespace WHERE nspname = ANY(CAST(:names AS text[])) ORDER BY nspname = :schema DESC, 1",
            names=touched, schema=schema):
        if not acts_as_owner:
            whose = (f"{owner}, the owner of database {database}: {database_owner}" if owner == "pg_database_owner"
                     else owner)
            also = (f"ALTER DATABASE {database} OWNER TO {user}" if owner == "pg_database_owner"
                    else f"GRANT {owner} TO {user}")
            problems.append(f"login {user} does not own schema {name} (owned by {whose}), and renaming or dropping "
                            f"a schema takes its owner's privileges: ALTER SCHEMA {name} OWNER TO {user}, or {also}")
    for name in touched[1:]:  # dropped by a rebuild: they must be Onyx's own
        if _exists(conn, name) and schema_objects(conn, name) and _relation_missing(conn, name, MIGRATION_LEDGER):
            problems.append(f"schema {name} is not an Onyx warehouse (it has no {MIGRATION_LEDGER} table), and a "
                            f"rebuild would drop it: rename it or drop it yourself")
    return problems


def _dependency_problems(conn: pg8000.native.Connection, schema: str) -> list[str]:
    """Objects elsewhere that a swap would leave reading the old warehouse, or drop with the previous one."""
    previous = previous_schema_name(schema)
    problems = []
    dependents = foreign_dependents(conn, schema)
    if dependents:
        problems.append(f"objects in other schemas depend on schema {schema} and would keep reading the old "
                        f"warehouse in {previous} after the swap: {', '.join(dependents)}; drop them before the swap "
                        "and create them again after it")
    dependents = foreign_dependents(conn, previous) if _exists(conn, schema) else []
    if dependents:
        problems.append(f"objects in other schemas depend on schema {previous} (the warehouse before the last "
                        f"rebuild), which the swap drops, and would be dropped with it: {', '.join(dependents)}; "
                        f"drop them, or create them again on schema {schema}")
    return problems


def _extra_objects(conn: pg8000.native.Connection, schema: str) -> list[str]:
    """The problem (none or one) of objects in the live schema the migrations do not create: those the freshly migrated
    rebuild schema lacks (its loads create nothing), compared by kind and name."""
    extra = schema_objects(conn, schema) - schema_objects(conn, rebuild_schema_name(schema))
    # A relation's columns, indexes and constraints go without saying when the relation itself is named.
    named = {o.name for o in extra if o.within is None}
    shown = sorted(f"{o.kind} {o.name}" for o in extra if o.within not in named)
    if not shown:
        return []
    return [f"schema {schema} holds objects the Onyx migrations do not create, which would stay behind in "
            f"{previous_schema_name(schema)} with the old warehouse: {', '.join(shown)}; "
            "move them to another schema or drop them (or add them to a migration)"]


def _refuse_if(schema: str, problems: list[str]) -> None:
    if problems:
        raise RebuildRefused.of_schema(schema, problems)


def _runs(conn: pg8000.native.Connection, schema: str, expected: int) -> int:
    rebuild = rebuild_schema_name(schema)
    if _relation_missing(conn, rebuild, RUN_LEDGER):
        raise RebuildRefused.of_schema(schema, [
            f"schema {rebuild} does not exist or holds no run ledger: prepare a rebuild and load the runs into it (a "
            f"swap that has run leaves the old warehouse in {previous_schema_name(schema)})"])
    runs = int(conn.run(f"SELECT count(*) FROM {qualified(rebuild, RUN_LEDGER)}")[0][0])
    if runs != expected:
        raise RebuildIncomplete.of_schema(schema, [
            f"schema {rebuild} holds {runs} runs, not the {expected} expected: load the missing runs into it, then "
            "swap again"])
    return runs


def _runs_missing(conn: pg8000.native.Connection, schema: str, rebuild: str) -> tuple[str, ...]:
    if _relation_missing(conn, schema, RUN_LEDGER):
        return ()
    return tuple(str(run_id) for (run_id,) in conn.run(
        f"SELECT run_id FROM {qualified(schema, RUN_LEDGER)} EXCEPT "
        f"SELECT run_id FROM {qualified(rebuild, RUN_LEDGER)} ORDER BY 1"))


def _loaded_while_rebuilding(conn: pg8000.native.Connection, schema: str, missing: tuple[str, ...],
                             planned_at: str | None) -> list[str]:
    if not missing or planned_at is None:
        return []
    late = [str(run_id) for (run_id,) in conn.run(
        f"SELECT run_id FROM {qualified(schema, RUN_LEDGER)} WHERE run_id = ANY(:missing) "
        "AND loaded_at > CAST(:planned_at AS timestamptz) - CAST(:window AS interval) ORDER BY run_id",
        missing=list(missing), planned_at=planned_at, window=LOAD_WINDOW)]
    if not late:
        return []
    return [f"run{'s' if len(late) > 1 else ''} {', '.join(late)} loaded into {schema} around or after the time the "
            f"rebuild's plan was made ({planned_at}) and not in the rebuild: start the rebuild again (it will include "
            f"{'them' if len(late) > 1 else 'it'} once committed)"]


def _lock_tables(conn: pg8000.native.Connection, schema: str) -> None:
    """ACCESS EXCLUSIVE on every table of the live schema: waits for the transactions that read them (a view's
    reader locks its tables too) and holds off new ones until the swap commits. (Materialized views cannot be
    locked; the migrations create none.)"""
    tables = [qualified(schema, str(name)) for (name,) in conn.run(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = :schema AND c.relkind IN ('r', 'p') ORDER BY 1", schema=schema)]
    if tables:
        conn.run(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")


def _drop_rebuild(conn: pg8000.native.Connection, rebuild: str) -> bool:
    """Drop a leftover rebuild schema (its loads and migrations wait); True if there was one."""
    conn.run("BEGIN")
    try:
        for lock in (f"onyx:migrate:{rebuild}", f"onyx:load:{rebuild}"):
            conn.run("SELECT pg_advisory_xact_lock(hashtextextended(:lock, 0))", lock=lock)
        existed = _exists(conn, rebuild)
        conn.run(f"DROP SCHEMA IF EXISTS {schema_identifier(rebuild)} CASCADE")
        conn.run("COMMIT")
        return existed
    except BaseException:
        rollback_quietly(conn)
        raise


def _exists(conn: pg8000.native.Connection, schema: str) -> bool:
    return bool(conn.run("SELECT 1 FROM pg_namespace WHERE nspname = :schema", schema=schema))


def _relation_missing(conn: pg8000.native.Connection, schema: str, name: str) -> bool:
    return bool(conn.run("SELECT to_regclass(:name) IS NULL", name=qualified(schema, name))[0][0])


def _unavailable(conn: pg8000.native.Connection, exc: BaseException, schema: str, rebuild: str,
                 previous: str) -> WarehouseUnavailable:
    """WarehouseUnavailable for a transient failure; a lock wait that timed out names the sessions holding the
    tables of the schemas the swap renames or drops (the ones to wait for, or end)."""
    error = unavailable(exc, f"swapping {rebuild} in as {schema}")
    if sqlstate(exc) != LOCK_NOT_AVAILABLE:
        return error
    try:
        holders = conn.run(
            "SELECT DISTINCT l.pid, a.usename FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.granted AND l.pid <> pg_backend_pid() AND n.nspname IN (:schema, :previous) "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY 1",
            schema=schema, previous=previous)
    except Exception:  # noqa: BLE001 - naming them is a courtesy; the error stands without it
        return error
    if not holders:
        return error
    sessions = ", ".join(f"pid {pid} ({user})" for pid, user in holders)
    return WarehouseUnavailable(f"{error}; sessions holding its tables: {sessions}")
