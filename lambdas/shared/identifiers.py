"""Names in SQL: identifiers cannot be bind parameters, so they are quoted by pg8000's `identifier`.

Only the schema name comes from configuration; it is also checked against a pattern before it reaches SQL.
"""

from __future__ import annotations

import re
from typing import Final

from pg8000.native import identifier

SCHEMA_PATTERN: Final = r"^[a-z_][a-z0-9_]{0,62}$"
DEFAULT_SCHEMA: Final = "public"


def schema_identifier(schema: str) -> str:
    """The warehouse schema's name validated and quoted: a config value never reaches SQL unchecked."""
    if not re.fullmatch(SCHEMA_PATTERN, schema):
        raise ValueError(f"warehouse schema {schema!r} must match {SCHEMA_PATTERN}")
    return str(identifier(schema))


def qualified(schema: str, name: str) -> str:
    """`"schema"."name"`: a relation of the warehouse schema, both parts quoted."""
    return f"{schema_identifier(schema)}.{identifier(name)}"
