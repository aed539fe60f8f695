"""Naming the warehouse schema safely, and telling PostgreSQL's errors apart (bad data vs. an unreachable server)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from datetime import time
from typing import Final

import pg8000.native

from lambdas.shared.errors import InvalidData, WarehouseUnavailable

SCHEMA_PATTERN: Final = r"^[a-z_][a-z0-9_]{0,62}$"
DEFAULT_SCHEMA: Final = "public"

# SQLSTATEs after which the same load, retried later, can succeed: connection exceptions (08), insufficient
# resources (53), operator intervention such as admin shutdown (57P0x), statement timeout or cancel (57014),
# lock not available (55P03), serialization failure and deadlock (40001, 40P01).
_TRANSIENT_PREFIXES: Final = ("08", "53", "57P", "57014", "55P03", "40001", "40P01")
_KEY_DETAIL = re.compile(r"Key \((?P<columns>.+?)\)=\((?P<values>.*)\) (?P<reason>.+?)\.?$", re.DOTALL)
_COPY_LINE = re.compile(r"\bline (\d+)\b")


def quote_ident(name: str) -> str:
    """Quote an identifier; only ever called with names of our own (star schema, validated schema)."""
    return '"' + name.replace('"', '""') + '"'


def schema_ident(schema: str) -> str:
    """The schema name validated and quoted: a config value never reaches SQL unchecked."""
    if not re.fullmatch(SCHEMA_PATTERN, schema):
        raise ValueError(f"warehouse schema {schema!r} must match {SCHEMA_PATTERN}")
    return quote_ident(schema)


def qualified(schema: str, table: str) -> str:
    return f"{schema_ident(schema)}.{quote_ident(table)}"


def key_text(columns: Iterable[str], values: Iterable[object]) -> str:
    """`a=1, b=2022-11-03, c=14:20:52.186`: a row's key as errors name it (times with milliseconds)."""
    def show(value: object) -> str:
        return value.isoformat("milliseconds") if isinstance(value, time) else str(value)

    return ", ".join(f"{column}={show(value)}" for column, value in zip(columns, values, strict=True))


def error_fields(exc: BaseException) -> dict[str, str]:
    """PostgreSQL's error fields (C code, M message, D detail, W where, ...) of a pg8000 error, or {}."""
    if isinstance(exc, pg8000.native.DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return {str(k): str(v) for k, v in exc.args[0].items()}
    return {}


def sqlstate(exc: BaseException) -> str:
    return error_fields(exc).get("C", "")


def is_unavailable(exc: BaseException) -> bool:
    """True for failures of the server or the network rather than of the data."""
    if isinstance(exc, pg8000.native.DatabaseError):
        return sqlstate(exc).startswith(_TRANSIENT_PREFIXES)
    return isinstance(exc, (pg8000.native.InterfaceError, OSError))


def unavailable(exc: BaseException, where: str) -> WarehouseUnavailable:
    """A retryable error naming what failed; only the server's message, never credentials."""
    fields = error_fields(exc)
    reason = f"{fields['C']} {fields.get('M', '')}".strip() if fields else (str(exc) or type(exc).__name__)
    return WarehouseUnavailable(f"warehouse unavailable ({where}): {reason}")


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
