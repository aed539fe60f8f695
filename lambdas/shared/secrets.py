"""Database credentials from Secrets Manager, cached by Powertools Parameters between invocations."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools.utilities import parameters

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import DatabaseUnavailable

CACHE_SECONDS = 300
# Secrets whose credentials last failed to connect: read afresh next time, not from the cache. After a
# rotation a warm function would otherwise retry with the old password (or host) for CACHE_SECONDS.
_stale: set[str] = set()


def credentials_from_secret(secret_name: str) -> DatabaseCredentials:
    """Read the secret `{host, port, username, password, dbname[, sslmode]}`; the value is never logged."""
    fresh = secret_name in _stale
    _stale.discard(secret_name)
    secret: Any = parameters.get_secret(secret_name, transform="json", max_age=CACHE_SECONDS, force_fetch=fresh)
    if not isinstance(secret, dict):
        raise ValueError(f"secret {secret_name} is not a JSON object")
    return DatabaseCredentials.from_secret(secret)


@contextmanager
def secret_credentials(secret_name: str) -> Iterator[DatabaseCredentials]:
    """The secret's credentials for the block. If the block cannot reach the database with them
    (`DatabaseUnavailable`: the state machine retries it), the cached secret is forgotten, so the retry
    reads it afresh: it may have been rotated. Any other error leaves the cache alone."""
    credentials = credentials_from_secret(secret_name)
    try:
        yield credentials
    except DatabaseUnavailable:
        _stale.add(secret_name)
        raise
