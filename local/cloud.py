"""The local cloud: throwaway (or given) PostgreSQL databases + moto running the synthesized stack.

`LocalCloud.up()` does what `python -m local up` promises; the state it leaves in `.local-cloud/state.json`
lets the other commands (execute, simulate, validate, report, down) find the running pieces.
"""

from __future__ import annotations

import gc
import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from lambdas.load import apply_migrations
from lambdas.shared.database import DatabaseCredentials
from local import moto_compat
from local.database_check import check_databases
from local.deploy import Deployment, deploy, synthesize
from local.moto_cloud import REGION, Alert, MotoCloud
from local.moto_cloud_constants import OPERATOR_CREDENTIALS, signed_with
from local.moto_iam import Denial
from local.postgres import PostgresCluster
from local.seed.load import seed_generated
from local.state import CloudState, state_dir
from ops.executions import ExecutionOutcome, ExecutionWatcher, Progress, new_run_id, start_and_wait


@dataclass
class UpOptions:
    source_url: str | None = None
    warehouse_url: str | None = None
    # The database secrets as RDS manages them (username and password only), the databases' host, port, name and
    # sslmode given to the deployment as settings (sourceHost, ...) instead; False: secrets with every field.
    rds_secrets: bool = False
    scale: int = 10_000
    seed: int = 1
    overrides: dict[str, str] = field(default_factory=dict)
    detach: bool = False
    # An app synthesized earlier with the same overrides (tests share one): skips the synth. With rds_secrets, its
    # overrides include the databases' `location_overrides`.
    synthesized: tuple[Path, dict[str, Any]] | None = None
    # Cold starts without the library imports (local/lambda_forkserver.py): the test suite's choice, never the
    # bench's. ONYX_LOCAL_FORK_SERVER=1 turns it on for the command line.
    fork_server: bool = field(default_factory=lambda: os.environ.get("ONYX_LOCAL_FORK_SERVER") == "1")


