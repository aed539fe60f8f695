"""Dates: the text dates of orders and payments parsed strictly, and the dim_date table."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from lambdas.shared.calendar import calendar_days
from lambdas.shared.errors import InvalidData
from lambdas.transform.checks import first_true

DATE_TEXT = "%Y-%m-%d"


def parse_dates(table: str, ids: pa.ChunkedArray, column: str, values: pa.ChunkedArray) -> pa.ChunkedArray:
    """`YYYY-MM-DD` text -> date32; anything else (even 2024-02-30) -> InvalidData naming the row.

    A batch holds few distinct dates: only those are parsed, then spread back over the rows.
    """
    encoded = pc.dictionary_encode(values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values)
    texts = encoded.dictionary
    stamps = pc.strptime(texts, format=DATE_TEXT, unit="s", error_is_null=True)
    days = stamps.cast(pa.date32())
    # strptime rolls 2024-02-30 over to March: only a date that prints back as its text is real.
    real = pc.fill_null(pc.equal(pc.strftime(days, format=DATE_TEXT), texts), False)
    if not pc.all(real, min_count=0).as_py():
        bad = first_true(pc.invert(pc.take(real, encoded.indices)))  # the first row whose text is not real
        assert bad is not None  # noqa: S101 - every dictionary entry comes from some row
        raise InvalidData(table, f"{table}_id={ids[bad].as_py()}",
                          f"{column} {values[bad].as_py()!r} is not a date (YYYY-MM-DD)")
    return pa.chunked_array([pc.take(days, encoded.indices)], pa.date32())


def build_dim_date(dates: pa.Array | pa.ChunkedArray) -> pa.Table:
    """One row per distinct date given (nulls ignored), with its calendar attributes, in date order.

    The rows of the dates this run's facts refer to; the load fills the days between them
    (lambdas/load/calendar.py), with the same attributes (lambdas/shared/calendar.py).
    """
    days = pc.drop_null(pc.unique(dates.cast(pa.date32()))).sort()
    return calendar_days(days)
