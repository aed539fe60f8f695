"""The documents the stages hand each other through the buckets, one typed class each, read and written by both sides.

- `ExtractManifest`, `runs/<run_id>/extract.json` in the ingestion bucket: extract writes it (its commit
  point), transform reads it, and extract reads it back to commit the run;
- `TransformManifest`, `runs/<run_id>/transform.json` in the processed bucket: transform writes it, load reads it;
- `Watermarks`, `state/watermarks/<...>.json` in the ingestion bucket: each committed run's highs.

The JSON on disk is what the stages wrote before these classes existed (`json.dumps`, same keys in the same
order, same indentation), so the manifests of old runs still in a bucket stay readable and new ones diff cleanly.
A document that does not parse or lacks a field is `InvalidData` naming the document's key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated, ClassVar, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from lambdas.shared.errors import InvalidData
from lambdas.shared.layout import extract_manifest_key, transform_manifest_key


class _Document(BaseModel):
    """A JSON document in a bucket; `KIND` names it in errors ("extract manifest")."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    KIND: ClassVar[str]
    INDENT: ClassVar[int | None] = 1

    @classmethod
    def from_json(cls, body: bytes | str, key: str) -> Self:
        """Parse the document stored at `key`; anything missing or malformed is InvalidData naming the key."""
        try:
            document = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidData(cls.KIND, key, f"not JSON: {exc}") from exc
        try:
            return cls.model_validate(document)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in error['loc']) or 'document'}: {error['msg']}"
                                 for error in exc.errors())
            raise InvalidData(cls.KIND, key, f"malformed: {problems}") from exc

    def to_json(self) -> bytes:
        """The document's bytes: the JSON the stages have always written (keys in field order)."""
        return json.dumps(self.model_dump(mode="json"), indent=self.INDENT).encode()

    def _require(self, held: Iterable[str], needed: Iterable[str], key: str) -> None:
        missing = [t for t in needed if t not in set(held)]
        if missing:
            raise InvalidData(self.KIND, key, f"lacks {', '.join(missing)}")


def _aware(value: str) -> str:
    """`2026-11-25T22:30:00.123Z`: kept as written, but it must be an ISO time with a zone."""
    if datetime.fromisoformat(value).tzinfo is None:
        raise ValueError("lacks a time zone")
    return value


# An ISO timestamp with a zone, kept as the text it was written as (the manifests' `started_at`).
AwareTimestamp = Annotated[str, AfterValidator(_aware)]


class TableExtract(BaseModel):
    """One Totesys table in a run: its window `(low, high]`, how many rows it had and the files holding them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    low: str | None
    high: str
    rows: int = Field(ge=0)
    keys: tuple[str, ...]


class ExtractManifest(_Document):
    """`runs/<run_id>/extract.json`: the extract run's commit record, written after its files."""

    KIND: ClassVar[str] = "extract manifest"

    run_id: str = Field(min_length=1)
    started_at: AwareTimestamp  # "2026-11-25T22:30:00.123Z": its date is the date of the run's keys
    tables: dict[str, TableExtract]

    def require_tables(self, tables: Iterable[str], key: str) -> None:
        """Refuse a manifest lacking any of `tables` (what its reader needs; an older run may hold fewer)."""
        self._require(self.tables, tables, key)

    @property
    def key(self) -> str:
        return extract_manifest_key(self.run_id)

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)

    @property
    def extracted(self) -> dict[str, int]:
        return {name: table.rows for name, table in self.tables.items()}

    @property
    def has_changes(self) -> bool:
        return any(table.rows for table in self.tables.values())

    @property
    def highs(self) -> dict[str, str]:
        return {name: table.high for name, table in self.tables.items()}

    def keys_of(self, table: str) -> list[str]:
        """The files of `table` in this run (none when the run predates the table)."""
        entry = self.tables.get(table)
        return list(entry.keys) if entry else []


class TableFiles(BaseModel):
    """One star table in a transformed run: its row count and the Parquet files holding them."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    rows: int = Field(ge=0)
    keys: list[str]


class TransformManifest(_Document):
    """`runs/<run_id>/transform.json`: the transform run's commit record, written after its files and state."""

    KIND: ClassVar[str] = "transform manifest"

    run_id: str = Field(min_length=1)
    extract_manifest_key: str
    started_at: AwareTimestamp  # the extract manifest's
    tables: dict[str, TableFiles]

    def require_tables(self, tables: Iterable[str], key: str) -> None:
        """Refuse a manifest lacking any of `tables` (every star table, for load)."""
        self._require(self.tables, tables, key)

    @property
    def key(self) -> str:
        return transform_manifest_key(self.run_id)

    @property
    def started(self) -> datetime:
        return datetime.fromisoformat(self.started_at)


class Watermarks(_Document):
    """`state/watermarks/<inverted high>-<run_id>.json`: every table's high after a committed run."""

    KIND: ClassVar[str] = "watermarks"
    INDENT: ClassVar[int | None] = None

    run_id: str = Field(min_length=1)
    highs: dict[str, str]


class PlannedRun(BaseModel):
    """One committed run in a rebuild's plan."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    run_id: str = Field(min_length=1)
    started_at: AwareTimestamp  # its extract manifest's: the plan's order


class RebuildPlan(_Document):
    """`rebuilds/<rebuild_id>/plan.json` in the processed bucket: every committed run, in extraction order.

    Written once by the rebuild's Plan step; its transform and load steps read the slice the cursor points at.
    """

    KIND: ClassVar[str] = "rebuild plan"
    INDENT: ClassVar[int | None] = None  # a year of runs is 35,000 entries

    rebuild_id: str = Field(min_length=1)
    planned_at: AwareTimestamp
    runs: tuple[PlannedRun, ...]
