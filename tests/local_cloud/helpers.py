"""Helpers for end-to-end tests: warehouse snapshots, faults injected into one function's environment."""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from analytics.reconcile import reconcile
from analytics.snapshot import star_contents
from lambdas.shared.database import DatabaseCredentials
from local.cloud import LocalCloud
from local.postgres import free_port
from tests.fixtures.local_cloud import function_environments


def warehouse_contents(cloud: LocalCloud) -> dict[str, list[Any]]:
    """Every row of every star table (surrogate ids left out) and the run ledger's run ids."""
    assert cloud.state is not None
    return star_contents(DatabaseCredentials.from_url(cloud.state.warehouse_url), cloud.state.warehouse_schema,
                         ledger=True)


def reconciled(cloud: LocalCloud) -> list[str]:
    """What the reconciliation of the cloud's warehouse with its source finds amiss (none: they agree)."""
    assert cloud.state is not None
    result = reconcile(DatabaseCredentials.from_url(cloud.state.source_url),
                       DatabaseCredentials.from_url(cloud.state.warehouse_url), cloud.state.warehouse_schema)
    return [str(mismatch) for mismatch in result.mismatches]


def deployed_function(cloud: LocalCloud, part: str) -> dict[str, Any]:
    """The one deployed function whose name holds `part` (its Lambda configuration)."""
    (function,) = [f for f in cloud.client("lambda").list_functions()["Functions"] if part in f["FunctionName"]]
    return function


@contextmanager
def handler_swapped(cloud: LocalCloud, part: str, handler: str) -> Iterator[dict[str, Any]]:
    """The function named by `part` runs `handler` for the block's duration (its configuration is yielded)."""
    lam = cloud.client("lambda")
    function = deployed_function(cloud, part)
    lam.update_function_configuration(FunctionName=function["FunctionName"], Handler=handler)
    try:
        yield function
    finally:
        lam.update_function_configuration(FunctionName=function["FunctionName"], Handler=function["Handler"])


class SecretOutage:
    """A database outage as a function sees it: its secret (the real one: its role may read no other) points at
    a port nothing listens on, from `begin()` until `end()`, with whatever login the secret held."""

    def __init__(self, manager: Any, name: str) -> None:
        self.manager, self.name = manager, name
        self._saved: str | None = None

    def begin(self) -> dict[str, str]:
        """Take the database away; the environment that makes the invocation a cold start (no cached secret)."""
        if self._saved is None:
            self._saved = str(self.manager.get_secret_value(SecretId=self.name)["SecretString"])
            down = json.loads(self._saved) | {"port": free_port()}
            self.manager.put_secret_value(SecretId=self.name, SecretString=json.dumps(down))
        return {"ONYX_TEST_OUTAGE": self.name}

    def end(self) -> None:
        if self._saved is not None:
            self.manager.put_secret_value(SecretId=self.name, SecretString=self._saved)
            self._saved = None


def outage_first(cloud: LocalCloud, function: str, secret_variable: str,
                 times: int) -> Callable[..., dict[str, str] | None]:
    """An invoker fault: the database named by `function`'s `secret_variable` is down for its first `times`
    invocations (a part of its name), and back before the next one."""
    name = next(env[secret_variable] for fn, env in function_environments(cloud).items() if function in fn)
    outage = SecretOutage(cloud.client("secretsmanager"), name)
    calls = {"n": 0}

    def fault(spec: Any, event: dict[str, Any]) -> dict[str, str] | None:
        if function not in spec.name:
            return None
        if calls["n"] < times:
            calls["n"] += 1
            return outage.begin()
        outage.end()
        return None

    return fault


class RetryClock:
    """Stands in for moto's Retry wait: records each interval instead of sleeping; jitter takes its maximum."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.time = types.SimpleNamespace(sleep=self.waits.append)
        self.random = types.SimpleNamespace(uniform=lambda low, high: high)
