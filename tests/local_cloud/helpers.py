"""Helpers for end-to-end tests: warehouse snapshots, faults injected into one function's environment."""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from typing import Any

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.star_schema import STAR_TABLES
from local.cloud import LocalCloud


def warehouse_contents(cloud: LocalCloud) -> dict[str, list[Any]]:
    """Every row of every star table (surrogate ids left out) and the run ledger's run ids."""
    assert cloud.state is not None
    conn = DatabaseCredentials.from_url(cloud.state.warehouse_url).connect()
    try:
        contents = {}
        for table in STAR_TABLES:
            columns = ", ".join(table.columns)
            contents[table.name] = conn.run(f"SELECT {columns} FROM {table.name} ORDER BY {columns}")
        contents["onyx_run"] = conn.run("SELECT run_id FROM onyx_run ORDER BY run_id")
        return contents
    finally:
        conn.close()


def unreachable_secret(cloud: LocalCloud, name: str, credentials_url: str) -> str:
    """A secret like the real one but pointing at a port nothing listens on."""
    from local.postgres import free_port

    secret = json.dumps(DatabaseCredentials.from_url(credentials_url).to_secret() | {"port": free_port()})
    manager = cloud.client("secretsmanager")
    try:
        manager.create_secret(Name=name, SecretString=secret)
    except manager.exceptions.ResourceExistsException:  # an earlier test on the session's cloud made it
        manager.put_secret_value(SecretId=name, SecretString=secret)
    return name


def fail_first(function: str, times: int, environment: dict[str, str]) -> Callable[..., dict[str, str] | None]:
    """An invoker fault: the first `times` invocations of `function` (a part of its name) get `environment`."""
    calls = {"n": 0}

    def fault(spec: Any, event: dict[str, Any]) -> dict[str, str] | None:
        if function in spec.name and calls["n"] < times:
            calls["n"] += 1
            return environment
        return None

    return fault


class RetryClock:
    """Stands in for moto's Retry wait: records each interval instead of sleeping; jitter takes its maximum."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.time = types.SimpleNamespace(sleep=self.waits.append)
        self.random = types.SimpleNamespace(uniform=lambda low, high: high)
