"""The rules a star table must keep before anything is written; each failure is an `InvalidData`.

Row keys read `<key column>=<value>` (the source id), so a person can find the row in Totesys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lambdas.shared.errors import InvalidData
from lambdas.shared.star_schema import StarTable
from lambdas.shared.totesys import BOOL, INT, MONEY, TIMESTAMP, Column, Table

INT32 = (-(2**31), 2**31 - 1)
MONEY_TEXT = re.compile(r"-?\d{1,8}(\.\d{1,2})?")
TIMESTAMP_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,3})?")


def row_key(star: StarTable, table: pa.Table, index: int) -> str:
    """`<first key column>=<value>` of row `index`: the natural id a person searches for."""
    column = star.key[0]
    return f"{column}={table[column][index].as_py()}"


def first_true(mask: pa.ChunkedArray | pa.Array) -> int | None:
    """Index of the first true value of a boolean mask (nulls count as false), or None."""
    found = pc.index(pc.fill_null(mask, False), True).as_py()
    return None if found < 0 else int(found)


def check_not_null(star: StarTable, table: pa.Table) -> None:
    """Every column the star schema declares NOT NULL has a value in every row."""
    for field in star.schema:
        if field.nullable or table[field.name].null_count == 0:
            continue
        index = first_true(pc.is_null(table[field.name]))
        assert index is not None  # noqa: S101 - null_count > 0 guarantees a hit
        raise InvalidData(star.name, row_key(star, table, index), f"{field.name} is null")


def check_unique(star: StarTable, table: pa.Table) -> None:
    """No two rows share the table's key (a dimension's id, or a fact's id + last_updated)."""
    key = list(star.key)
    counts = table.select(key).group_by(key, use_threads=False).aggregate([([], "count_all")])
    duplicates = counts.filter(pc.greater(counts["count_all"], 1))
    if duplicates.num_rows:
        first = duplicates.slice(0, 1).to_pylist()[0]
        what = ", ".join(f"{c}={first[c]}" for c in key)
        raise InvalidData(star.name, f"{key[0]}={first[key[0]]}",
                          f"key ({what}) occurs {first['count_all']} times")


