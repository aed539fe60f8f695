"""Starting an execution of the deployed state machine and following it to its end, state by state."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from lambdas.shared.constants import Modes, States

Progress = Callable[[str], None]
TERMINAL = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
HISTORY_PAGE = 1000  # GetExecutionHistory's largest page
# How often a rebuild's execution is looked at while its history does not grow: its steps take minutes.
REBUILD_POLL_SECONDS = 5.0


def new_run_id(now: datetime | None = None, kind: str = "run") -> str:
    """An execution name that sorts by time and is unique: `run-20261125T223000Z-1a2b3c` (`rebuild-...`,
    `replay-...` for those)."""
    now = now or datetime.now(UTC)
    return f"{kind}-{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def rebuild_input(step_runs: int | None = None) -> dict[str, Any]:
    """The pipeline execution's input that starts a rebuild."""
    return {"mode": Modes.REBUILD, **({"step_runs": step_runs} if step_runs is not None else {})}


def replay_input(run_id: str) -> dict[str, Any]:
    """The pipeline execution's input that replays one extracted run."""
    return {"mode": Modes.REPLAY, "run_id": run_id}


@dataclass
class ExecutionOutcome:
    """What one execution did, as `execute --json` prints it."""

    status: str
    run_id: str
    execution_arn: str
    seconds: float
    extracted: dict[str, int] = field(default_factory=dict)
    transformed: dict[str, int] = field(default_factory=dict)
    loaded: dict[str, int] = field(default_factory=dict)
    state_seconds: dict[str, float] = field(default_factory=dict)
    error: dict[str, str] | None = None
    # The state the execution ended in when it did not succeed (the task whose failure no retry recovered
    # from, or the state it was in when it timed out or was stopped).
    failed_state: str | None = None
    # From the execution's own start to stop date, as the Step Functions console shows it; `seconds` is
    # how long the watcher followed it, up to one poll more.
    execution_seconds: float | None = None
    # A rebuild: the execution of the rebuild's state machine the pipeline started, its last progress and its swap.
    rebuild_execution_arn: str | None = None
    progress: str | None = None
    swapped: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status, "run_id": self.run_id, "execution_arn": self.execution_arn,
                               "seconds": self.seconds, "extracted": self.extracted, "transformed": self.transformed,
                               "loaded": self.loaded, "state_seconds": self.state_seconds,
                               "execution_seconds": self.execution_seconds}
        if self.error is not None:
            out["error"] = self.error
        if self.failed_state is not None:
            out["failed_state"] = self.failed_state
        for name in ("rebuild_execution_arn", "progress", "swapped"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


def _details(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventDetails")), {})


class ExecutionWatcher:
    """Follows one execution through its history, reporting each state as it starts and ends."""

    def __init__(self, sfn: Any, execution_arn: str, run_id: str, progress: Progress) -> None:
        self.sfn, self.execution_arn, self.run_id, self.progress = sfn, execution_arn, run_id, progress
        self._seen = 0
        self._entered: dict[str, datetime] = {}
        self.outcome = ExecutionOutcome(status="RUNNING", run_id=run_id, execution_arn=execution_arn, seconds=0.0)
        self._last_failure: dict[str, str] | None = None
        self._current: str | None = None  # the state entered last and not yet exited
        self._resume: tuple[str, int] | None = None  # a history page's token and the index of its first event

    def wait(self, poll_seconds: float = 0.05, max_poll_seconds: float = 1.0,
             timeout_seconds: float | None = 3600) -> ExecutionOutcome:
        """Poll until the execution ends: every `poll_seconds` while its history grows, backing off to
        `max_poll_seconds` while it does not (a long Load polls Step Functions about once a second). None: no timeout
        of the watcher's own (the execution's bounds it)."""
        started = time.monotonic()
        interval = poll_seconds
        while True:
            seen = self._seen
            self._read_history()
            interval = poll_seconds if self._seen > seen else min(interval * 2, max_poll_seconds)
            description = self.sfn.describe_execution(executionArn=self.execution_arn)
            if description["status"] in TERMINAL:
                self._read_history()
                self.outcome.status = description["status"]
                self.outcome.seconds = round(time.monotonic() - started, 2)
                if description.get("startDate") and description.get("stopDate"):
                    self.outcome.execution_seconds = round(
                        (description["stopDate"] - description["startDate"]).total_seconds(), 3)
                if not self.outcome.succeeded:
                    self.outcome.failed_state = self._current
                    self.outcome.error = self._last_failure or {
                        "error": description.get("error") or self.outcome.status,
                        "cause": description.get("cause") or ""}
                return self.outcome
            if timeout_seconds is not None and time.monotonic() - started > timeout_seconds:
                raise TimeoutError(f"execution {self.run_id} still running after {timeout_seconds:.0f}s")
            time.sleep(interval)

    def _read_history(self) -> None:
        """The events since the last read. A rebuild's history grows to thousands of events: each read starts at the
        last full page already read (its token), not at the first event."""
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn, "maxResults": HISTORY_PAGE}
        base = 0
        if self._resume is not None:
            kwargs["nextToken"], base = self._resume
        events: list[dict[str, Any]] = []
        try:
            while True:
                page = self.sfn.get_execution_history(**kwargs)
                events.extend(page["events"])
                if not page.get("nextToken"):
                    break
                kwargs["nextToken"] = page["nextToken"]
                self._resume = (page["nextToken"], base + len(events))  # later reads start after this page
        except ClientError as error:
            if self._resume is None or error.response.get("Error", {}).get("Code") != "InvalidToken":
                raise
            self._resume = None  # a token expires after a day: read from the start once
            self._read_history()
            return
        for event in events[self._seen - base:]:
            self._on_event(event)
        self._seen = base + len(events)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, details = event["type"], _details(event)
        stamp = event["timestamp"]
        if kind.endswith("StateEntered"):
            self._entered[details["name"]] = stamp
            self._current = details["name"]
            self.progress(f"  {details['name']:<14} started")
        elif kind.endswith("StateExited"):
            name = details["name"]
            if self._current == name:
                self._current = None
            self._last_failure = None  # a failed attempt its retry recovered from is not why the run ended
            seconds = (stamp - self._entered.get(name, stamp)).total_seconds()
            # A state the execution enters again (a rebuild's loop) counts its total.
            self.outcome.state_seconds[name] = round(self.outcome.state_seconds.get(name, 0.0) + seconds, 2)
            output = json.loads(details.get("output") or "{}")
            summary = self._record(name, output if isinstance(output, dict) else {})
            self.progress(f"  {name:<14} done in {seconds:6.1f}s{summary}")
        elif kind in ("TaskFailed", "LambdaFunctionFailed"):
            error, cause = details.get("error", ""), details.get("cause", "")
            self._last_failure = {"error": error, "cause": _short_cause(cause)}
            self.progress(f"  attempt failed: {error}: {_short_cause(cause)}")

    def _record(self, state: str, output: dict[str, Any]) -> str:
        if isinstance(output.get("rebuild_execution_arn"), str):
            self.outcome.rebuild_execution_arn = output["rebuild_execution_arn"]
        if isinstance(output.get("swapped"), dict):
            self.outcome.swapped = output["swapped"]
        if isinstance(output.get("progress"), str):  # a rebuild's step: which run of how many
            self.outcome.progress = output["progress"]
            return f"  {output['progress']}"
        for name, attribute in ((States.EXTRACT, "extracted"), (States.TRANSFORM, "transformed"),
                                (States.LOAD, "loaded")):
            if state == name and isinstance(output.get(attribute), dict):
                rows = {k: int(v) for k, v in output[attribute].items()}
                setattr(self.outcome, attribute, rows)
                return f"  {sum(rows.values()):>10,} rows"
        return ""


def _short_cause(cause: str) -> str:
    """Lambda's cause is its error envelope as JSON; a person wants the message."""
    try:
        parsed = json.loads(cause)
    except (ValueError, TypeError):
        return cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return str(parsed["errorMessage"])
    return cause


def start_and_wait(sfn: Any, state_machine_arn: str, progress: Progress, run_id: str | None = None,
                   payload: dict[str, Any] | None = None) -> ExecutionOutcome:
    """Start an execution named `run_id` (new if None) and follow it to its end; a rebuild's, to the end of the
    rebuild execution it started (whose outcome it returns)."""
    mode = (payload or {}).get("mode")
    run_id = run_id or new_run_id(kind=mode if isinstance(mode, str) and mode in (Modes.REBUILD, Modes.REPLAY)
                                  else "run")
    progress(f"execution {run_id}")
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=run_id,
                              input=json.dumps(payload or {}))["executionArn"]
    outcome = ExecutionWatcher(sfn, arn, run_id, progress).wait()
    if outcome.succeeded and outcome.rebuild_execution_arn is not None:
        progress(f"rebuild execution {outcome.rebuild_execution_arn.rsplit(':', 1)[-1]} "
                 f"({outcome.rebuild_execution_arn.split(':')[-2]})")
        # Followed to its end, however long (rebuildTimeoutHours bounds it; Ctrl-C stops following, not the rebuild).
        rebuild = ExecutionWatcher(sfn, outcome.rebuild_execution_arn, run_id, progress).wait(
            max_poll_seconds=REBUILD_POLL_SECONDS, timeout_seconds=None)
        rebuild.rebuild_execution_arn = outcome.rebuild_execution_arn
        return rebuild
    return outcome


