"""Connecting to Totesys, and telling a source that is down (retry) from anything else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pg8000.native

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import DatabaseTlsError, SourceUnavailable
from lambdas.shared.sqlstates import error_reason, is_transient

APPLICATION_NAME = "onyx-extract"


def _where(credentials: DatabaseCredentials) -> str:
    return f"{credentials.host}:{credentials.port}/{credentials.dbname}"  # never the password


def connect_source(credentials: DatabaseCredentials, *, timeout: float = 10,
                   io_timeout: float | None = 300) -> pg8000.native.Connection:
    """Connect within `timeout` seconds; any failure to connect is `SourceUnavailable`, but for a connection its
    sslmode cannot have (`DatabaseTlsError`: a configuration problem, not retried)."""
    try:
        return credentials.connect(timeout=timeout, application_name=APPLICATION_NAME, io_timeout=io_timeout)
    except DatabaseTlsError:
        raise
    except Exception as exc:  # refused, DNS, auth, timeout, a TLS handshake cut short: "not reachable now"
        raise SourceUnavailable(f"cannot connect to Totesys at {_where(credentials)}: {error_reason(exc)}") from exc


@contextmanager
def source_errors(credentials: DatabaseCredentials) -> Iterator[None]:
    """Turn a lost connection or a timeout while reading into `SourceUnavailable`; other errors pass."""
    try:
        yield
    except (pg8000.native.DatabaseError, pg8000.native.InterfaceError, OSError) as exc:
        if not is_transient(exc):
            raise
        raise SourceUnavailable(f"Totesys at {_where(credentials)} failed while reading: {error_reason(exc)}") from exc
