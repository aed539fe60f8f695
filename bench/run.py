"""`make bench`: the floor, a full load and an incremental run through the local cloud, in one run.

    .venv/bin/python -m bench.run --scale 1000000 [--reuse-source URL] [--json-dir bench/results] [--profile]

1. seeds a generated source at `--scale` sales orders into a throwaway PostgreSQL (or uses the database at
   `--reuse-source` as it is: nothing seeded; the bench's other databases are created on the same server,
   which needs CREATEDB, and dropped afterwards; the incremental step adds ~1,000 changed rows to it);
2. the floors (bench/floor.py): every source table piped `COPY TO | COPY FROM` into empty tables elsewhere,
   with their keys and without any;
3. a full load through the local cloud (the synthesized stack, the real state machine and handlers, each
   Lambda in execution environments of its own) with `safetyLagSeconds=0`: wall time per state and end to
   end, rows/s, and each Lambda process's peak RSS;
4. an incremental run after 1,000 changed source rows (new sales and purchase orders, amendments, payments),
   with the Lambdas' execution environments warm from the full load, then the same again with every
   invocation a cold start (a fresh process importing its handler), as after a long idle spell on Lambda;
5. the ratio of the full load to the floor, and the targets of issue 9;
6. what share of the ingestion bucket the runs leave the archive rule would move, and what it saves
   (bench/retention.py).

Prints the tables (bench/report.py, bench/retention.py) and writes `<json-dir>/<timestamp>-scale<N>.json`.
With `--profile`, a second full load into a fresh warehouse then runs every Lambda under pyinstrument
(bench/profile.py).
It is a benchmark, not a test: it exits 0 whatever the figures, 1 only if an execution failed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import floor, report, retention
from lambdas.shared.constants import States
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.totesys import TABLES
from local.cloud import LocalCloud, UpOptions
from local.deploy import NO_SAFETY_LAG, synthesize
from local.lambda_invoker import Invocation
from local.postgres import PostgresCluster, create_database, drop_database
from local.seed.load import seed_generated
from local.simulate import Activity, simulate
from ops.executions import ExecutionOutcome

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON_DIR = REPO / "bench" / "results"
OVERRIDES = NO_SAFETY_LAG  # fresh changes are visible to the very next run
# 1,000 changed source rows across the tables: a new order brings its transaction and payment (3 rows), an
# amended order updates its payment too (2 rows), a payment made is 1: 3*150 + 3*60 + 2*125 + 120 = 1,000.
INCREMENTAL = Activity(new_sales_orders=150, new_purchase_orders=60, amended_orders=125, payments_made=120,
                       address_changes=0, department_changes=0)
STATE_ROWS = {States.EXTRACT: "extracted", States.TRANSFORM: "transformed", States.LOAD: "loaded"}
# The state each function serves, by its handler's package (`lambdas.<package>.handler.handler`).
STATE_OF_PACKAGE = {"extract": States.EXTRACT, "transform": States.TRANSFORM, "load": States.LOAD,
                    "watermark": States.ADVANCE_WATERMARK}
Progress = Callable[[str], None]
SETTLE_TIMEOUT = 300.0  # seconds to wait for autovacuum before measuring anyway


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_bench(scale: int, *, server: DatabaseCredentials | None = None, reuse_source: str | None = None,
              json_dir: Path = DEFAULT_JSON_DIR, profile: bool = False, progress: Progress = _stderr,
              synthesized: tuple[Path, dict[str, Any]] | None = None,
              settle_seconds: float = 1.0) -> dict[str, Any]:
    """One bench run; returns the figures (also written as JSON, path under "json_path").

    `server`: superuser credentials of a PostgreSQL server to create the bench's databases on (a throwaway
    cluster is started when neither it nor `reuse_source` is given). `synthesized`: a CDK app synthesized
    earlier with OVERRIDES (skips the ~30 s synth). `settle_seconds`: how long autovacuum must have been idle
    before each measured step (the test of the bench itself, at a tiny scale, shortens it).
    """
    result: dict[str, Any] = {"schema_version": report.SCHEMA_VERSION, "timestamp": report.now(),
                              "machine": report.machine_facts(), "scale": scale}
    with _servers(server, reuse_source) as (pg, source_given), tempfile.TemporaryDirectory(prefix="onyx-bench-") as tmp:
        work = Path(tmp)
        tag = uuid.uuid4().hex[:8]
        created: list[str] = []

        def database(kind: str) -> DatabaseCredentials:
            name = f"onyx_bench_{tag}_{kind}"
            created.append(name)
            return create_database(pg, name)

        try:
            source = DatabaseCredentials.from_url(source_given) if source_given else database("totesys")
            result["versions"] = report.versions(_server_version(source))
            result["source"] = _source(source, scale, seed=not source_given, progress=progress)
            _settle(pg, progress, quiet_seconds=settle_seconds)
            floor_target = floor.prepare_target(database("floor"))
            result["floor"] = _floor(source, floor_target, progress)
            keyless_target = floor.prepare_target(database("floor_keyless"), keys=False)
            result["floor_keyless"] = _floor(source, keyless_target, progress, keyless=True)
            if synthesized is None:
                synthesized = synthesize(work / "cdk.out", OVERRIDES, progress)
            warehouse = database("warehouse")
            _settle(pg, progress, quiet_seconds=settle_seconds)
            cloud = LocalCloud(directory=work / "cloud", progress=_indented(progress))
            # fork_server=False: the cold starts measured are a fresh interpreter's, as on Lambda.
            cloud.up(UpOptions(source_url=source.to_url(), warehouse_url=warehouse.to_url(), fork_server=False,
                               overrides=OVERRIDES, synthesized=synthesized))
            try:
                _runs(cloud, result, _Databases(pg, source, warehouse, floor_target, keyless_target, settle_seconds),
                      progress)
                result["retention"] = _retention(cloud)
            finally:
                cloud.down()
            result["machine"]["load_average_at_end"] = report.load_average()
            _conclude(result)
            path = report.write_json(result, json_dir)
            result["json_path"] = str(path)
            if profile:
                from bench.profile import profile_full_load

                result["profile"] = profile_full_load(source, database("profile_warehouse"), synthesized,
                                                      work / "profile-cloud", path.with_suffix(""), progress=progress)
                report.write_json(result, json_dir)
        finally:
            for name in created:
                with suppress(Exception):  # best effort: a throwaway cluster goes anyway
                    drop_database(pg, name)
    return result


@dataclass(frozen=True)
class _Databases:
    server: DatabaseCredentials
    source: DatabaseCredentials
    warehouse: DatabaseCredentials
    floor_target: DatabaseCredentials
    keyless_target: DatabaseCredentials
    settle_seconds: float


def _runs(cloud: LocalCloud, result: dict[str, Any], db: _Databases, progress: Progress) -> None:
    """The full load, the floor again, then the two incremental runs."""
    memory = _memory_by_function(cloud)
    progress("full load")
    result["full_load"] = _execute(cloud, memory)
    _settle(db.server, progress, quiet_seconds=db.settle_seconds)
    _floor_again(result["floor"], db.source, db.floor_target, progress)
    _floor_again(result["floor_keyless"], db.source, db.keyless_target, progress)
    # The warehouse as autovacuum leaves it in the half hour before the next scheduled run.
    _vacuum(db.warehouse)
    _settle(db.server, progress, quiet_seconds=db.settle_seconds)
    progress(f"incremental, the Lambdas warm from the last run: {INCREMENTAL}")
    result["incremental"] = _incremental(cloud, memory, db.source)
    # A schedule slower than Lambda keeps environments warm meets cold starts in every state.
    _settle(db.server, progress, quiet_seconds=db.settle_seconds)
    progress(f"incremental again, every Lambda cold: {INCREMENTAL}")
    result["incremental_cold"] = _incremental(cloud, memory, db.source, cold=True)


@contextmanager
def _servers(server: DatabaseCredentials | None, reuse_source: str | None) -> Iterator[tuple[DatabaseCredentials,
                                                                                         str | None]]:
    """(superuser credentials to create databases with, the reused source URL or None)."""
    if reuse_source:
        yield DatabaseCredentials.from_url(reuse_source).with_dbname("postgres"), reuse_source
    elif server is not None:
        yield server, None
    else:
        with PostgresCluster() as cluster:
            yield cluster.url, None


def _settle(server: DatabaseCredentials, progress: Progress, *, quiet_seconds: float = 1.0,
            timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until no autovacuum worker has run for `quiet_seconds` (at most `timeout`).

    A load of millions of rows sets autovacuum going on the tables it filled; measured next, a step would
    share the CPU with it. In production the next run comes 30 minutes later, long after it is done.
    """
    conn = server.connect()
    started = quiet_since = time.monotonic()
    try:
        while (now := time.monotonic()) - quiet_since < quiet_seconds and now - started < timeout:
            busy = conn.run("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")[0][0]
            if busy:
                quiet_since = time.monotonic()
            time.sleep(0.2)
    finally:
        conn.close()
    if (waited := time.monotonic() - started) > quiet_seconds + 0.5:
        progress(f"  waited {waited:.1f} s for autovacuum to finish")