class KeySet:
    """A dimension's ids, prepared once for membership tests of many batches.

    `pc.is_in(values, value_set=ids)` hashes all the ids on every call; a run checks ~100 batches against
    up to ~1.4 M transaction ids. Integer ids (serial, so nearly dense) become a bitmap over min..max,
    built once, and each batch is a bounds check plus a `take`. Ids spread too thin for a bitmap keep `is_in`.
    """

    # A bitmap of up to this many bits per id (plus a floor): 1.4 M dense ids cost ~180 KB.
    SPREAD = 64
    FLOOR = 1 << 20

    def __init__(self, ids: pa.Array | pa.ChunkedArray) -> None:
        self.ids = ids
        self._low = 0
        self._high = -1
        self._present: pa.Array | None = None
        values = pc.drop_null(ids)
        if not pa.types.is_integer(values.type) or len(values) == 0:
            return
        bounds = pc.min_max(values)
        low, high = int(bounds["min"].as_py()), int(bounds["max"].as_py())
        if high - low + 1 > max(self.SPREAD * len(values), self.FLOOR):
            return
        # Each id sets its bit (scatter: the inverse of take): an order of magnitude faster than hashing them
        # for an is_in over min..max.
        offsets = pc.subtract(values.cast(pa.int64()), low)
        if isinstance(offsets, pa.ChunkedArray):
            offsets = offsets.combine_chunks()
        present = pc.scatter(pa.repeat(True, len(offsets)), offsets, max_index=high - low)
        self._low, self._high = low, high
        self._present = pc.fill_null(present, False)

    def contains(self, values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """Per value: is it one of the ids (the result for a null value is null or false)."""
        if self._present is None or not pa.types.is_integer(values.type):
            return pc.is_in(values, value_set=self.ids)
        wide = values.cast(pa.int64())
        inside = pc.and_(pc.greater_equal(wide, self._low), pc.less_equal(wide, self._high))
        offsets = pc.if_else(inside, pc.subtract(wide, self._low), 0)
        return pc.and_(inside, pc.take(self._present, offsets))


def check_references(star: StarTable, table: pa.Table, known: Mapping[str, pa.Array | KeySet]) -> None:
    """Every reference of a fact is a key of its dimension, for the dimensions given in `known`.

    Pass `KeySet`s when checking many batches against the same dimensions: they are prepared once.
    """
    for column, dimension in star.references:
        if dimension not in known:
            continue
        ids = known[dimension]
        found = ids.contains(table[column]) if isinstance(ids, KeySet) else pc.is_in(table[column], value_set=ids)
        missing = pc.invert(found)
        index = first_true(pc.and_(missing, pc.is_valid(table[column])))
        if index is not None:
            raise InvalidData(star.name, row_key(star, table, index),
                              f"{column} {table[column][index].as_py()} not in {dimension}")


def conform(star: StarTable, table: pa.Table) -> pa.Table:
    """The star table's columns, in its order and with its exact types (a lossy or impossible cast fails)."""
    check_not_null(star, table)
    arrays = []
    for field in star.schema:
        try:
            arrays.append(table[field.name].cast(field.type, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InvalidData(star.name, field.name, f"cannot be {field.type}: {exc}") from exc
    return pa.Table.from_arrays(arrays, schema=star.schema)


def check_table(star: StarTable, table: pa.Table,
                known: Mapping[str, pa.Array | KeySet] | None = None) -> None:
    """All the rules: types (the exact schema), not-null, unique key, references."""
    if table.schema != star.schema:
        raise InvalidData(star.name, "schema", f"columns/types differ from the star schema: {table.schema}")
    check_not_null(star, table)
    check_unique(star, table)
    check_references(star, table, known or {})


def unknown_value_rule(column: Column, value: object) -> str:
    """The rule an enum column's value breaks when Onyx does not know it."""
    return f"{column.name} {json.dumps(value)} is not one of {', '.join(column.known_values or ())}"


def check_known_values(source: Table, rows: pa.RecordBatch | pa.Table) -> None:
    """Every value of the source's enum columns is one Onyx knows (`ENUMS`), else InvalidData naming the row.

    The source may declare these columns as any enum type, with labels Onyx does not know, or as text (the
    schema check compares kinds, not type names): only the values say whether a row can be read.
    """
    for column in source.columns:
        known = column.known_values
        if known is None:
            continue
        values = rows.column(column.name)
        unknown = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, value_set=pa.array(known, pa.string()))))
        index = first_true(unknown)
        if index is not None:
            raise InvalidData(source.name, f"{source.key}={rows.column(source.key)[index].as_py()}",
                              unknown_value_rule(column, values[index].as_py()))


def explain_bad_line(source: Table, line: str) -> str | None:
    """Why one JSON Lines row breaks the contract (None if it keeps it): found after the fast reader refused."""
    try:
        row: Any = json.loads(line)
    except json.JSONDecodeError as exc:
        return f"not valid JSON: {exc.msg}"
    if not isinstance(row, dict):
        return "not a JSON object"
    unexpected = sorted(set(row) - set(source.column_names))
    if unexpected:
        return f"unexpected column(s) {', '.join(unexpected)}"
    return next((reason for column in source.columns if (reason := _value_problem(column, row.get(column.name)))),
                None)


def _value_problem(column: Column, value: object) -> str | None:
    """Why one value breaks its column's rule (None if it keeps it)."""
    if value is None:
        return None if column.nullable else f"{column.name} is null"
    if column.known_values is not None:
        return None if value in column.known_values else unknown_value_rule(column, value)
    return None if _fits(column.kind, value) else f"{column.name} {json.dumps(value)} is not a valid {column.kind}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and INT32[0] <= value <= INT32[1]


def _is_money(value: object) -> bool:
    return isinstance(value, str) and MONEY_TEXT.fullmatch(value) is not None


def _is_timestamp(value: object) -> bool:
    if not isinstance(value, str) or TIMESTAMP_TEXT.fullmatch(value) is None:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_VALID: dict[str, Callable[[object], bool]] = {
    INT: _is_int, MONEY: _is_money, TIMESTAMP: _is_timestamp, BOOL: lambda value: isinstance(value, bool),
}


def _is_text(value: object) -> bool:
    return isinstance(value, str)


def _fits(kind: str, value: object) -> bool:
    return _VALID.get(kind, _is_text)(value)  # TEXT: strings


def row_id(source: Table, line: str) -> str:
    """`<table>_id=<value>` of a raw line, or a placeholder when the line cannot say."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return f"{source.key}=?"
    return f"{source.key}={row.get(source.key, '?')}" if isinstance(row, dict) else f"{source.key}=?"
