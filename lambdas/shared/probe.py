"""The smoke check's probe: a read-only question a person sends a deployed function directly (`python -m ops
smoke`), answered from inside AWS, where the databases are reachable and the function holds their secret.

The Extract function answers `{"probe": "source"}` (what its login may do in Totesys) and the Load function
`{"probe": "warehouse"}` (whether each analyst view answers, and what its login may do). Nothing else changes:
the probe reads no bucket, writes nothing, and runs its SQL in a READ ONLY transaction that it rolls back.

The state machine can never send it by accident: Extract's input is built by the state machine itself
(`{"run_id": <execution name>}`, whatever the execution's input), and Load's is Transform's return value. An
event naming a probe must be exactly `{"probe": "<kind>"}`: a stage's input with a `probe` key in it is
refused, not taken for either.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Final, Literal

import pg8000.native
from pydantic import BaseModel, ConfigDict

PROBE_KEY: Final = "probe"
SOURCE: Final = "source"
WAREHOUSE: Final = "warehouse"
# Bounds every probe query: a probe must answer, not hold the database.
STATEMENT_TIMEOUT: Final = "60s"


class ProbeEvent(BaseModel):
    """`{"probe": "source"}` or `{"probe": "warehouse"}`, and nothing else (a run id included)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    probe: Literal["source", "warehouse"]


@contextlib.contextmanager
def read_only(conn: pg8000.native.Connection) -> Iterator[None]:
    """The probe's one transaction: READ ONLY, each statement bounded by STATEMENT_TIMEOUT, always rolled back; the
    connection is closed after it (errors of the rollback and the close are not the probe's answer)."""
    try:
        conn.run("BEGIN READ ONLY")
        try:
            conn.run(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'")
            yield
        finally:
            with contextlib.suppress(Exception):
                conn.run("ROLLBACK")
    finally:
        with contextlib.suppress(Exception):
            conn.close()


def asks_probe(event: dict[str, Any], kind: str) -> bool:
    """Whether `event` asks this function for its probe `kind`. False for any event without a `probe` key (a
    stage's input); a `probe` key in anything but `{"probe": kind}` is a ValidationError or a ValueError, so a
    malformed event fails loudly instead of passing for a stage's input or a probe."""
    if PROBE_KEY not in event:
        return False
    request = ProbeEvent.model_validate(event)
    if request.probe != kind:
        raise ValueError(f"this function answers the {kind} probe, not the {request.probe} one")
    return True
