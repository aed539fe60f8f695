"""Typed failures. Step Functions sees the class name as the error name, so Retry/Catch can tell them apart."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time


class OnyxError(Exception):
    """Base of every failure Onyx raises on purpose."""


class DatabaseUnavailable(OnyxError):
    """A database cannot be reached or timed out: transient, retried, with its secret read afresh."""


class SourceUnavailable(DatabaseUnavailable):
    """Totesys cannot be reached or timed out: transient, retried."""


class WarehouseUnavailable(DatabaseUnavailable):
    """The warehouse cannot be reached or timed out: transient, retried."""


class SourceSchemaChanged(OnyxError):
    """A Totesys table's columns differ from what Onyx knows (or its server is too old to read): a person must
    look, never retried."""


class InvalidData(OnyxError):
    """A row breaks a rule (type, not-null, unique key, foreign key): names table, key and rule."""

    def __init__(self, table: str, key: object, rule: str) -> None:
        self.table, self.key, self.rule = table, key, rule
        super().__init__(f"{table} {key}: {rule}")


def key_text(columns: Iterable[str], values: Iterable[object]) -> str:
    """`a=1, b=2022-11-03, c=14:20:52.186`: a row's key as errors name it (times with milliseconds)."""
    def show(value: object) -> str:
        return value.isoformat("milliseconds") if isinstance(value, time) else str(value)

    return ", ".join(f"{column}={show(value)}" for column, value in zip(columns, values, strict=True))
