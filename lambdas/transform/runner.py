"""One transform run: the extract manifest's files in, the eleven star tables and the manifest out.

Every check runs before the first write; facts stream through in batches into local Parquet files that
are uploaded only once the whole run has passed, then the state, then `transform.json` (the commit mark).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lambdas.shared.errors import InvalidData
from lambdas.shared.layout import processed_data_key, transform_manifest_key
from lambdas.shared.manifests import ExtractManifest, TableFiles, TransformManifest
from lambdas.shared.star_schema import DIM_DATE, FACTS, STAR_TABLES, STAR_TABLES_BY_NAME, StarTable
from lambdas.shared.totesys import TABLE_NAMES, TABLES_BY_NAME, Table
from lambdas.transform.checks import KeySet, check_known_values, check_references, check_table, check_unique
from lambdas.transform.dates import build_dim_date
from lambdas.transform.dimensions import build_dimensions
from lambdas.transform.facts import BUILDERS
from lambdas.transform.state import (
    STATE_COLUMNS,
    State,
    changed_tables,
    empty_state,
    load_state,
    merge_state,
    replay_state,
    save_state,
)
from lambdas.transform.storage import (
    iter_batches,
    put_json,
    put_parquet,
    read_object,
    read_table,
    upload_file,
)

# What a missing transform state means (run_transform's docstring).
MissingState = Literal["replay", "empty", "refuse"]


@dataclass
class FactOutput:
    """A fact table written locally in batches: its file, rows, keys seen and dates referred to."""

    path: Path
    rows: int = 0
    keys: list[pa.Table] = field(default_factory=list)
    dates: list[pa.Array] = field(default_factory=list)


def run_transform(s3: Any, ingestion_bucket: str, processed_bucket: str, run_id: str,
                  manifest_key: str, *, prefix: str = "", missing_state: MissingState = "replay") -> dict[str, Any]:
    """Transform the run whose extract manifest is `manifest_key`; returns the state machine's payload.

    `prefix`: where in the processed bucket the run's files, its manifest and the state go (a rebuild's own,
    `rebuilds/<id>/`; the scheduled pipeline's is the bucket's root). `missing_state`: what a missing state means.
    "replay" (the pipeline's): rebuild it from every extract manifest. A rebuild transforms the runs one by one in
    extraction order, so it says "empty" for its first run and "refuse" after: a state replayed from every manifest
    would hold later runs' rows and build this run's dimensions from them.
    """
    done_key = prefix + transform_manifest_key(run_id)
    done = read_object(s3, processed_bucket, done_key)
    if done is not None:  # this run was transformed already: same answer, nothing written again
        return _payload(TransformManifest.from_json(done, done_key), done_key)
    extract = _read_extract_manifest(s3, ingestion_bucket, run_id, manifest_key)
    files: dict[str, list[str]] = {t: extract.keys_of(t) for t in TABLE_NAMES}
    at = extract.started

    run = {table: read_table(s3, ingestion_bucket, TABLES_BY_NAME[table], files[table]) for table in STATE_COLUMNS}
    # The run's own rows, not those a rebuilt state replays: a failed run's rows must not block the run that
    # brings their correction.
    for table, rows in run.items():
        check_known_values(TABLES_BY_NAME[table], rows)
    stored = load_state(s3, processed_bucket, prefix=prefix)
    if stored is not None:
        before = stored
    elif missing_state == "empty":
        before = empty_state()
    elif missing_state == "refuse":
        raise InvalidData("transform state", prefix + "state/", "is missing in the middle of a rebuild")
    else:
        before = replay_state(s3, ingestion_bucket, except_manifest=manifest_key)
    state = merge_state(before, run)
    dimensions = build_dimensions(run, state)
    for name, table in dimensions.items():
        check_table(STAR_TABLES_BY_NAME[name], table)
    known = _known_keys(state)

    with tempfile.TemporaryDirectory(prefix="onyx-transform-") as scratch:
        facts = {star.name: _write_fact(s3, ingestion_bucket, star, build=BUILDERS[star.name],
                                        keys=files[_source(star).name], known=known, scratch=Path(scratch))
                 for star in FACTS}
        dates = [d for fact in facts.values() for d in fact.dates]
        dimensions[DIM_DATE.name] = build_dim_date(pa.chunked_array(dates, pa.date32()))
        check_table(DIM_DATE, dimensions[DIM_DATE.name])
        # Every check has passed: only now does anything reach the processed bucket.
        tables: dict[str, TableFiles] = {}
        for star in STAR_TABLES:
            key = prefix + processed_data_key(star.name, run_id, at)
            if star.is_fact:
                rows = facts[star.name].rows
                if rows:
                    upload_file(s3, processed_bucket, key, facts[star.name].path)
            else:
                rows = dimensions[star.name].num_rows
                if rows:
                    put_parquet(s3, processed_bucket, key, dimensions[star.name])
            tables[star.name] = TableFiles(rows=rows, keys=[key] if rows else [])
    # A state just rebuilt from the ingestion bucket is written whole; otherwise only what the run changed.
    save_state(s3, processed_bucket, state, STATE_COLUMNS if stored is None else changed_tables(before, state),
               prefix=prefix)
    manifest = TransformManifest(run_id=run_id, extract_manifest_key=manifest_key, started_at=extract.started_at,
                                 tables=tables)
    put_json(s3, processed_bucket, done_key, manifest.to_json())
    return _payload(manifest, done_key)


def _source(star: StarTable) -> Table:
    if star.source is None:
        raise ValueError(f"{star.name} has no source table")
    return star.source


def _write_fact(s3: Any, bucket: str, star: StarTable, *, build: Callable[[pa.Table], pa.Table],
                keys: list[str], known: Mapping[str, KeySet], scratch: Path) -> FactOutput:
    """Build, check and write one fact table batch by batch: memory holds one batch, not the run."""
    output = FactOutput(scratch / f"{star.name}.parquet")
    with pq.ParquetWriter(output.path, star.schema, compression="zstd") as writer:
        for batch in iter_batches(s3, bucket, _source(star), keys):
            check_known_values(_source(star), batch)
            fact = build(pa.Table.from_batches([batch]))
            check_references(star, fact, known)
            writer.write_table(fact)
            output.rows += fact.num_rows
            output.keys.append(fact.select(list(star.key)))
            output.dates.extend(pc.unique(fact[c]) for c in star.date_columns)
    if output.keys:
        check_unique(star, pa.concat_tables(output.keys))
    return output


def _known_keys(state: State) -> dict[str, KeySet]:
    """The ids of each dimension a fact refers to, once this run is loaded: its source table's in the merged
    state, prepared once for every batch (dim_date is checked by building it from the facts' dates)."""
    def ids(source: Table) -> KeySet:
        column = state[source.name][source.key]
        return KeySet(column.combine_chunks() if column.num_chunks else pa.array([], pa.int32()))

    referred = {dimension for fact in FACTS for _, dimension in fact.references}
    return {name: ids(_source(STAR_TABLES_BY_NAME[name])) for name in referred if name != DIM_DATE.name}


def _read_extract_manifest(s3: Any, bucket: str, run_id: str, key: str) -> ExtractManifest:
    """The run's extract manifest, which must exist, be the run's and name the files of every Totesys table."""
    body = read_object(s3, bucket, key)
    if body is None:
        raise InvalidData(ExtractManifest.KIND, key, "does not exist")
    extract = ExtractManifest.from_json(body, key)
    if extract.run_id != run_id:
        raise InvalidData(ExtractManifest.KIND, key, f"is for run {extract.run_id!r}, not {run_id!r}")
    extract.require_tables(TABLE_NAMES, key)
    return extract


def _payload(manifest: TransformManifest, key: str) -> dict[str, Any]:
    return {"run_id": manifest.run_id, "manifest_key": key,
            "transformed": {name: table.rows for name, table in manifest.tables.items()}}
