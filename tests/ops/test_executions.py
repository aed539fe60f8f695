"""Following an execution: fast polls while its history grows, backing off while it does not."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ops import executions
from ops.executions import ExecutionWatcher

T0 = datetime(2026, 12, 2, tzinfo=UTC)


class _Sfn:
    """A history that gains one event at the given polls, then an execution that ends."""

    def __init__(self, grows_at: set[int], ends_at: int) -> None:
        self.grows_at, self.ends_at, self.polls, self.events = grows_at, ends_at, 0, []

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        self.polls += 1
        if self.polls in self.grows_at:
            self.events.append({"type": "PassStateEntered", "timestamp": T0,
                                "stateEnteredEventDetails": {"name": f"S{self.polls}"}})
        return {"events": list(self.events)}

    def describe_execution(self, **_: Any) -> dict[str, Any]:
        return {"status": "SUCCEEDED" if self.polls >= self.ends_at else "RUNNING"}


def test_polls_are_quick_while_states_move_and_back_off_to_the_maximum_while_they_do_not(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(executions.time, "sleep", slept.append)
    sfn = _Sfn(grows_at={1, 2, 9}, ends_at=10)

    outcome = ExecutionWatcher(sfn, "arn", "run-x", lambda _: None).wait(poll_seconds=0.05, max_poll_seconds=1.0)

    assert outcome.status == "SUCCEEDED"
    assert slept == pytest.approx([0.05, 0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 0.05])


class _History:
    """An execution that has already ended with the given history and description."""

    def __init__(self, events: list[tuple[str, dict[str, Any]]], description: dict[str, Any]) -> None:
        self.events = [{"type": kind, "timestamp": T0, **details} for kind, details in events]
        self.description = description

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        return {"events": self.events}

    def describe_execution(self, **_: Any) -> dict[str, Any]:
        return self.description


def _entered(name: str) -> tuple[str, dict[str, Any]]:
    return "TaskStateEntered", {"stateEnteredEventDetails": {"name": name}}


def _exited(name: str) -> tuple[str, dict[str, Any]]:
    return "TaskStateExited", {"stateExitedEventDetails": {"name": name, "output": "{}"}}


def _failed(error: str, message: str) -> tuple[str, dict[str, Any]]:
    cause = json.dumps({"errorType": error, "errorMessage": message})  # Lambda's error envelope
    return "LambdaFunctionFailed", {"lambdaFunctionFailedEventDetails": {"error": error, "cause": cause}}


def test_a_failed_execution_names_the_task_no_retry_recovered_and_its_error():
    sfn = _History([_entered("Extract"), _exited("Extract"), _entered("Transform"),
                    _failed("SourceUnavailable", "first try"), _failed("InvalidData", "sales_order 9: bad date")],
                   {"status": "FAILED", "error": "InvalidData", "cause": "{...}"})

    outcome = ExecutionWatcher(sfn, "arn", "run-x", lambda _: None).wait()

    assert (outcome.status, outcome.failed_state) == ("FAILED", "Transform")
    assert outcome.error == {"error": "InvalidData", "cause": "sales_order 9: bad date"}
    assert outcome.to_json()["failed_state"] == "Transform"


def test_a_stopped_execution_names_the_state_it_was_in_not_an_attempt_a_retry_recovered_from():
    sfn = _History([_entered("Extract"), _failed("SourceUnavailable", "refused"), _exited("Extract"),
                    _entered("Load")], {"status": "ABORTED"})

    outcome = ExecutionWatcher(sfn, "arn", "run-x", lambda _: None).wait()

    assert (outcome.status, outcome.failed_state) == ("ABORTED", "Load")
    assert outcome.error == {"error": "ABORTED", "cause": ""}


def test_a_succeeded_execution_names_no_failed_state():
    sfn = _History([_entered("Extract"), _exited("Extract")], {"status": "SUCCEEDED"})

    outcome = ExecutionWatcher(sfn, "arn", "run-x", lambda _: None).wait()

    assert outcome.failed_state is None
    assert "failed_state" not in outcome.to_json()


class _PagedSfn:
    """A long history served in pages of `page` events (a rebuild's), growing by `grow` events a poll; a token is the
    index of its page's first event, and `expire` makes the tokens given out so far invalid once."""

    def __init__(self, page: int, grow: int, polls_until_end: int) -> None:
        self.page, self.grow, self.polls_until_end = page, grow, polls_until_end
        self.events: list[dict[str, Any]] = []
        self.requests: list[str | None] = []
        self.polls = 0
        self.expired: set[str] = set()

    def expire(self) -> None:
        self.expired = {f"t{start}" for start in range(0, len(self.events), self.page)}

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        token = kwargs.get("nextToken")
        self.requests.append(token)
        if token in self.expired:
            self.expired.discard(token)
            raise ClientError({"Error": {"Code": "InvalidToken", "Message": "expired"}}, "GetExecutionHistory")
        start = int(token[1:]) if token else 0
        if start == 0:  # a new read: the execution moved on since the last one
            self.polls += 1
            for _ in range(self.grow):
                self.events.append({"type": "PassStateEntered", "timestamp": T0,
                                    "stateEnteredEventDetails": {"name": f"S{len(self.events)}"}})
        end = start + self.page
        return {"events": self.events[start:end], **({"nextToken": f"t{end}"} if end < len(self.events) else {})}

    def describe_execution(self, **_: Any) -> dict[str, Any]:
        return {"status": "SUCCEEDED" if self.polls >= self.polls_until_end else "RUNNING"}


def test_a_long_history_is_read_from_its_last_full_page_on_and_every_event_reported_once(monkeypatch):
    monkeypatch.setattr(executions.time, "sleep", lambda _: None)
    sfn = _PagedSfn(page=3, grow=4, polls_until_end=3)
    seen: list[str] = []

    watcher = ExecutionWatcher(sfn, "arn", "rebuild-x", seen.append)
    watcher._read_history()  # 4 events: pages [0-2] [3]
    sfn.grow = 0
    watcher._read_history()  # nothing new: only the last page again, from its token
    assert sfn.requests == [None, "t3", "t3"]

    sfn.expire()  # a day later the tokens are no good: read once from the start
    sfn.grow = 4
    sfn.requests.clear()
    watcher._read_history()
    assert sfn.requests == ["t3", None, "t3", "t6"]
    assert seen == [f"  {'S' + str(index):<14} started" for index in range(8)]  # each event once, in order
