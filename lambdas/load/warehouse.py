"""Telling PostgreSQL's errors apart (bad data vs. an unreachable server) and naming them for the alert."""

from __future__ import annotations

import contextlib
import re

import pg8000.native

from lambdas.shared.errors import InvalidData, WarehouseUnavailable
from lambdas.shared.sqlstates import error_fields, error_reason, sqlstate

_KEY_DETAIL = re.compile(r"Key \((?P<columns>.+?)\)=\((?P<values>.*)\) (?P<reason>.+?)\.?$", re.DOTALL)
_COPY_LINE = re.compile(r"\bline (\d+)\b")


def unavailable(exc: BaseException, where: str) -> WarehouseUnavailable:
    """A retryable error naming what failed; only the server's message, never credentials."""
    return WarehouseUnavailable(f"warehouse unavailable ({where}): {error_reason(exc)}")


def copy_line(exc: BaseException) -> int | None:
    """The 1-based line of a failed COPY, from the error's context (`COPY stg, line 3, column x: ...`)."""
    match = _COPY_LINE.search(error_fields(exc).get("W", ""))
    return int(match.group(1)) if match else None


def detail_key(exc: BaseException) -> tuple[str, str] | None:
    """From `Key (a, b)=(1, 2) is not present in table "t".`: ("a=1, b=2", 'is not present in table "t"')."""
    match = _KEY_DETAIL.match(error_fields(exc).get("D", ""))
    if not match:
        return None
    columns = [c.strip() for c in match.group("columns").split(",")]
    values = [v.strip() for v in match.group("values").split(",")]
    if len(columns) == len(values):
        key = ", ".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))
    else:  # a value held a comma: keep PostgreSQL's own rendering
        key = f"({match.group('columns')})=({match.group('values')})"
    return key, match.group("reason")


def invalid_data(exc: BaseException, table: str, key: object = None) -> InvalidData:
    """Bad data refused by PostgreSQL, as InvalidData naming the table, the key and the reason."""
    fields = error_fields(exc)
    reason = fields.get("M", str(exc))
    parsed = detail_key(exc)
    if parsed:
        detail_key_text, detail_reason = parsed
        if key is None:
            key, reason = detail_key_text, detail_reason
        else:
            reason = f"{detail_key_text} {detail_reason}"
    elif fields.get("D"):
        reason = f"{reason} ({fields['D']})"
    return InvalidData(table, key if key is not None else "?", reason)


def is_data_error(exc: BaseException) -> bool:
    """Data exceptions (22), integrity violations (23) and cardinality violations (21) are the data's fault."""
    return sqlstate(exc).startswith(("21", "22", "23"))


def rollback_quietly(conn: pg8000.native.Connection) -> None:
    """Roll back if the connection still works; if it does not, the server has rolled back already."""
    with contextlib.suppress(Exception):
        conn.run("ROLLBACK")
