"""Before the local cloud starts anything on given databases: can each be reached, and if not, why, in words.

`python -m local up --source-url ... --warehouse-url ...` used to deploy everything and then die in the first run
with pg8000's traceback; now a database it cannot use is named (its URL without the password) with the reason.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Final

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import DatabaseTlsError, TlsRefused
from lambdas.shared.sqlstates import error_fields

CONNECT_SECONDS: Final = 10  # the functions' own connect timeout: a server they would reach passes
# PostgreSQL's refusals, by SQLSTATE, in the words a person acts on.
_REFUSALS: Final = {
    "28P01": "password authentication failed",
    "3D000": "database does not exist",
}


class DatabaseCheckFailed(RuntimeError):
    """A given database cannot be used; the message names it (never its password) and says why."""


def failure_reason(exc: BaseException, credentials: DatabaseCredentials) -> str:
    """Why a connection failed, in a few words (what to do, when it is a setting)."""
    if isinstance(exc, TlsRefused):
        return (f"server does not support TLS with sslmode={credentials.sslmode}: add ?sslmode=disable if the "
                "server has no TLS")
    if isinstance(exc, DatabaseTlsError):
        return exc.reason
    fields = error_fields(exc)
    if fields:
        code = fields.get("C", "")
        return _REFUSALS.get(code) or f"{fields.get('M', 'refused')} (SQLSTATE {code})"
    return _network_reason(exc) or str(exc) or type(exc).__name__


def _network_reason(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:  # pg8000 wraps the socket's error: the first one that says what happened
        if isinstance(seen, socket.gaierror):
            return f"name not resolved ({seen.strerror})"
        if isinstance(seen, ConnectionRefusedError):
            return "connection refused"
        if isinstance(seen, TimeoutError):
            return f"timed out after {CONNECT_SECONDS}s"
        seen = seen.__cause__ or seen.__context__
    return None


def check_databases(databases: Mapping[str, DatabaseCredentials]) -> None:
    """Connect to each (role -> credentials) once; raise DatabaseCheckFailed naming every one that fails."""
    problems = []
    for role, credentials in databases.items():
        try:
            credentials.connect(timeout=CONNECT_SECONDS, application_name="onyx-local-check").close()
        except Exception as exc:  # noqa: BLE001 - every failure is named, with its reason
            problems.append(f"the {role} database {credentials.public_url()}: {failure_reason(exc, credentials)}")
    if problems:
        raise DatabaseCheckFailed("cannot connect to " + "; ".join(problems))
