"""Database credentials from Secrets Manager, cached by Powertools Parameters between invocations, completed by the
function's settings where the secret does not say (the secret RDS manages holds only the login)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final, Literal

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import TransformParameterError

from lambdas.shared.constants import Env
from lambdas.shared.database import DEFAULT_SSL_MODE, DatabaseCredentials, DatabaseSettings
from lambdas.shared.errors import DatabaseTlsError, DatabaseUnavailable, InvalidSecret

CACHE_SECONDS = 300
# Secrets whose credentials last failed to connect, or were refused: read afresh next time, not from the cache. After
# a rotation a warm function would otherwise retry with the old password (or host) for CACHE_SECONDS; after a fix to
# a bad secret (a missing field, a wrong sslmode) the next run would still fail with the cached copy.
_stale: set[str] = set()

Role = Literal["source", "warehouse"]
# The variables of each database's settings (stacks/pipeline.py sets them from sourceHost, warehouseHost, ...).
_VARIABLES: Final[dict[Role, tuple[str, str, str, str]]] = {
    "source": (Env.SOURCE_HOST, Env.SOURCE_PORT, Env.SOURCE_DATABASE, Env.SOURCE_SSL_MODE),
    "warehouse": (Env.WAREHOUSE_HOST, Env.WAREHOUSE_PORT, Env.WAREHOUSE_DATABASE, Env.WAREHOUSE_SSL_MODE),
}


def database_settings(role: Role, environ: Mapping[str, str] | None = None) -> DatabaseSettings:
    """The settings of the `role` database in a function's environment (unset variables: no setting)."""
    environ = os.environ if environ is None else environ
    host, port, dbname, sslmode = (environ.get(name) or None for name in _VARIABLES[role])
    if port is not None and not port.isdigit():
        raise ValueError(f"{_VARIABLES[role][1]} is not a port number")
    return DatabaseSettings(role=role, host=host, port=int(port) if port else None, dbname=dbname,
                            sslmode=sslmode or DEFAULT_SSL_MODE, sslrootcert=environ.get(Env.SSL_ROOT_CERT) or None)


def credentials_from_secret(secret_name: str, settings: DatabaseSettings | None = None) -> DatabaseCredentials:
    """Read the secret (`username`, `password`, and `host`, `port`, `dbname`, `sslmode`, `sslrootcert` where it has
    them; `settings` give the rest). A bad secret is InvalidSecret naming it and its fields; no value is ever shown."""
    fresh = secret_name in _stale
    _stale.discard(secret_name)
    try:
        secret: Any = parameters.get_secret(secret_name, transform="json", max_age=CACHE_SECONDS, force_fetch=fresh)
    except TransformParameterError:
        _stale.add(secret_name)
        raise InvalidSecret(f"secret {secret_name} is not JSON (expected an object with username, password, ...)") \
            from None
    try:
        if not isinstance(secret, dict):
            raise ValueError("is not a JSON object")
        return DatabaseCredentials.from_secret(secret, settings)
    except ValueError as exc:  # the message names fields only, and nothing is chained: no value can show
        _stale.add(secret_name)
        raise InvalidSecret(f"secret {secret_name}: {exc}") from None


@contextmanager
def secret_credentials(secret_name: str, settings: DatabaseSettings | None = None) -> Iterator[DatabaseCredentials]:
    """The secret's credentials for the block. If the block cannot reach the database with them
    (`DatabaseUnavailable`: the state machine retries it), or the connection cannot be protected as they say
    (`DatabaseTlsError`: a configuration problem, failed at once), the cached secret is forgotten, so the next
    attempt reads it afresh: it may have been rotated or fixed. Any other error leaves the cache alone."""
    credentials = credentials_from_secret(secret_name, settings)
    try:
        yield credentials
    except (DatabaseUnavailable, DatabaseTlsError):
        _stale.add(secret_name)
        raise