def schedule_seconds(expression: str | None) -> int | None:
    """`rate(15 minutes)` -> 900; None for no or an unsupported schedule."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression or "")
    if not match:
        return None
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


class LocalCloud:
    """Everything `up` starts, in this process; `down()` stops all of it."""

    def __init__(self, directory: Path | None = None, progress: Progress = print) -> None:
        self.directory = directory or state_dir()
        self.progress = progress
        self.postgres: PostgresCluster | None = None
        self.moto: MotoCloud | None = None
        self.state: CloudState | None = None
        self.deployment: Deployment | None = None
        self._stop = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._clients: dict[tuple[str, str, tuple[tuple[str, str], ...]], Any] = {}
        self._clients_lock = threading.Lock()

    # ---- up -----------------------------------------------------------------------------------
    def up(self, options: UpOptions) -> CloudState:
        given = given_databases(options)  # checked first: nothing is started for a database that cannot be used
        self.directory.mkdir(parents=True, exist_ok=True)
        if (self.directory / "state.json").exists():
            raise RuntimeError(f"a local cloud already runs from {self.directory} "
                               "(stop it with `python -m local down`)")
        try:
            return self._up(options, given)
        except BaseException:
            self.down()
            raise

    def _up(self, options: UpOptions, given: tuple[DatabaseCredentials, DatabaseCredentials] | None) -> CloudState:
        started = time.monotonic()
        if given is not None:
            self.progress("using the given databases (nothing seeded)")
        source, warehouse = given or self._databases(options)
        self.moto = MotoCloud(state_dir=self.directory, on_alert=self._print_alert,
                              on_denial=self._print_denial, fork_server=options.fork_server).start()
        if self.moto.execution_events is not None:
            self.moto.execution_events.progress = self.progress
        self.progress(f"local AWS (moto) on {self.moto.endpoint_url}")
        clients = {name: self.client(name) for name in
                   ("s3", "ssm", "cloudformation", "stepfunctions", "events", "secretsmanager")}
        overrides = options.overrides
        if options.rds_secrets:  # the secrets will not say where the databases are: the settings do
            overrides = {**overrides, **location_overrides(source, warehouse)}
        outdir, context = options.synthesized or synthesize(self.directory / "cdk.out", overrides, self.progress)
        _check_synthesized_with(context, overrides)
        config = _config_from_context(context)
        for name, credentials in ((config["sourceSecretName"], source), (config["warehouseSecretName"], warehouse)):
            clients["secretsmanager"].create_secret(
                Name=name, SecretString=json.dumps(secret_value(credentials, rds=options.rds_secrets)))
        self.progress("deploying the synthesized stack into local CloudFormation")
        self.deployment = deploy(clients, outdir, context)
        self.moto.state_machine_role_arn = self.deployment.state_machine_role_arn
        if moto_compat.accepted_placeholders:
            kinds = sorted({entry.split()[0] for entry in moto_compat.accepted_placeholders})
            self.progress(f"  deployed; not emulated locally (accepted as placeholders): {', '.join(kinds)}")
        schema = config["warehouseSchema"]
        conn = warehouse.connect()
        try:
            apply_migrations(conn, schema)
        finally:
            conn.close()
        self.state = CloudState(
            pid=os.getpid(), endpoint_url=self.moto.endpoint_url, region=REGION,
            state_machine_arn=self.deployment.state_machine_arn, stack_name=self.deployment.stack_name,
            source_url=source.to_url(), warehouse_url=warehouse.to_url(), warehouse_schema=schema,
            schedule_expression=self.deployment.schedule_expression,
            postgres_pid=self.postgres.process.pid if self.postgres and self.postgres.process else None,
            postgres_dir=str(self.postgres.workdir) if self.postgres else None)
        self.state.save(self.directory)
        # What is loaded by now (moto's and botocore's service models: millions of objects) lives as long as
        # the cloud. Frozen, the garbage collector stops re-scanning it: a full collection in the middle of an
        # execution had stalled the emulated AWS for a noticeable pause (docs/performance.md).
        gc.freeze()
        self.progress(f"ready in {time.monotonic() - started:.1f}s: stack {self.deployment.stack_name}, "
                      f"state machine {self.deployment.state_machine_arn.rsplit(':', 1)[-1]}")
        return self.state

    def _databases(self, options: UpOptions) -> tuple[DatabaseCredentials, DatabaseCredentials]:
        """A throwaway cluster's `totesys` (seeded) and `warehouse`."""
        self.postgres = PostgresCluster(detach=options.detach).start()
        self.progress(f"PostgreSQL on 127.0.0.1:{self.postgres.port}")
        source = self.postgres.create_database("totesys")
        warehouse = self.postgres.create_database("warehouse")
        self.progress(f"seeding totesys with {options.scale:,} sales orders")
        seed_generated(source, options.scale, options.seed, progress=self.progress)
        return source, warehouse

    def client(self, service: str, credentials: dict[str, str] = OPERATOR_CREDENTIALS) -> Any:
        """A client of the local AWS, signed with the operator's credentials unless others are given.

        Made once per service and credentials while the cloud is up (a client costs about 0.1 s to build, and
        boto3's clients may be shared between threads)."""
        if self.moto is None:
            raise RuntimeError("the local cloud is not up")
        key = (self.moto.endpoint_url, service, tuple(sorted(credentials.items())))
        with self._clients_lock:
            if key not in self._clients:
                self._clients[key] = boto3.client(service, endpoint_url=self.moto.endpoint_url, region_name=REGION,
                                                  **signed_with(credentials))
            return self._clients[key]

    def _print_denial(self, denial: Denial) -> None:
        self.progress(f"IAM: AccessDenied: {denial.message}")

    def _print_alert(self, alert: Alert) -> None:
        self.progress(f"ALERT (SNS {alert.topic_arn.rsplit(':', 1)[-1]}): {alert.subject or ''}\n{alert.message}")

    # ---- running --------------------------------------------------------------------------------
    def _state(self) -> CloudState:
        if self.state is None:
            raise RuntimeError("the local cloud is not up")
        return self.state

    def execute(self, run_id: str | None = None, payload: dict[str, Any] | None = None) -> ExecutionOutcome:
        """One execution (a run, or what `payload` asks: ops.executions.rebuild_input, replay_input), followed to its
        end (a rebuild: its rebuild execution's), and its end's events delivered (a failure's e-mail printed)."""
        outcome = start_and_wait(self.client("stepfunctions"), self._state().state_machine_arn, self.progress, run_id,
                                 payload)
        self.settle()
        return outcome

    def scheduled_execution(self, run_id: str | None = None) -> ExecutionOutcome:
        """One execution as the schedule rule starts it: its target's input, signed with its target's role
        (which may start this state machine and do nothing else), then followed to its end."""
        if self.moto is None or self.deployment is None or self.deployment.schedule_rule_name is None:
            raise RuntimeError("no scheduled rule is deployed")
        (target,) = self.client("events").list_targets_by_rule(Rule=self.deployment.schedule_rule_name)["Targets"]
        as_rule = self.client("stepfunctions", self.moto.sessions.environment(target["RoleArn"], "onyx-local-schedule"))
        run_id = run_id or new_run_id()
        self.progress(f"execution {run_id} (scheduled)")
        arn = as_rule.start_execution(stateMachineArn=target["Arn"], name=run_id,
                                      input=target.get("Input") or "{}")["executionArn"]
        outcome = ExecutionWatcher(self.client("stepfunctions"), arn, run_id, self.progress).wait()
        self.settle()
        return outcome

    def settle(self) -> None:
        """Wait until every ended execution's status-change event has reached its rules' targets."""
        if self.moto is not None and self.moto.execution_events is not None:
            self.moto.execution_events.settle()

    def start_schedule(self, on_outcome: Callable[[ExecutionOutcome], None] | None = None) -> bool:
        """Start executions at the deployed rule's rate (moto does not fire EventBridge)."""
        expression = self._state().schedule_expression
        every = schedule_seconds(expression)
        if every is None:
            return False

        def loop() -> None:
            while not self._stop.wait(every):
                outcome = self.scheduled_execution()
                if on_outcome is not None:
                    on_outcome(outcome)

        self._scheduler = threading.Thread(target=loop, name="onyx-schedule", daemon=True)
        self._scheduler.start()
        self.progress(f"scheduled: an execution every {every // 60} minutes ({expression})")
        return True

    def wait_until_stopped(self) -> None:
        self._stop.wait()

    # ---- down ---------------------------------------------------------------------------------
    def down(self) -> None:
        self._stop.set()
        self._clients.clear()
        if self.moto is not None:
            self.moto.stop()
            self.moto = None
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None
        (self.directory / "state.json").unlink(missing_ok=True)