def _run_sql(database: DatabaseCredentials, sql: str) -> list[Any]:
    """One statement on its own connection (autocommit: VACUUM refuses a transaction); its rows."""
    conn = database.connect(io_timeout=None)
    try:
        return list(conn.run(sql) or [])
    finally:
        conn.close()


def _vacuum(database: DatabaseCredentials) -> None:
    _run_sql(database, "VACUUM (ANALYZE)")


def _indented(progress: Progress) -> Progress:
    return lambda message: progress(f"  {message}")


def _server_version(credentials: DatabaseCredentials) -> str:
    return str(_run_sql(credentials, "SHOW server_version")[0][0])


def _source(source: DatabaseCredentials, scale: int, *, seed: bool, progress: Progress) -> dict[str, Any]:
    seconds = None
    if seed:
        progress(f"seeding a generated source at scale {scale:,}")
        started = time.perf_counter()
        seed_generated(source, scale, seed=1, progress=_indented(progress))
        seconds = round(time.perf_counter() - started, 2)
    conn = source.connect(io_timeout=None)
    try:
        rows = {t.name: int(conn.run(f"SELECT count(*) FROM {t.sql_name}")[0][0]) for t in TABLES}
    finally:
        conn.close()
    return {"seeded": seed, "seed_seconds": seconds, "rows": rows, "total_rows": sum(rows.values())}


