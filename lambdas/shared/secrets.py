"""Database credentials from Secrets Manager, cached by Powertools Parameters between invocations."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters

from lambdas.shared.database import DatabaseCredentials

CACHE_SECONDS = 300


def credentials_from_secret(secret_name: str) -> DatabaseCredentials:
    """Read the secret `{host, port, username, password, dbname[, sslmode]}`; the value is never logged."""
    secret: Any = parameters.get_secret(secret_name, transform="json", max_age=CACHE_SECONDS)
    if not isinstance(secret, dict):
        raise ValueError(f"secret {secret_name} is not a JSON object")
    return DatabaseCredentials.from_secret(secret)
