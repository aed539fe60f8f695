"""What the steps of a rebuild hand each other: the cursor through the plan, and the time budget of one step.

A rebuild recomputes the warehouse from every committed run in the lake (docs/operations.md, "Rebuild"). Its plan,
the committed runs in extraction order, is a document in the processed bucket (`RebuildPlan`); the state machine
carries only the cursor, `RebuildCursor`: how many runs of the plan are transformed and loaded. Each step moves it
on by at most `step_runs` runs and stops early when its invocation's time runs short, so every step is bounded,
and a step that fails is done again from the cursor it was given (every run it redoes is skipped: the transform
finds its manifest, the load its ledger row).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from lambdas.shared.errors import InvalidData
from lambdas.shared.handler_models import RUN_ID_PATTERN
from lambdas.shared.manifests import RebuildPlan

# Runs per step unless the rebuild's input says otherwise: 35,000 runs (a year at 15 minutes) take 175 loops of
# about 12 history events each, far inside an execution's 25,000.
DEFAULT_STEP_RUNS: Final = 200
MAX_STEP_RUNS: Final = 10_000
# Step Functions' limit on one execution's history, and what one loop of the rebuild writes to it (the transform
# and load tasks' 5 events each, the choice's 2) and what the states around the loop write.
HISTORY_EVENT_LIMIT: Final = 25_000
EVENTS_PER_LOOP: Final = 12
EVENTS_OUTSIDE_LOOP: Final = 40
# A step stops starting runs when less than this, or twice its slowest run so far, is left of its invocation; and it
# leaves this share of the invocation unused, so that a rebuild's steps stay clear of the functions' NearTimeout alarms
# (80% of the timeout): only a single run that slow sets them off, as it would in a scheduled run.
STEP_MARGIN_SECONDS: Final = 30.0
STEP_RESERVE_SHARE: Final = 0.3


# Scratch: a rebuild's files expire after rebuildScratchDays (stacks/data_lake.py).
REBUILDS_PREFIX: Final = "rebuilds/"


def rebuild_prefix(rebuild_id: str) -> str:
    """Where a rebuild keeps its plan, transform state, Parquet and manifests in the processed bucket."""
    return f"{REBUILDS_PREFIX}{rebuild_id}/"


def plan_key(rebuild_id: str) -> str:
    return f"{rebuild_prefix(rebuild_id)}plan.json"


class RebuildRequest(BaseModel):
    """What the pipeline execution that started the rebuild was given (`{"mode": "rebuild"}`): its options."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    step_runs: int = Field(default=DEFAULT_STEP_RUNS, ge=1, le=MAX_STEP_RUNS)


class RebuildCursor(BaseModel):
    """A rebuild's state between its steps: the state machine's payload from Plan to SwapIn."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    rebuild_id: str = Field(pattern=RUN_ID_PATTERN)
    planned_at: str  # when the plan was made (ISO, UTC): a run loaded into the live warehouse after it is missing
    runs: int = Field(ge=1)
    transformed: int = Field(ge=0)
    loaded: int = Field(ge=0)
    step_runs: int = Field(ge=1, le=MAX_STEP_RUNS)

    @property
    def prefix(self) -> str:
        return rebuild_prefix(self.rebuild_id)

    @property
    def plan_key(self) -> str:
        return plan_key(self.rebuild_id)

    def payload(self) -> dict[str, object]:
        """The cursor as the next state's input, with where its plan is and the progress a person reads in the
        console (both derived: a next step reads neither)."""
        return {**self.model_dump(), "plan_key": self.plan_key, "progress": progress_text(self)}


def progress_text(cursor: RebuildCursor) -> str:
    return (f"transformed {cursor.transformed:,} and loaded {cursor.loaded:,} of {cursor.runs:,} runs "
            f"({100 * cursor.loaded // cursor.runs}%)")


def history_events(runs: int, step_runs: int) -> int:
    """About how many history events a rebuild of `runs` runs in steps of `step_runs` writes (no step cut short)."""
    return EVENTS_OUTSIDE_LOOP + EVENTS_PER_LOOP * -(-runs // step_runs)


class StepBudget:
    """When a step should stop starting runs: at `step_runs` runs, or when the invocation's remaining time (from
    Lambda's context) no longer covers twice its slowest run so far on top of a reserve: STEP_RESERVE_SHARE of the time
    it had at the start, and at least STEP_MARGIN_SECONDS. A step always does one run."""

    def __init__(self, remaining_ms: Callable[[], int], step_runs: int, clock: Callable[[], float] = time.monotonic):
        self._remaining_ms, self._step_runs, self._clock = remaining_ms, step_runs, clock
        self.done = 0
        self._slowest = 0.0
        self._started = clock()
        self._reserve = max(STEP_MARGIN_SECONDS, STEP_RESERVE_SHARE * remaining_ms() / 1000)

    def run_finished(self) -> None:
        now = self._clock()
        self._slowest = max(self._slowest, now - self._started)
        self._started = now
        self.done += 1

    def allows_another(self) -> bool:
        if self.done == 0:
            return True
        if self.done >= self._step_runs:
            return False
        left = self._remaining_ms() / 1000
        return left > self._reserve + 2 * self._slowest


def read_plan(s3: Any, bucket: str, cursor: RebuildCursor) -> RebuildPlan:
    """The plan the cursor moves through, which must be its rebuild's and hold as many runs as it counts."""
    try:
        body = s3.get_object(Bucket=bucket, Key=cursor.plan_key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise InvalidData(RebuildPlan.KIND, cursor.plan_key, "does not exist") from None
    plan = RebuildPlan.from_json(body, cursor.plan_key)
    if plan.rebuild_id != cursor.rebuild_id or len(plan.runs) != cursor.runs:
        raise InvalidData(RebuildPlan.KIND, cursor.plan_key,
                          f"is not rebuild {cursor.rebuild_id}'s plan of {cursor.runs} runs")
    return plan
