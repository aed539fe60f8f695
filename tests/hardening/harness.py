"""The hardening harness: one local cloud reused by many sequences of source activity, faults and runs.

`Campaign.reset()` gives a sequence a fresh world on the running cloud (a seeded source and an empty
warehouse as new databases, the secrets pointed at them, empty buckets); `Campaign.play(steps)` applies
the steps, then clears the faults, commits any late transaction, runs once more and checks the four
invariants of docs/design.md section 4. Steps are small frozen dataclasses whose repr is valid Python, so a
failing sequence printed by hypothesis replays as a plain test: `campaign.play([Run("load_mid"), ...])`.

Faults are injected per Lambda invocation through the local cloud's invoker hook: an outage (the database's
secret points at a closed port until the fault's invocations are used up: each function's role may read its
own secret only, so the fault changes that secret, not which secret it reads), a wrong bucket, or this
package's `faults/sitecustomize.py` put first on PYTHONPATH with a named crash point (the process dies there).
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pg8000.native

from analytics.reconcile import reconcile
from analytics.snapshot import star_contents
from lambdas.extract.watermarks import PREFIX as WATERMARK_PREFIX
from lambdas.load.migrate import apply_migrations
from lambdas.load.runner import run_load
from lambdas.shared.constants import TRANSIENT_RETRY, Env
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.layout import extract_manifest_key
from lambdas.shared.star_schema import FACTS, SOURCED, STAR_TABLES
from lambdas.transform.runner import run_transform
from lambdas.transform.state import empty_state, save_state
from local import simulate as simulate_module
from local.cloud import LocalCloud
from local.postgres import create_database, drop_database
from local.simulate import Activity as SimulatedActivity
from local.simulate import simulate
from ops.executions import ExecutionOutcome, ExecutionWatcher, new_run_id, redrive
from tests.fixtures.local_cloud import empty_bucket, function_environments, put_secrets, secrets_written_since
from tests.local_cloud.helpers import SecretOutage

FAULTS_DIR = Path(__file__).resolve().parent / "faults"
REPO = Path(__file__).resolve().parents[2]
TIMESTAMP = 'YYYY-MM-DD"T"HH24:MI:SS.MS'  # the contract's format, as extract manifests hold `high`
# Source fact table -> its warehouse fact table and id column (versions are (id, last_updated)).
FACT_SOURCES = {source.name: (fact.name, fact.id_column) for fact, source in SOURCED if fact.is_fact}
ALL_ATTEMPTS = TRANSIENT_RETRY.max_attempts + 1


# ---- steps ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Activity:
    """Committed business activity in the source (new orders with their payments, amendments, ...)."""

    new_orders: int = 0
    amended: int = 0
    paid: int = 0
    address_changes: int = 0
    department_changes: int = 0


@dataclass(frozen=True)
class Run:
    """One execution of the state machine, with `fault` injected (see FAULTS)."""

    fault: str = "none"


@dataclass(frozen=True)
class Redrive:
    """Redrive the most recent failed execution from its failed state (no fault)."""


@dataclass(frozen=True)
class Rerun:
    """Run the most recent execution's run id again from the start (no fault)."""


@dataclass(frozen=True)
class Overlap:
    """Two executions started at once."""


@dataclass(frozen=True)
class LateOpen:
    """Open a source transaction that writes `orders` new sales orders and renames a design, uncommitted."""

    orders: int = 1


@dataclass(frozen=True)
class LateCommit:
    """Commit the open late transaction (its rows are stamped with its start, before the runs since)."""


Step = Activity | Run | Redrive | Rerun | Overlap | LateOpen | LateCommit


@dataclass(frozen=True)
class Fault:
    """Environment for up to `times` invocations of `function` (a part of the function's name)."""

    function: str
    environment: Callable[[Campaign], dict[str, str]]
    times: int = 1


def _outage_of(database: str) -> Callable[[Campaign], dict[str, str]]:
    return lambda campaign: campaign.outages[database].begin()


