"""dim_date as a continuous calendar: every day from the earliest date any fact refers to through the latest.

Transform emits the days the run's facts refer to; after dim_date's upsert, in the run's transaction, the
load adds the days between the calendar's first and last day that it lacks (`fill_calendar`). So after any
committed load dim_date is exactly every day from the earliest to the latest date of every run loaded so far:
a function of the set of loaded runs, not of their order or of how they were split into runs, which is why
an incremental warehouse still equals a rebuild, however disjoint the runs' date ranges (2022-11..2023-01 and
then only 2023-06: the days between are added) and when an old run brings an older date (the calendar grows
backwards). A retried or repeated run is skipped by the run ledger before reaching here; and filling twice
adds nothing.

Why the load and not the transform: only the warehouse knows what is loaded. The transform would have to
keep the calendar's range in its state, which it must be able to rebuild from the ingestion bucket and which
runs ahead of the warehouse (a run transformed is not yet loaded; an old run can be loaded after newer ones),
so it could not know which days the warehouse holds. Here the calendar is read under the load's lock, in
the transaction that writes it.

The days are found in SQL (generate_series between min and max, minus the days present: an index-only scan
of a few thousand rows, nothing rewritten), and their attributes come from the one definition the transform
uses too (`lambdas.shared.calendar.calendar_days`), so a filled day equals the day a transform would emit.
Filling on every load, not only when the run adds dates, also fills a warehouse loaded before the calendar
was continuous on its first load after the upgrade.
"""

from __future__ import annotations

from datetime import date

import pg8000.native
import pyarrow as pa
from pg8000.native import identifier

from lambdas.load.staging import binary_copy
from lambdas.shared.calendar import calendar_days
from lambdas.shared.identifiers import qualified
from lambdas.shared.star_schema import DIM_DATE


def missing_days(conn: pg8000.native.Connection, schema: str) -> list[date]:
    """The days between dim_date's first and last that it lacks, in order (none for an empty calendar)."""
    target = qualified(schema, DIM_DATE.name)
    key = identifier(DIM_DATE.key[0])
    return [row[0] for row in conn.run(f"""
        SELECT CAST(series.at AS date)
          FROM generate_series((SELECT CAST(min({key}) AS timestamp) FROM {target}),
                               (SELECT CAST(max({key}) AS timestamp) FROM {target}), interval '1 day') AS series (at)
         WHERE NOT EXISTS (SELECT 1 FROM {target} d WHERE d.{key} = CAST(series.at AS date))
         ORDER BY 1""")]


def fill_calendar(conn: pg8000.native.Connection, schema: str) -> int:
    """Insert the days dim_date lacks between its first and last day; returns how many.

    Runs inside the load's transaction and lock: no one else writes dim_date meanwhile, so the days found
    missing are still missing when copied in.
    """
    days = missing_days(conn, schema)
    if not days:
        return 0
    rows = calendar_days(pa.array(days, pa.date32()))
    columns = ", ".join(identifier(c) for c in DIM_DATE.columns)
    conn.run(f"COPY {qualified(schema, DIM_DATE.name)} ({columns}) FROM STDIN WITH (FORMAT binary)",
             stream=binary_copy(rows.schema, rows.to_batches()))
    return int(conn.row_count)
