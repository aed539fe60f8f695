"""Connecting to Totesys, and telling a source that is down (retry) from anything else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pg8000.native

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import SourceUnavailable

APPLICATION_NAME = "onyx-extract"
# SQLSTATE classes that mean "the server cannot serve us now": connection exception, insufficient
# resources, operator intervention (shutdown, statement timeout), transaction rollback.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57", "40")


def _where(credentials: DatabaseCredentials) -> str:
    return f"{credentials.host}:{credentials.port}/{credentials.dbname}"  # never the password


def _reason(exc: BaseException) -> str:
    if isinstance(exc, pg8000.native.DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return f"{exc.args[0].get('C', '')} {exc.args[0].get('M', '')}".strip()
    return str(exc) or type(exc).__name__


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, pg8000.native.DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return str(exc.args[0].get("C", "")).startswith(_TRANSIENT_SQLSTATE_CLASSES)
    return isinstance(exc, pg8000.native.InterfaceError | OSError)


def connect_source(credentials: DatabaseCredentials, *, timeout: float = 10,
                   io_timeout: float | None = 300) -> pg8000.native.Connection:
    """Connect within `timeout` seconds; any failure to connect is `SourceUnavailable`."""
    try:
        return credentials.connect(timeout=timeout, application_name=APPLICATION_NAME, io_timeout=io_timeout)
    except Exception as exc:  # refused, DNS, TLS, auth, timeout: all mean "not reachable now"
        raise SourceUnavailable(f"cannot connect to Totesys at {_where(credentials)}: {_reason(exc)}") from exc


@contextmanager
def source_errors(credentials: DatabaseCredentials) -> Iterator[None]:
    """Turn a lost connection or a timeout while reading into `SourceUnavailable`; other errors pass."""
    try:
        yield
    except (pg8000.native.DatabaseError, pg8000.native.InterfaceError, OSError) as exc:
        if not _is_transient(exc):
            raise
        raise SourceUnavailable(f"Totesys at {_where(credentials)} failed while reading: {_reason(exc)}") from exc