def _floor(source: DatabaseCredentials, target: DatabaseCredentials, progress: Progress, *,
           keyless: bool = False) -> dict[str, Any]:
    """The floor by psql (the figure the pipeline is held to) and, for comparison, by pg8000; the keyless floor
    by psql alone (or pg8000 without psql)."""
    methods = ["psql", "pg8000"] if floor.psql_binary() else ["pg8000"]
    if keyless:
        methods = methods[:1]
    into = "tables without keys" if keyless else "tables with their keys"
    results = []
    for method in methods:
        progress(f"floor: COPY TO | COPY FROM of every table into {into}, through {method}")
        results.append(floor.measure(source, target, method))
        progress(f"  {results[-1].rows:,} rows in {results[-1].seconds:.2f} s")
    primary = results[0].to_json()
    primary["keyless"] = keyless
    primary["bytes"] = results[-1].bytes  # counted by the pg8000 client: the same COPY text
    primary["others"] = [r.to_json() for r in results[1:]]
    primary["samples"] = [primary["seconds"]]
    floor.truncate(target)  # leave no copy of the data behind
    return primary


def _floor_again(measured: dict[str, Any], source: DatabaseCredentials, target: DatabaseCredentials,
                 progress: Progress) -> None:
    """Measure the floor a second time, after the full load; its figure becomes the mean of the two.

    One floor measurement on this shared machine varied from 13 to 22 s between runs (the full load by as
    much): measured before and after the full load, the floor meets the same spells of contention as it.
    """
    progress(f"floor again, after the full load, through {measured['method']}"
             + (" (tables without keys)" if measured.get("keyless") else ""))
    again = floor.measure(source, target, measured["method"])
    floor.truncate(target)
    progress(f"  {again.rows:,} rows in {again.seconds:.2f} s")
    measured["samples"].append(round(again.seconds, 3))
    measured["seconds"] = round(sum(measured["samples"]) / len(measured["samples"]), 3)
    measured["rows_per_second"] = round(measured["rows"] / measured["seconds"]) if measured["seconds"] else None


def _retention(cloud: LocalCloud) -> dict[str, Any]:
    """What the ingestion bucket's archive rule would move of the lake the runs left (bench/retention.py)."""
    if cloud.deployment is None:
        raise RuntimeError("the local cloud is not up")
    bucket = retention.ingestion_bucket(cloud.client("cloudformation"), cloud.client("lambda"),
                                        cloud.deployment.stack_name)
    return retention.report(bucket, retention.list_objects(cloud.client("s3"), bucket))


def _memory_by_function(cloud: LocalCloud) -> dict[str, int]:
    functions = cloud.client("lambda").list_functions().get("Functions", [])
    return {f["FunctionName"]: int(f.get("MemorySize", 128)) for f in functions}


def _execute(cloud: LocalCloud, memory: dict[str, int]) -> dict[str, Any]:
    if cloud.moto is None or cloud.moto.invoker is None:
        raise RuntimeError("the local cloud is not up")
    invoker = cloud.moto.invoker
    before = len(invoker.invocations)
    started = time.perf_counter()
    outcome = cloud.execute()
    seconds = time.perf_counter() - started
    return summarize(outcome, invoker.invocations[before:], seconds, memory)


