"""The failure e-mail: what a person reads when a run ends without succeeding. Pure functions, no AWS calls.

Subject: environment, how the run ended, where and with which error. Body: the error message (never the raw
cause JSON or a stack trace: those are in the function's log, linked), the run id, console links and the
advice, which is true on AWS: start a new execution (the watermarks make it catch up), nothing is lost.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote

from lambdas.shared.constants import REBUILD_MACHINE_SUFFIX

# SNS refuses a subject of 100 characters or more, or one with line breaks or non-ASCII characters.
SUBJECT_LIMIT: Final = 99
MESSAGE_LIMIT: Final = 2000
# How each unsuccessful end is named in the e-mail.
ENDINGS: Final = {"FAILED": "FAILED", "TIMED_OUT": "TIMED OUT", "ABORTED": "was STOPPED"}


@dataclass(frozen=True)
class RunEnd:
    """An execution that ended without succeeding, as the status-change event and its history tell it."""

    env_name: str
    region: str
    execution_arn: str
    run_id: str
    status: str  # FAILED | TIMED_OUT | ABORTED
    started: datetime
    stopped: datetime | None
    error: str | None
    cause: str | None
    state: str | None  # the state the execution was in when it ended, if the history names one
    log_group: str | None  # that state's function log group, if it is a task of ours

    @property
    def is_rebuild(self) -> bool:
        """An execution of the rebuild's own state machine (`Onyx-<env>-rebuild`), not a pipeline run."""
        parts = self.execution_arn.split(":")
        return len(parts) > 6 and parts[6].endswith(REBUILD_MACHINE_SUFFIX)

    @property
    def kind(self) -> str:
        return "rebuild" if self.is_rebuild else "run"


def error_message(cause: str | None) -> str:
    """A Lambda failure's cause is JSON (errorMessage, errorType, stackTrace): the message only."""
    if not cause:
        return "none given"
    try:
        parsed = json.loads(cause)
    except ValueError:
        text = cause
    else:
        text = str(parsed.get("errorMessage") or cause) if isinstance(parsed, dict) else cause
    text = text.strip()
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"


def subject(end: RunEnd) -> str:
    where = f" in {end.state}" if end.state else ""
    what = f" ({end.error})" if end.error else ""
    text = f"Onyx {end.env_name}: {end.kind} {ENDINGS.get(end.status, end.status)}{where}{what}"
    text = re.sub(r"[^\x20-\x7e]", "?", text)  # printable ASCII only
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 3] + "..."


def execution_link(region: str, execution_arn: str) -> str:
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def log_group_link(region: str, log_group: str) -> str:
    # The console's own escaping of a log group name in its URL fragment: '/' as $252F.
    name = quote(log_group, safe="").replace("%", "$25")
    return f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/{name}"


def _duration(end: RunEnd) -> str:
    if end.stopped is None:
        return ""
    seconds = int((end.stopped - end.started).total_seconds())
    return f" ({seconds // 60} min {seconds % 60} s)"


def advice(end: RunEnd) -> str:
    if end.is_rebuild:
        return _rebuild_advice(end)
    start_new = ("start a new execution of the state machine (Step Functions console: Start execution; or "
                 f"`python -m ops execute --stack Onyx-{end.env_name}`), or let the next scheduled run do it. "
                 "Each run extracts everything changed since the last run that reached the warehouse, so "
                 "nothing this run did not load is lost, and nothing it loaded is loaded twice.")
    if end.status == "ABORTED":
        return f"If it was stopped on purpose, nothing needs doing. Otherwise {start_new}"
    if end.status == "TIMED_OUT":
        return ("The run took longer than the state machine allows. Look at the step named above in the logs "
                f"(a slow query, a lock, a much larger batch than usual); when it is understood, {start_new}")
    return f"Fix the cause named above (the log has the details), then {start_new}"


def _rebuild_advice(end: RunEnd) -> str:
    again = (f"start the rebuild again (`python -m ops execute --rebuild --stack Onyx-{end.env_name}`, or start an "
             'execution of the pipeline state machine with {"mode": "rebuild"}), or redrive this execution from the '
             "step that failed: each step resumes from where it stopped. Scheduled runs go on again now it has ended.")
    unchanged = ("The live warehouse is as it was: a rebuild changes it only in its last step, SwapIn, in one "
                 "transaction. ")
    if end.status == "ABORTED":
        return f"{unchanged}If it was stopped on purpose, nothing needs doing. Otherwise {again}"
    if end.status == "TIMED_OUT":
        return (f"{unchanged}The rebuild took longer than rebuildTimeoutHours allows: raise it (deploy), then "
                f"{again}")
    return f"{unchanged}Fix the cause named above (the log has the details; docs/operations.md), then {again}"


def body(end: RunEnd) -> str:
    where = f" in the {end.state} step" if end.state else ""
    lines = [
        f"The Onyx {end.env_name} {'rebuild' if end.is_rebuild else 'pipeline run'} {end.run_id} "
        f"{ENDINGS.get(end.status, end.status)}{where}.",
        "",
        f"Error:     {end.error or 'none given'}",
        f"Message:   {error_message(end.cause)}",
        "",
        f"Run id:    {end.run_id}",
        f"Started:   {end.started:%Y-%m-%d %H:%M:%S} UTC",
    ]
    if end.stopped is not None:
        lines.append(f"Ended:     {end.stopped:%Y-%m-%d %H:%M:%S} UTC{_duration(end)}")
    lines.append(f"Execution: {execution_link(end.region, end.execution_arn)}")
    if end.log_group:
        lines.append(f"Logs:      {log_group_link(end.region, end.log_group)} (search for the run id)")
    lines += ["", f"What to do: {advice(end)}"]
    return "\n".join(lines) + "\n"
