"""A rebuild runs alone: no pipeline run, replay or other rebuild may be going when it starts.

The other side of the rule is in the pipeline's state machine: a scheduled run that finds a rebuild running skips,
and a replay fails as busy (stacks/workflow.py, RebuildRunning). Each side is visible as a running execution
before it looks for the other, so two that start together see each other (and both give way) rather than neither.
ListExecutions is eventually consistent, so the swap checks once more, in the warehouse, under the load lock: a run
loaded into the live warehouse after the plan was made refuses the swap (lambdas/load/rebuild_steps.py).
"""

from __future__ import annotations

from typing import Any

from lambdas.shared.errors import Busy


def running_executions(sfn: Any, state_machine_arn: str) -> list[str]:
    names: list[str] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn,
                                                              statusFilter="RUNNING"):
        names.extend(str(execution["name"]) for execution in page["executions"])
    return names


def check_alone(sfn: Any, *, pipeline_arn: str, rebuild_arn: str, rebuild_id: str) -> None:
    """Busy, naming them, if any execution but this rebuild's own (and the pipeline execution that started it,
    which has its name) is running."""
    others = [f"run {name}" for name in sorted(running_executions(sfn, pipeline_arn)) if name != rebuild_id]
    others += [f"rebuild {name}" for name in sorted(running_executions(sfn, rebuild_arn)) if name != rebuild_id]
    if others:
        raise Busy(f"cannot rebuild while {', '.join(others)} {'is' if len(others) == 1 else 'are'} going: start the "
                   "rebuild again once it has ended (or stop it)")
