"""The window `(low, high]` on `last_updated` a run extracts, and why `high` is where it is.

`low` is the table's watermark: the previous run's `high` (None on the first run: everything).

`high` must never pass a row that is not yet visible to us. Totesys stamps `last_updated` when its
transaction writes the row (with the transaction's start time, `now()`), but the row only becomes
visible when that transaction commits. A row stamped before our `high` whose transaction commits
after our snapshot is invisible to this run, and the next run starts above it: it would fall
behind the watermark and be lost forever. So `high` stays strictly below

- the start of every transaction still in flight in the source database (`pg_stat_activity`,
  where the database lets us see it: the extract role needs `pg_read_all_stats` to see the
  sessions of other roles), because such a transaction may stamp rows with its start time; and
- the database's `now()`, because a transaction starting later stamps a later time;

minus a configurable safety lag, for writers that stamp rows with their own (possibly slow) clock.

The in-flight transactions are read in a statement of their own *before* the snapshot is taken:
read inside the snapshot's first statement, a transaction committing between the snapshot and the
read of `pg_stat_activity` would be neither visible nor seen in flight. Read before, a transaction
missing from `pg_stat_activity` either committed before the read (so before our snapshot: visible)
or started after that statement's `now()` (so stamps a time above `high`).

Stamps are `timestamp(3)`: a transaction starting at .0004 ms may stamp .000, half a millisecond
*before* its start. `high` is therefore floored to the millisecond one millisecond below the bound.
"""

from __future__ import annotations

from dataclasses import dataclass

import pg8000.native

# Timestamps travel as text in the contract's format; PostgreSQL renders and parses them exactly.
TIMESTAMP_FORMAT = 'YYYY-MM-DD"T"HH24:MI:SS.MS'

_HORIZON_SQL = f"""
    WITH in_flight AS (
        SELECT min(xact_start) FILTER (WHERE backend_type = 'client backend') AS oldest_start,
               -- without pg_read_all_stats, other roles' sessions show neither their type nor xact_start
               count(*) FILTER (WHERE backend_type IS NULL) AS hidden_sessions
          FROM pg_stat_activity
         WHERE datname = current_database()
           AND pid <> pg_backend_pid()
    )
    SELECT to_char(date_trunc('milliseconds',
                              (least(now(), oldest_start) AT TIME ZONE 'UTC')
                              - make_interval(secs => CAST(:lag AS double precision))
                              - interval '1 millisecond'), '{TIMESTAMP_FORMAT}'),
           to_char(now() AT TIME ZONE 'UTC', '{TIMESTAMP_FORMAT}'),
           to_char(oldest_start AT TIME ZONE 'UTC', '{TIMESTAMP_FORMAT}'),
           hidden_sessions
      FROM in_flight
"""


@dataclass(frozen=True)
class Horizon:
    """How far a run may read: `high`, and what bounded it (UTC, the contract's timestamp format)."""

    high: str
    source_now: str
    oldest_in_flight: str | None
    hidden_sessions: int  # sessions whose transactions we may not see: the extract role lacks pg_read_all_stats


@dataclass(frozen=True)
class Window:
    """`(low, high]` on `last_updated`; `low` None means from the beginning."""

    low: str | None
    high: str

    @classmethod
    def between(cls, low: str | None, high: str) -> Window:
        """The window from `low` to `high`, never ending below its start (the watermark never moves back)."""
        return cls(low, high if low is None or high >= low else low)

    @property
    def is_empty(self) -> bool:
        return self.low == self.high


def read_horizon(conn: pg8000.native.Connection, safety_lag_seconds: float) -> Horizon:
    """The `high` for a run, read in autocommit mode *before* the snapshot transaction begins."""
    if safety_lag_seconds < 0:
        raise ValueError(f"safety lag must be 0 seconds or more, not {safety_lag_seconds}")
    ((high, source_now, oldest, hidden),) = conn.run(_HORIZON_SQL, lag=safety_lag_seconds)
    return Horizon(high=str(high), source_now=str(source_now), oldest_in_flight=oldest, hidden_sessions=int(hidden))
