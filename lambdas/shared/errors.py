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


class DatabaseTlsError(OnyxError):
    """The connection cannot be protected as its sslmode asks (the CA bundle cannot be read, or one of the two
    below): a configuration problem of the server, the secret or the settings, never retried. Retrying cannot
    change a server's TLS setting or certificate, only delay the alert by the retries' minutes; the cached secret
    is forgotten, so a fix to its sslmode is read by the next run."""

    def __init__(self, where: str, reason: str) -> None:
        self.where, self.reason = where, reason
        super().__init__(f"{where}: {reason}")


class TlsRefused(DatabaseTlsError):
    """The server answered the TLS request with no (it has no TLS) where the sslmode requires TLS."""


class CertificateRejected(DatabaseTlsError):
    """The server's certificate failed verification (verify-ca: its chain; verify-full: also its host name)."""


class InvalidSecret(OnyxError):
    """A database secret lacks a field (and no setting gives it) or holds a bad one. Names the secret and the
    fields, never a value; not retried (a person must fix the secret), and the cached copy is forgotten so the
    fixed secret is read by the next run."""


class SourceSchemaChanged(OnyxError):
    """A Totesys table's columns differ from what Onyx knows (or its server is too old to read): a person must
    look, never retried."""


class Busy(OnyxError):
    """An operation that must run alone found another execution going (a rebuild while a run or a replay is going,
    a replay while a rebuild is): names what is running; not retried, start it again once that has ended."""


class RebuildRefused(OnyxError):
    """A rebuild cannot go on (nothing committed to rebuild from, a plan too long for one execution, a warehouse it
    may not swap): names the problem and the fix; not retried. The live warehouse is untouched."""

    def __init__(self, message: str, problems: Iterable[str] = ()) -> None:
        self.problems = tuple(problems)
        super().__init__(message)

    @classmethod
    def of_schema(cls, schema: str, problems: Iterable[str]) -> RebuildRefused:
        """The swap's refusal of `schema` (lambdas/load/rebuild_schema.py), naming each problem and its fix."""
        problems = tuple(problems)
        return cls(f"rebuild of schema {schema} refused: " + "; ".join(problems), problems)


class RebuildIncomplete(RebuildRefused):
    """The rebuilt schema does not hold every run it should: swapping it in would lose data. Never retried."""


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
