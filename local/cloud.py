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
    scale: int = 10_000
    seed: int = 1
    overrides: dict[str, str] = field(default_factory=dict)
    detach: bool = False
    # An app synthesized earlier with the same overrides (tests share one): skips the synth.
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
        self.directory.mkdir(parents=True, exist_ok=True)
        if (self.directory / "state.json").exists():
            raise RuntimeError(f"a local cloud already runs from {self.directory} "
                               "(stop it with `python -m local down`)")
        try:
            return self._up(options)
        except BaseException:
            self.down()
            raise

    def _up(self, options: UpOptions) -> CloudState:
        started = time.monotonic()
        source, warehouse = self._databases(options)
        self.moto = MotoCloud(state_dir=self.directory, on_alert=self._print_alert,
                              on_denial=self._print_denial, fork_server=options.fork_server).start()
        if self.moto.execution_events is not None:
            self.moto.execution_events.progress = self.progress
        self.progress(f"local AWS (moto) on {self.moto.endpoint_url}")
        clients = {name: self.client(name) for name in
                   ("s3", "ssm", "cloudformation", "stepfunctions", "events", "secretsmanager")}
        outdir, context = options.synthesized or synthesize(self.directory / "cdk.out", options.overrides,
                                                            self.progress)
        config = _config_from_context(context)
        for name, credentials in ((config["sourceSecretName"], source), (config["warehouseSecretName"], warehouse)):
            clients["secretsmanager"].create_secret(Name=name, SecretString=json.dumps(credentials.to_secret()))
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
        if options.source_url and options.warehouse_url:
            self.progress("using the given databases (nothing seeded)")
            return DatabaseCredentials.from_url(options.source_url), DatabaseCredentials.from_url(options.warehouse_url)
        if options.source_url or options.warehouse_url:
            raise ValueError("give both --source-url and --warehouse-url, or neither")
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

    def execute(self, run_id: str | None = None) -> ExecutionOutcome:
        """One execution, followed to its end, and its end's events delivered (a failure's e-mail printed)."""
        outcome = start_and_wait(self.client("stepfunctions"), self._state().state_machine_arn, self.progress, run_id)
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


def _config_from_context(context: dict[str, Any]) -> dict[str, Any]:
    """The resolved configuration the stack was synthesized with (same resolver as app.py)."""
    from stacks.config import load_config

    config = load_config(context)  # the resolver app.py uses, so the names match the stack's
    return {"sourceSecretName": config.source_secret_name, "warehouseSecretName": config.warehouse_secret_name,
            "warehouseSchema": config.warehouse_schema}
