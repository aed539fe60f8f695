"""Following an execution: fast polls while its history grows, backing off while it does not."""

from __future__ import annotations

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
