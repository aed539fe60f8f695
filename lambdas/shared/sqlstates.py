"""PostgreSQL's error codes, and the one list of those that mean "the database cannot serve us now: retry".

Extract (the source) and load (the warehouse) decide retry-or-fail with the same list.
"""

from __future__ import annotations

from typing import Final

import pg8000.native

# SQLSTATE codes and class prefixes after which the same work, retried later, can succeed: connection
# exceptions (08), insufficient resources (53), operator intervention such as admin shutdown (57P0x),
# statement timeout or cancel (57014), lock not available (55P03), serialization failure and deadlock
# (40001, 40P01).
TRANSIENT_SQLSTATES: Final = ("08", "53", "57P", "57014", "55P03", "40001", "40P01")


def error_fields(exc: BaseException) -> dict[str, str]:
    """PostgreSQL's error fields (C code, M message, D detail, W where, ...) of a pg8000 error, or {}."""
    if isinstance(exc, pg8000.native.DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return {str(k): str(v) for k, v in exc.args[0].items()}
    return {}


def error_reason(exc: BaseException) -> str:
    """What went wrong, for a message: the SQLSTATE and the server's words, or the error's own text (a network error);
    never credentials."""
    fields = error_fields(exc)
    return f"{fields.get('C', '')} {fields.get('M', '')}".strip() if fields else (str(exc) or type(exc).__name__)


def sqlstate(exc: BaseException) -> str:
    return error_fields(exc).get("C", "")


def is_transient(exc: BaseException) -> bool:
    """True for failures of the server or the network (retry later) rather than of the SQL or the data."""
    if isinstance(exc, pg8000.native.DatabaseError):
        return sqlstate(exc).startswith(TRANSIENT_SQLSTATES)
    return isinstance(exc, pg8000.native.InterfaceError | OSError)