def _crash_at(point: str) -> Callable[[Campaign], dict[str, str]]:
    return lambda campaign: {"PYTHONPATH": f"{FAULTS_DIR}:{REPO}", "ONYX_HARDENING_FAULT": point}


FAULTS: dict[str, Fault | None] = {
    "none": None,
    # outages: the first attempt fails and the retry recovers, or every attempt fails
    "source_blip": Fault("Extract", _outage_of("source")),
    "source_down": Fault("Extract", _outage_of("source"), ALL_ATTEMPTS),
    "warehouse_blip": Fault("Load", _outage_of("warehouse")),
    "warehouse_down": Fault("Load", _outage_of("warehouse"), ALL_ATTEMPTS),
    # crashes at named points (the process dies there)
    "extract_before_manifest": Fault("Extract", _crash_at("extract_before_manifest")),
    "transform_before_manifest": Fault("Transform", _crash_at("transform_before_manifest")),
    "transform_bad_bucket": Fault("Transform", lambda c: {Env.PROCESSED_BUCKET: "onyx-hardening-no-such-bucket"}),
    "load_mid": Fault("Load", _crash_at("load_mid")),
    "commit_before_watermark": Fault("AdvanceWatermark", _crash_at("commit_before_watermark")),
}


# ---- the world of one sequence --------------------------------------------------------------------------
@dataclass
class Execution:
    run_id: str
    arn: str
    outcome: ExecutionOutcome
    snapshot: frozenset[tuple[str, int, str]]


@dataclass
class Record:
    """What a sequence did, for the invariants: each execution and the versions the source showed it."""

    executions: list[Execution] = field(default_factory=list)
    extracted_snapshot: dict[str, frozenset[tuple[str, int, str]]] = field(default_factory=dict)
    observed: set[tuple[str, int, str]] = field(default_factory=set)


