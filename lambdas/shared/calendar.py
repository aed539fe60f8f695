"""A day's calendar attributes, defined once: every dim_date row comes from `calendar_days`, whoever makes it.

Transform makes the rows of the dates a run's facts refer to (`lambdas/transform/dates.py`); load makes the
days between them that keep the calendar continuous (`lambdas/load/calendar.py`). Both call this, so a day
filled in by the load cannot differ from the same day emitted by a transform.

Day of week is ISO 8601 (Monday = 1 ... Sunday = 7); names are English whatever the machine's locale.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from lambdas.shared.star_schema import DIM_DATE

SMALL = pa.int16()


def calendar_days(days: pa.Array) -> pa.Table:
    """The dim_date rows of `days` (date32, no nulls), in the order given, with dim_date's exact schema."""
    return pa.Table.from_arrays([
        days,
        pc.year(days).cast(SMALL),
        pc.month(days).cast(SMALL),
        pc.day(days).cast(SMALL),
        pc.day_of_week(days, count_from_zero=False, week_start=1).cast(SMALL),
        pc.strftime(days, format="%A", locale="C"),
        pc.strftime(days, format="%B", locale="C"),
        pc.quarter(days).cast(SMALL),
    ], schema=DIM_DATE.schema)
