"""Which Onyx environment a command works on: the local cloud running here, or a deployed stack.

Both answer the same questions: where the warehouse and the source are (and the warehouse schema), and
which state machine runs the pipeline. Explicit URLs given on the command line override either.
Everything is looked up only when a command asks for it: `report` never reads the source's secret, and
`execute` reads no secret at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lambdas.shared.database import DatabaseCredentials
from local.state import CloudState, state_dir


class TargetError(RuntimeError):
    """The environment could not be found or read; the message says which and what to do."""


class NoLocalCloud(TargetError):
    """No --stack was given and no local cloud is running here."""


class Target(Protocol):
    """One Onyx environment, as the operator's commands see it."""

    @property
    def description(self) -> str: ...

    def warehouse(self) -> DatabaseCredentials: ...

    def source(self) -> DatabaseCredentials: ...

    def warehouse_schema(self) -> str: ...

    def state_machine_arn(self) -> str: ...

    def stepfunctions(self) -> Any: ...

    @property
    def stack_name(self) -> str: ...

    def client(self, service: str, config: Any = None) -> Any:
        """A client of the environment's AWS with the operator's credentials (`config`: a botocore Config)."""


@dataclass(frozen=True)
class LocalCloudTarget:
    """The local cloud running from `.local-cloud/` (or $ONYX_LOCAL_DIR): its state file says it all."""

    state: CloudState
    directory: Path

    @classmethod
    def running(cls, alternatives: str = "") -> LocalCloudTarget:
        directory = state_dir()
        try:
            return cls(CloudState.load(directory), directory)
        except FileNotFoundError:
            raise NoLocalCloud(f"no local cloud is running here: start one with `python -m local up`{alternatives}"
                               ) from None

    @property
    def description(self) -> str:
        return f"local cloud ({self.directory})"

    def warehouse(self) -> DatabaseCredentials:
        return DatabaseCredentials.from_url(self.state.warehouse_url)

    def source(self) -> DatabaseCredentials:
        return DatabaseCredentials.from_url(self.state.source_url)

    def warehouse_schema(self) -> str:
        return self.state.warehouse_schema

    def state_machine_arn(self) -> str:
        return self.state.state_machine_arn

    def stepfunctions(self) -> Any:
        return self.state.client("stepfunctions")

    @property
    def stack_name(self) -> str:
        return self.state.stack_name

    def client(self, service: str, config: Any = None) -> Any:
        return self.state.client(service, config)


def open_target(stack: str | None, *, region: str | None = None, profile: str | None = None,
                alternatives: str = "") -> Target:
    """The deployed stack named `stack`, else the local cloud running here."""
    if stack:
        from ops.stack_target import StackTarget

        return StackTarget.open(stack, region=region, profile=profile)
    return LocalCloudTarget.running(alternatives)


@dataclass
class Selection:
    """A command's target plus the URLs and schema given explicitly, which win over the target's.

    `alternatives` lists what else would have named an environment (`--stack Onyx-<env>`), for the
    message when no local cloud runs; a command adds its own (`--warehouse-url`).
    """

    stack: str | None = None
    region: str | None = None
    profile: str | None = None
    warehouse_url: DatabaseCredentials | None = None
    source_url: DatabaseCredentials | None = None
    schema: str | None = None
    alternatives: list[str] = field(default_factory=list)

    _opened: Target | None = field(default=None, init=False, repr=False)

    def target(self, *also: str) -> Target:
        """The stack, else the running local cloud; the error names `also` among the alternatives."""
        if self._opened is None:
            alternatives = [*self.alternatives, *also]
            hint = ", or give " + " or ".join(alternatives) if alternatives else ""
            self._opened = open_target(self.stack, region=self.region, profile=self.profile, alternatives=hint)
        return self._opened

    def _optional(self) -> Target | None:
        """The target, or None when there is none to find (no --stack and no local cloud)."""
        try:
            return self.target()
        except NoLocalCloud:
            return None

    def warehouse(self, *also: str) -> tuple[DatabaseCredentials, str]:
        """The warehouse and its schema: --warehouse-url and --schema, else the target's."""
        if self.warehouse_url is None:
            target = self.target("--warehouse-url" + "".join(also))
            return target.warehouse(), self.schema or target.warehouse_schema()
        if self.schema:
            return self.warehouse_url, self.schema
        target_or_none = self._optional()
        return self.warehouse_url, target_or_none.warehouse_schema() if target_or_none else "public"

    def source(self) -> DatabaseCredentials | None:
        """--source-url, else the target's source; None when only --warehouse-url named an environment."""
        if self.source_url is not None:
            return self.source_url
        target = self._optional()
        return target.source() if target else None