def _incremental(cloud: LocalCloud, memory: dict[str, int], source: DatabaseCredentials, *,
                 cold: bool = False) -> dict[str, Any]:
    """An incremental run after INCREMENTAL's activity; `cold`: every invocation in a fresh environment."""
    if cloud.moto is None or cloud.moto.invoker is None:
        raise RuntimeError("the local cloud is not up")
    invoker = cloud.moto.invoker
    activity = simulate(source, INCREMENTAL)
    keep_warm = invoker.keep_warm_seconds
    if cold:
        invoker.close()
        invoker.keep_warm_seconds = 0
    try:
        run = _execute(cloud, memory)
    finally:
        invoker.keep_warm_seconds = keep_warm
    run["activity"] = activity
    run["changed_rows"] = run["rows"]  # the source row versions the run extracted
    return run


def summarize(outcome: ExecutionOutcome, invocations: list[Invocation], seconds: float,
              memory: dict[str, int]) -> dict[str, Any]:
    """One execution's figures: end to end, per state, per Lambda process (`seconds`: the wall time around it)."""
    wall = seconds
    rows = sum(outcome.extracted.values())
    labelled = _label(invocations)
    states = []
    for state, state_seconds in outcome.state_seconds.items():
        mine = [i for s, i in labelled if s == state]
        states.append({
            "state": state, "seconds": state_seconds,
            "rows": sum(getattr(outcome, STATE_ROWS[state]).values()) if state in STATE_ROWS else None,
            "process_seconds": round(sum(i.seconds for i in mine), 3) if mine else None,
            "peak_rss_mb": max(i.peak_rss_mb for i in mine) if mine else None,
            "invocations": len(mine), "cold_starts": sum(i.cold_start for i in mine),
            "init_seconds": round(sum(i.init_seconds for i in mine), 3) if mine else None})
    # End to end is the execution's own start to stop (what the Step Functions console shows); the wall time
    # around it also holds starting it and up to one poll (0.2 s) of the watcher after it ended.
    if outcome.execution_seconds is not None:
        seconds = outcome.execution_seconds
    return {
        "status": outcome.status, "succeeded": outcome.succeeded, "run_id": outcome.run_id,
        "seconds": round(seconds, 3), "wall_seconds": round(wall, 3), "watcher_seconds": outcome.seconds,
        "rows": rows,
        "rows_per_second": round(rows / seconds) if seconds else None,
        "state_seconds": outcome.state_seconds, "states": states,
        "invocations": [{"state": s, **asdict(i), "memory_mb": memory.get(i.function_name)} for s, i in labelled],
        "extracted": outcome.extracted, "transformed": outcome.transformed, "loaded": outcome.loaded,
        "error": outcome.error}


def state_of_handler(handler: str) -> str:
    """The state a Lambda handler path (`lambdas.<package>.handler.handler`) serves; the path when unknown."""
    parts = handler.split(".")
    return STATE_OF_PACKAGE.get(parts[1], handler) if len(parts) >= 3 else handler


def _label(invocations: list[Invocation]) -> list[tuple[str, Invocation]]:
    """Which state each Lambda process served: each state has a function of its own."""
    return [(state_of_handler(invocation.handler), invocation) for invocation in invocations]


def _conclude(result: dict[str, Any]) -> None:
    floor_seconds, keyless_seconds = result["floor"]["seconds"], result["floor_keyless"]["seconds"]
    full = result["full_load"]
    result["ratio_full_load_to_floor"] = round(full["seconds"] / floor_seconds, 2) if floor_seconds else None
    result["ratio_full_load_to_keyless_floor"] = (round(full["seconds"] / keyless_seconds, 2) if keyless_seconds
                                                  else None)
    result["targets"] = report.targets(floor_seconds, full, result["incremental"], result["incremental_cold"],
                                       keyless_floor_seconds=keyless_seconds)
    result["passed"] = (full["succeeded"] and result["incremental"]["succeeded"]
                        and result["incremental_cold"]["succeeded"]
                        and all(t["pass"] for t in result["targets"].values()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="sales orders of the generated source")
    parser.add_argument("--reuse-source", metavar="URL", help="use this Totesys database as it is (not seeded)")
    parser.add_argument("--json-dir", type=Path, default=DEFAULT_JSON_DIR, help="where the JSON figures go")
    parser.add_argument("--profile", action="store_true",
                        help="then profile a second full load's Lambdas with pyinstrument")
    args = parser.parse_args(argv)
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    started = time.perf_counter()
    result = run_bench(args.scale, reuse_source=args.reuse_source, json_dir=args.json_dir, profile=args.profile)
    print(report.render(result))
    print()
    print(retention.render(result["retention"]))
    if "profile" in result:
        from bench.profile import render_profile

        print(render_profile(result["profile"]))
    _stderr(f"bench finished in {time.perf_counter() - started:.0f} s")
    runs = ("full_load", "incremental", "incremental_cold")
    return 0 if all(result[run]["succeeded"] for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