def redrive(sfn: Any, execution_arn: str, progress: Progress) -> ExecutionOutcome:
    """Run a failed execution again from the state that failed, with that state's input and the same
    run id, as Step Functions' RedriveExecution does (moto does not implement it).

    The real definition is used, with its Retry and Catch, starting at the failed state: a copy of
    the state machine whose StartAt is that state runs one execution named like the original.
    """
    execution = sfn.describe_execution(executionArn=execution_arn)
    if execution["status"] != "FAILED":
        raise ValueError(f"only a failed execution can be redriven; {execution['name']} is {execution['status']}")
    failed_state, state_input = _failed_state(sfn, execution_arn)
    machine = sfn.describe_state_machine(stateMachineArn=execution["stateMachineArn"])
    definition = json.loads(machine["definition"])
    definition["StartAt"] = failed_state
    copy = sfn.create_state_machine(name=f"{machine['name']}-redrive-{secrets.token_hex(3)}",
                                    definition=json.dumps(definition), roleArn=machine["roleArn"])
    try:
        progress(f"redrive {execution['name']} from {failed_state}")
        arn = sfn.start_execution(stateMachineArn=copy["stateMachineArn"], name=execution["name"],
                                  input=state_input)["executionArn"]
        return ExecutionWatcher(sfn, arn, execution["name"], progress).wait()
    finally:
        sfn.delete_state_machine(stateMachineArn=copy["stateMachineArn"])


def _failed_state(sfn: Any, execution_arn: str) -> tuple[str, str]:
    """The task state whose failure no retry recovered from, and the input it had entered with."""
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    entered: dict[str, str] = {}
    current: str | None = None
    failed: str | None = None
    for event in events:
        details = _details(event)
        if event["type"] == "TaskStateEntered":
            current = details["name"]
            entered[current] = details.get("input") or "{}"
        elif event["type"] in ("TaskFailed", "LambdaFunctionFailed"):
            failed = current  # the last failure is the one no retry recovered from
    if failed is None:
        raise ValueError("the execution has no failed task to redrive from")
    return failed, entered[failed]
