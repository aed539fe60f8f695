"""The Totesys schema's DDL (local/sql/totesys_schema.sql), as Totesys has it or as another source may declare it.

Onyx compares a source's column names and kinds, not the names of its types (docs/design.md, "The source
contract"): a Totesys made by an ORM names its enum types its own way, or keeps the two enum columns as text.
`source_schema_sql` writes such a variant of the schema, so that tests (and anyone trying a source out) can
create one and watch Onyx read it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pg8000.native import identifier, literal

from lambdas.shared.totesys import ENUM_PREFIX, ENUMS, TABLES

SCHEMA_SQL = Path(__file__).resolve().parent.parent / "sql" / "totesys_schema.sql"
_PLAIN_TYPE = re.compile(r"(text|varchar|character varying|char|character)(\(\d+\))?")


@dataclass(frozen=True)
class EnumDeclaration:
    """How a source declares one of the enum columns (`ENUMS`' keys name them and Totesys' enum types).

    By default as Totesys does: an enum type named like the column, with Onyx's labels. `type_name` names the
    enum type otherwise; `labels_added` gives it labels Onyx does not know; `plain` declares the column as a
    built-in string type instead (`text`, `varchar(16)`, `char(16)`), with no enum type at all.
    """

    type_name: str | None = None
    labels_added: tuple[str, ...] = ()
    plain: str | None = None

    def __post_init__(self) -> None:
        if self.plain is not None and not _PLAIN_TYPE.fullmatch(self.plain):
            raise ValueError(f"not a string type: {self.plain!r}")


SchemaVariant = Mapping[str, EnumDeclaration]  # per key of ENUMS; a key left out is declared as Totesys does

# The variants the tests run the pipeline on.
RENAMED_ENUMS: SchemaVariant = {"payment_type_name": EnumDeclaration(type_name="PaymentTypeName"),
                                "transaction_type": EnumDeclaration(type_name="TransactionType")}
TEXT_ENUMS: SchemaVariant = {"payment_type_name": EnumDeclaration(plain="text"),
                             "transaction_type": EnumDeclaration(plain="varchar(16)")}


def _enum_block(name: str) -> re.Pattern[str]:
    """The DDL creating Totesys' enum type `name` (idempotent: a DO block ignoring duplicate_object)."""
    return re.compile(r"DO \$\$ BEGIN\n\s*CREATE TYPE " + re.escape(name) + r" AS ENUM \([^)]*\);\n"
                      r"EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;\n")


def _column_type(column: str, type_name: str) -> re.Pattern[str]:
    """`    <column>   <type> NOT NULL` inside a CREATE TABLE: the type group is what a variant replaces."""
    return re.compile(r"(?m)^(\s+" + re.escape(column) + r"\s+)" + re.escape(type_name) + r"( NOT NULL)")


def _replace_once(pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str], sql: str) -> str:
    new, count = pattern.subn(replace, sql)
    if count != 1:  # the schema file changed shape: say so rather than write a schema half rewritten
        raise ValueError(f"{SCHEMA_SQL.name}: expected one match of {pattern.pattern!r}, found {count}")
    return new


def _constant(text: str) -> Callable[[re.Match[str]], str]:
    return lambda _: text


def _type_between(column_type: str) -> Callable[[re.Match[str]], str]:
    """The column's definition with `column_type` between the two groups of `_column_type`'s match."""
    return lambda match: f"{match[1]}{column_type}{match[2]}"


def created_types(variant: SchemaVariant | None = None) -> list[str]:
    """The enum types the variant's schema creates, by name."""
    variant = variant or {}
    return [declared.type_name or name for name, declared in ((n, variant.get(n, EnumDeclaration())) for n in ENUMS)
            if declared.plain is None]


def source_schema_sql(variant: SchemaVariant | None = None) -> str:
    """The Totesys schema's DDL (idempotent), its enum columns declared as `variant` says."""
    variant = variant or {}
    unknown = sorted(set(variant) - set(ENUMS))
    if unknown:
        raise ValueError(f"not enum columns of Totesys: {', '.join(unknown)}")
    sql = SCHEMA_SQL.read_text()
    for name, declared in variant.items():
        if declared.plain is not None:
            block = ""
            column_type = declared.plain
        else:
            labels = ", ".join(literal(label) for label in (*ENUMS[name], *declared.labels_added))
            column_type = str(identifier(declared.type_name or name))
            block = (f"DO $$ BEGIN\n    CREATE TYPE {column_type} AS ENUM ({labels});\n"
                     "EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n")
        sql = _replace_once(_enum_block(name), _constant(block), sql)
        for column in (c.name for t in TABLES for c in t.columns if c.kind == ENUM_PREFIX + name):
            sql = _replace_once(_column_type(column, name), _type_between(column_type), sql)
    return sql