class Campaign:
    """A local cloud shared by many sequences; each `reset()` starts a new one."""

    def __init__(self, cloud: LocalCloud, server: DatabaseCredentials, seeded_template: str,
                 plant: str | None = None) -> None:
        self.cloud, self.server, self.seeded_template, self.plant = cloud, server, seeded_template, plant
        self.sfn = cloud.client("stepfunctions")
        self.s3 = cloud.client("s3")
        environments = function_environments(cloud)
        extract_env = next(v for k, v in environments.items() if "Extract" in k)
        load_env = next(v for k, v in environments.items() if "Load" in k)
        self.ingestion_bucket = extract_env[Env.INGESTION_BUCKET]
        self.processed_bucket = load_env[Env.PROCESSED_BUCKET]
        self.schema = load_env.get(Env.WAREHOUSE_SCHEMA, "public")
        self.source_secret = extract_env[Env.SOURCE_SECRET_NAME]
        self.warehouse_secret = load_env[Env.WAREHOUSE_SECRET_NAME]
        manager = cloud.client("secretsmanager")
        self.outages = {"source": SecretOutage(manager, self.source_secret),
                        "warehouse": SecretOutage(manager, self.warehouse_secret)}
        assert cloud.state is not None
        self.state_machine_arn = cloud.state.state_machine_arn
        self.source: DatabaseCredentials | None = None
        self.warehouse: DatabaseCredentials | None = None
        self.record = Record()
        self.late: pg8000.native.Connection | None = None
        self.fault = "none"
        self._fault_uses = 0
        self._lock = threading.Lock()
        self._databases: list[str] = []
        self._tag = uuid.uuid4().hex[:10]  # the sequences' databases: made again under these names by each reset
        self._secret_versions: dict[str, str] | None = None
        self.log: list[str] = []
        assert cloud.moto is not None
        assert cloud.moto.invoker is not None
        cloud.moto.invoker.fault = self._hook

    # ---- setup ------------------------------------------------------------------------------------
    def reset(self) -> None:
        """A new sequence: a seeded source, an empty migrated warehouse, empty buckets, no fault.

        The databases are made again under the same names, so the secrets keep their values and the warm
        Lambda environments stay warm, as between runs on AWS. After a sequence that wrote a secret (an outage,
        another login) they are retired: one may still cache what was written, and would read the secret
        afresh only after a failed connection, one retry later.
        """
        self._close_late(commit=False)
        self._end_outages()
        secrets = self.cloud.client("secretsmanager")
        # Before the first reset the warm environments hold whatever the module's cloud booted with.
        written = self._secret_versions is None or secrets_written_since(secrets, self._secret_versions)
        self.drop_databases()
        self.source = self._database(f"onyx_hard_src_{self._tag}", self.seeded_template)
        self.warehouse = self._database(f"onyx_hard_wh_{self._tag}")
        conn = self.warehouse.connect()
        try:
            apply_migrations(conn, self.schema)
        finally:
            conn.close()
        self._secret_versions = put_secrets(secrets, {self.source_secret: self.source,
                                                      self.warehouse_secret: self.warehouse})
        assert self.cloud.moto is not None
        assert self.cloud.moto.invoker is not None
        if written:
            self.cloud.moto.invoker.close()
        for bucket in (self.ingestion_bucket, self.processed_bucket):
            empty_bucket(self.s3, bucket)
        self.record = Record()
        self.fault = "none"
        self.log = []

    def _database(self, name: str, template: str | None = None) -> DatabaseCredentials:
        credentials = create_database(self.server, name, template)
        self._databases.append(name)
        return credentials

    def drop_databases(self) -> None:
        for name in self._databases:
            drop_database(self.server, name)
        self._databases.clear()

    def close(self) -> None:
        self._close_late(commit=False)
        self.drop_databases()
        if self.cloud.moto is not None and self.cloud.moto.invoker is not None:
            self.cloud.moto.invoker.fault = None

    # ---- faults -------------------------------------------------------------------------------------
    def _hook(self, spec: Any, event: dict[str, Any]) -> dict[str, str] | None:
        environment: dict[str, str] = {}
        if self.plant and "Extract" in spec.name:
            environment |= {"PYTHONPATH": f"{FAULTS_DIR}:{REPO}", "ONYX_HARDENING_PLANT": self.plant}
        with self._lock:
            fault = FAULTS[self.fault]
            if fault is not None and fault.function in spec.name:
                if self._fault_uses < fault.times:
                    self._fault_uses += 1
                    environment |= fault.environment(self)
                else:  # the fault is used up: the database is back before this invocation
                    self._end_outages()
        return environment or None

    def _end_outages(self) -> None:
        for outage in self.outages.values():
            outage.end()

    def _set_fault(self, name: str) -> None:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}: one of {', '.join(FAULTS)}")
        with self._lock:
            self._end_outages()
            self.fault, self._fault_uses = name, 0

    # ---- steps --------------------------------------------------------------------------------------
    def play(self, steps: Iterable[Step]) -> None:
        """Apply `steps`, then clear the faults, commit any late transaction, run once more, check."""
        for step in steps:
            self.apply(step)
        self.finish()

    def apply(self, step: Step) -> None:
        self.log.append(repr(step))
        if isinstance(step, Activity):
            self._activity(step)
        elif isinstance(step, Run):
            self._set_fault(step.fault)
            try:
                self._run_all([new_run_id()])
            finally:
                self._set_fault("none")
        elif isinstance(step, Overlap):
            self._run_all([new_run_id(), new_run_id()])
        elif isinstance(step, Redrive):
            self._redrive()
        elif isinstance(step, Rerun):
            self._rerun()
        elif isinstance(step, LateOpen):
            self._late_open(step.orders)
        elif isinstance(step, LateCommit):
            self._close_late(commit=True)
        else:
            raise TypeError(f"not a step: {step!r}")

    def finish(self) -> None:
        self._close_late(commit=True)
        self._set_fault("none")
        final = self._run_all([new_run_id()])[0]
        assert final.succeeded, f"the final run, with no fault, failed: {final.error}\nsteps: {self.log}"
        self.check_invariants()

    def _activity(self, step: Activity) -> None:
        assert self.source is not None
        simulate(self.source, SimulatedActivity(
            new_sales_orders=step.new_orders, new_purchase_orders=0, amended_orders=step.amended,
            payments_made=step.paid, address_changes=step.address_changes,
            department_changes=step.department_changes))

    def _late_open(self, orders: int) -> None:
        """A writer whose rows become visible only later: inserts only, plus a design no other step touches,
        so it never blocks (nor is blocked by) the activity that runs while it is open."""
        if self.late is not None:
            return
        assert self.source is not None
        conn = self.source.connect(application_name="onyx-hardening-late")
        conn.run("BEGIN")
        simulate_module._new_sales_orders(conn, orders)
        conn.run(f"UPDATE design SET design_name = design_name || 'L', last_updated = {simulate_module.NOW} "
                 "WHERE design_id = (SELECT min(design_id) FROM design)")
        self.late = conn

    def _close_late(self, *, commit: bool) -> None:
        if self.late is None:
            return
        try:
            self.late.run("COMMIT" if commit else "ROLLBACK")
        finally:
            self.late.close()
            self.late = None

    def _start(self, run_id: str, state_machine_arn: str | None = None, payload: str = "{}") -> str:
        arn: str = self.sfn.start_execution(stateMachineArn=state_machine_arn or self.state_machine_arn,
                                            name=run_id, input=payload)["executionArn"]
        return arn

    def _run_all(self, run_ids: Sequence[str]) -> list[ExecutionOutcome]:
        """Start every run id at once, then follow each to its end."""
        snapshot = self.source_versions()
        arns = [self._start(run_id) for run_id in run_ids]
        return [self._finished(run_id, arn, snapshot) for run_id, arn in zip(run_ids, arns, strict=True)]

    def _finished(self, run_id: str, arn: str, snapshot: frozenset[tuple[str, int, str]],
                  outcome: ExecutionOutcome | None = None) -> ExecutionOutcome:
        outcome = outcome or ExecutionWatcher(self.sfn, arn, run_id, self.cloud.progress).wait()
        self.cloud.settle()  # its end's event delivered: a failure's e-mail is in cloud.moto.alerts
        self.record.executions.append(Execution(run_id, arn, outcome, snapshot))
        self.record.observed |= snapshot
        # The versions a run id's extraction saw: those of the execution that wrote its manifest.
        if run_id not in self.record.extracted_snapshot and self.extract_manifest(run_id) is not None:
            self.record.extracted_snapshot[run_id] = snapshot
        self.log.append(f"  -> {run_id} {outcome.status}"
                        + (f" {outcome.error['error']}" if outcome.error else ""))
        return outcome

    def _redrive(self) -> None:
        failed = [e for e in self.record.executions if e.outcome.status == "FAILED"]
        if not failed:
            return
        last = failed[-1]
        snapshot = self.source_versions()
        try:
            outcome = redrive(self.sfn, last.arn, self.cloud.progress)
        except ValueError:  # nothing to redrive from
            return
        self._finished(last.run_id, outcome.execution_arn, snapshot, outcome)

    def _rerun(self) -> None:
        """The last execution's run id again, from the start: a copy of the state machine (moto, like Step
        Functions, refuses a second execution of the same name)."""
        if not self.record.executions:
            return
        run_id = self.record.executions[-1].run_id
        machine = self.sfn.describe_state_machine(stateMachineArn=self.state_machine_arn)
        copy = self.sfn.create_state_machine(name=f"{machine['name']}-rerun-{uuid.uuid4().hex[:6]}",
                                             definition=machine["definition"], roleArn=machine["roleArn"])
        try:
            snapshot = self.source_versions()
            arn = self._start(run_id, copy["stateMachineArn"])
            self._finished(run_id, arn, snapshot)
        finally:
            self.sfn.delete_state_machine(stateMachineArn=copy["stateMachineArn"])

    # ---- observations -------------------------------------------------------------------------------
    def extract_manifest(self, run_id: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.ingestion_bucket, Key=extract_manifest_key(run_id))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        manifest: dict[str, Any] = json.loads(body)
        return manifest

    def source_versions(self) -> frozenset[tuple[str, int, str]]:
        """Every committed fact row version the source shows now: (table, id, last_updated)."""
        assert self.source is not None
        conn = self.source.connect()
        try:
            versions = set()
            for table, (_fact, key) in FACT_SOURCES.items():
                rows = conn.run(f"SELECT {key}, to_char(last_updated, '{TIMESTAMP}') FROM {table}")
                versions |= {(table, int(i), str(ts)) for i, ts in rows}
            return frozenset(versions)
        finally:
            conn.close()

    def warehouse_versions(self) -> list[tuple[str, int, str]]:
        """Every fact row version in the warehouse, repeats included."""
        assert self.warehouse is not None
        conn = self.warehouse.connect()
        try:
            versions = []
            for table, (fact, key) in FACT_SOURCES.items():
                rows = conn.run(f"SELECT {key}, to_char(last_updated_date + last_updated_time, '{TIMESTAMP}') "
                                f"FROM {self.schema}.{fact}")
                versions += [(table, int(i), str(ts)) for i, ts in rows]
            return versions
        finally:
            conn.close()

    def committed_runs(self) -> list[str]:
        """Run ids with a watermark object: the runs AdvanceWatermark committed."""
        keys = list_keys(self.s3, self.ingestion_bucket, WATERMARK_PREFIX)
        return sorted({key[len(WATERMARK_PREFIX):].split("-", 1)[1].removesuffix(".json") for key in keys})

    def loaded_runs(self) -> list[str]:
        """Run ids in the warehouse's run ledger."""
        assert self.warehouse is not None
        conn = self.warehouse.connect()
        try:
            return [str(r[0]) for r in conn.run(f"SELECT run_id FROM {self.schema}.onyx_run ORDER BY run_id")]
        finally:
            conn.close()

    # ---- invariants (docs/design.md section 4) ------------------------------------------------------
    def check_invariants(self) -> None:
        problems = (self.nothing_lost() + self.nothing_twice() + self.incremental_equals_rebuild()
                    + self.reconciled())
        assert not problems, "invariants broken after the sequence:\n  " + "\n  ".join(
            [*problems, "steps and executions:", *self.log])

    def expected_versions(self) -> set[tuple[str, int, str]]:
        """Invariant 1's lower bound: for each execution that succeeded, every version its extraction saw
        committed with a last_updated within its window's top (a row stamped later is the next run's)."""
        expected: set[tuple[str, int, str]] = set()
        for run_id in {e.run_id for e in self.record.executions if e.outcome.succeeded}:
            manifest = self.extract_manifest(run_id)
            snapshot = self.record.extracted_snapshot.get(run_id)
            if manifest is None or snapshot is None:
                continue
            highs = {table: entry["high"] for table, entry in manifest["tables"].items()}
            expected |= {v for v in snapshot if v[2] <= highs[v[0]]}
        return expected

    def nothing_lost(self) -> list[str]:
        missing = sorted(self.expected_versions() - set(self.warehouse_versions()))
        return [f"invariant 1 (nothing lost): {len(missing)} committed source versions missing from the "
                f"warehouse, e.g. {missing[:5]}"] if missing else []

    def nothing_twice(self) -> list[str]:
        versions = self.warehouse_versions()
        problems = []
        repeated = sorted(v for v, n in Counter(versions).items() if n > 1)
        if repeated:
            problems.append(f"invariant 2 (nothing twice): fact versions loaded twice, e.g. {repeated[:5]}")
        invented = sorted(set(versions) - self.record.observed)
        if invented:
            problems.append(f"invariant 2: fact versions the source never showed, e.g. {invented[:5]}")
        assert self.warehouse is not None
        conn = self.warehouse.connect()
        try:
            for table in STAR_TABLES:
                key = ", ".join(table.key)
                dup = conn.run(f"SELECT count(*) - count(DISTINCT ({key})) FROM {self.schema}.{table.name}")[0][0]
                if dup:
                    problems.append(f"invariant 2: {dup} repeated keys ({key}) in {table.name}")
        finally:
            conn.close()
        return problems

    def incremental_equals_rebuild(self) -> list[str]:
        """Invariant 3: a replay of the loaded runs' ingestion files into an empty warehouse equals it.

        The runs replayed are those in the warehouse's run ledger (written in the same transaction as
        their data), not only the committed ones (with a watermark object): a run whose load committed
        but whose AdvanceWatermark step then failed is in the warehouse, and if a row it carried is
        changed before the next run, that next run extracts only the new version, so the old one exists
        in that uncommitted run's files alone. Every committed run must be in the ledger, though: a
        watermark past a run that is not in the warehouse is data lost.
        """
        assert self.warehouse is not None
        committed, loaded = self.committed_runs(), self.loaded_runs()
        problems = [f"invariant 1: run {r} moved the watermarks but is not in the warehouse's run ledger"
                    for r in sorted(set(committed) - set(loaded))]
        rebuilt = rebuild(self.s3, self.ingestion_bucket, self.server, self.schema, loaded)
        try:
            incremental, replayed = star_contents(self.warehouse, self.schema), star_contents(rebuilt, self.schema)
        finally:
            drop_database(self.server, rebuilt.dbname)
        for table, rows in incremental.items():
            if rows != replayed[table]:
                only_inc = [r for r in rows if r not in replayed[table]]
                only_reb = [r for r in replayed[table] if r not in rows]
                problems.append(f"invariant 3 (incremental = rebuild of the {len(loaded)} loaded runs): {table} "
                                f"differs: {len(only_inc)} rows only incremental (e.g. {only_inc[:2]}), "
                                f"{len(only_reb)} only rebuilt (e.g. {only_reb[:2]})")
        return problems

    def reconciled(self) -> list[str]:
        assert self.source is not None
        assert self.warehouse is not None
        return [f"invariant 4 (reconciled): {m}" for m in reconcile(self.source, self.warehouse, self.schema)
                .mismatches]


