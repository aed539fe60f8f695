"""Tiny handlers for testing the local cloud's machinery itself (not the pipeline)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class SourceUnavailable(Exception):
    """Same name as the pipeline's transient error, so the state machine retries it."""


def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails with SourceUnavailable until it has been called FAILURES times, then echoes its event."""
    counter = Path(os.environ["COUNTER_FILE"])
    calls = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(calls))
    if calls <= int(os.environ.get("FAILURES", "0")):
        raise SourceUnavailable(f"attempt {calls}: source down")
    return {"calls": calls, "event": event, "env_keys": sorted(os.environ)}


def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
    raise ValueError("bad row: sales_order 7 has no price")


_CALLS = {"n": 0}
# Read while the module is imported, as Powertools and boto3 read their settings: the environment's own value.
_STAGE_AT_IMPORT = os.environ.get("STAGE")


def remember(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Counts its calls in module state (which a warm environment keeps) and reports who served it."""
    _CALLS["n"] += 1
    return {"calls": _CALLS["n"], "pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(), "env": dict(os.environ),
            "stage_at_import": _STAGE_AT_IMPORT, "remaining_ms": context.get_remaining_time_in_millis()}


def crash(event: dict[str, Any], context: Any) -> dict[str, Any]:
    os._exit(70)


def sleep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import time

    time.sleep(float(event["seconds"]))
    return {"slept": event["seconds"]}


def allocate(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Holds `mb` megabytes for a moment, then frees them."""
    block = bytearray(int(event["mb"]) * 1024 * 1024)
    block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page, so it is resident
    return {"pid": os.getpid(), "held": len(block)}


def oversized(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Returns a result of exactly `bytes` bytes of JSON (default: one byte more than a state may carry)."""
    size = int(os.environ.get("RESULT_BYTES", str(256 * 1024 + 1)))
    return {"blob": "x" * (size - len('{"blob": ""}'))}


def whoami(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Who AWS sees calling: the function's credentials as STS names them."""
    import boto3

    return {"arn": boto3.client("sts").get_caller_identity()["Arn"],
            "access_key": os.environ["AWS_ACCESS_KEY_ID"]}


def import_module(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Imports the module named in the event (what a handler may import in its environment)."""
    import importlib

    importlib.import_module(event["module"])
    return {"imported": event["module"]}
