"""What an execution's history says of its end: the last state it entered, and the end's error and cause."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

# A run's history is a few dozen events (five states, their retries); one page almost always holds it.
PAGE: Final = 1000
# The history events that end an execution unsuccessfully, and where each keeps its error and cause.
END_DETAILS: Final = {
    "ExecutionFailed": "executionFailedEventDetails",
    "ExecutionAborted": "executionAbortedEventDetails",
    "ExecutionTimedOut": "executionTimedOutEventDetails",
}


@dataclass(frozen=True)
class EndOfRun:
    state: str | None  # the last state entered; None for an execution that ended before any
    error: str | None
    cause: str | None


def end_of_run(stepfunctions: Any, execution_arn: str) -> EndOfRun:
    """Read the execution's history forwards (moto ignores reverseOrder; a whole history is one page anyway)."""
    state: str | None = None
    error: str | None = None
    cause: str | None = None
    paginator = stepfunctions.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn, includeExecutionData=True,
                                   PaginationConfig={"PageSize": PAGE}):
        for event in page["events"]:
            entered = event.get("stateEnteredEventDetails")
            if entered and event["type"].endswith("StateEntered"):
                state = str(entered["name"])
            details = event.get(END_DETAILS.get(event["type"], ""))
            if details:
                error, cause = details.get("error"), details.get("cause")
    return EndOfRun(state=state, error=error, cause=cause)
