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