def given_databases(options: UpOptions) -> tuple[DatabaseCredentials, DatabaseCredentials] | None:
    """The databases given by URL, each checked with one connection (DatabaseCheckFailed: which, and why); None when
    the local cloud makes its own."""
    if not options.source_url and not options.warehouse_url:
        return None
    if not (options.source_url and options.warehouse_url):
        raise ValueError("give both --source-url and --warehouse-url, or neither")
    source, warehouse = (DatabaseCredentials.from_url(url) for url in (options.source_url, options.warehouse_url))
    check_databases({"source": source, "warehouse": warehouse})
    return source, warehouse


def secret_value(credentials: DatabaseCredentials, *, rds: bool = False) -> dict[str, Any]:
    """A database secret as the local cloud writes it: every field, or (rds) only the login, as RDS manages it."""
    if rds:
        return {"username": credentials.username, "password": credentials.password}
    return credentials.to_secret()


def location_overrides(source: DatabaseCredentials, warehouse: DatabaseCredentials) -> dict[str, str]:
    """The settings that say where the databases are and how to connect (sourceHost, ..., warehouseSslMode), for
    secrets that do not: the context `-c KEY=VALUE` pairs a deployment would be given."""
    overrides: dict[str, str] = {}
    for role, credentials in (("source", source), ("warehouse", warehouse)):
        if credentials.sslrootcert:  # a setting names a file of the repository, shipped with the functions
            raise ValueError(f"the {role} URL's sslrootcert cannot be given to secrets as RDS manages them (the "
                             "sslRootCert setting names a file of this repository): use the full secret shape")
        overrides |= {f"{role}Host": credentials.host, f"{role}Port": str(credentials.port),
                      f"{role}Database": credentials.dbname, f"{role}SslMode": credentials.sslmode}
    return overrides


def _check_synthesized_with(context: dict[str, Any], overrides: dict[str, str]) -> None:
    """An app synthesized beforehand (UpOptions.synthesized) must have the overrides this deployment needs."""
    differing = sorted(key for key, value in overrides.items() if str(context.get(key)) != value)
    if differing:
        raise ValueError(f"the app was synthesized without the settings this deployment needs: {', '.join(differing)}")


def _config_from_context(context: dict[str, Any]) -> dict[str, Any]:
    """The resolved configuration the stack was synthesized with (same resolver as app.py)."""
    from stacks.config import load_config

    config = load_config(context)  # the resolver app.py uses, so the names match the stack's
    return {"sourceSecretName": config.source_secret_name, "warehouseSecretName": config.warehouse_secret_name,
            "warehouseSchema": config.warehouse_schema}
