"""What every handler validates first: its environment (`<Stage>Environment`) and its event (`<Stage>Event`).

One configuration for all: frozen (a handler never edits its input) and extra keys ignored (the stack sets
Powertools' and Lambda's variables too; a state's input carries the previous state's whole output).
"""

from __future__ import annotations

import os
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field

# Step Functions execution names: no whitespace, slashes or wildcards; they become part of S3 keys.
RUN_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,79}$"


class StageEnvironment(BaseModel):
    """A function's environment, as the stack sets it."""

    # A missing variable must not print the whole environment (credentials of the role included) in the error.
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)

    @classmethod
    def from_environ(cls) -> Self:
        return cls.model_validate(dict(os.environ))


class StageEvent(BaseModel):
    """A state's input: the run id, and what the state needs of the previous state's output."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    run_id: str = Field(pattern=RUN_ID_PATTERN)