# ---- replay ---------------------------------------------------------------------------------------------
def rebuild(s3: Any, ingestion_bucket: str, server: DatabaseCredentials, schema: str,
            run_ids: Iterable[str]) -> DatabaseCredentials:
    """Replay `run_ids`' ingestion files, in the order of their extraction, into a new empty warehouse
    through the real transform and load, with a fresh processed bucket. Returns the new warehouse."""
    bucket = f"onyx-rebuild-{uuid.uuid4().hex[:12]}"
    region = s3.meta.region_name
    s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else
                                       {"CreateBucketConfiguration": {"LocationConstraint": region}}))
    save_state(s3, bucket, empty_state())  # a first deployment: the state holds nothing yet
    warehouse = create_database(server, f"onyx_rebuild_{uuid.uuid4().hex[:12]}")
    started = {}
    for run_id in run_ids:
        manifest = json.loads(s3.get_object(Bucket=ingestion_bucket, Key=extract_manifest_key(run_id))["Body"].read())
        started[run_id] = manifest["started_at"]
    conn = warehouse.connect()
    try:
        apply_migrations(conn, schema)
        for run_id in sorted(started, key=lambda r: (started[r], r)):
            payload = run_transform(s3, ingestion_bucket, bucket, run_id, extract_manifest_key(run_id))
            run_load(conn, s3, bucket, schema, payload["manifest_key"], run_id=run_id)
    finally:
        conn.close()
        empty_bucket(s3, bucket)
        s3.delete_bucket(Bucket=bucket)
    return warehouse


def list_keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


__all__ = ["FACTS", "FAULTS", "Activity", "Campaign", "LateCommit", "LateOpen", "Overlap", "Redrive", "Rerun",
           "Run", "Step", "empty_bucket", "list_keys", "rebuild", "star_contents"]
