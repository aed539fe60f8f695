"""One transform run: the extract manifest's files in, the eleven star tables and the manifest out.

Every check runs before the first write; facts stream through in batches into local Parquet files that
are uploaded only once the whole run has passed, then the state, then `transform.json` (the commit mark).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lambdas.shared.errors import InvalidData
from lambdas.shared.layout import processed_data_key, transform_manifest_key
from lambdas.shared.star_schema import (
    DIM_COUNTERPARTY,
    DIM_CURRENCY,
    DIM_DATE,
    DIM_DESIGN,
    DIM_LOCATION,
    DIM_PAYMENT_TYPE,
    DIM_STAFF,
    DIM_TRANSACTION,
    FACT_PAYMENT,
    FACT_PURCHASE_ORDER,
    FACT_SALES_ORDER,
    STAR_TABLES,
    STAR_TABLES_BY_NAME,
    StarTable,
)
from lambdas.shared.totesys import TABLE_NAMES, TABLES_BY_NAME
from lambdas.transform.checks import KeySet, check_references, check_table, check_unique
from lambdas.transform.dates import build_dim_date
from lambdas.transform.dimensions import build_dimensions
from lambdas.transform.facts import build_fact_payment, build_fact_purchase_order, build_fact_sales_order
from lambdas.transform.state import (
    STATE_COLUMNS,
    State,
    changed_tables,
    load_state,
    merge_state,
    replay_state,
    save_state,
)
from lambdas.transform.storage import (
    iter_batches,
    put_parquet,
    read_json_object,
    read_table,
    upload_file,
    write_json_object,
)

# Fact table -> (its source table, its builder).
FACT_SOURCES: dict[str, tuple[str, Callable[[pa.Table], pa.Table]]] = {
    FACT_SALES_ORDER.name: ("sales_order", build_fact_sales_order),
    FACT_PURCHASE_ORDER.name: ("purchase_order", build_fact_purchase_order),
    FACT_PAYMENT.name: ("payment", build_fact_payment),
}
DATE_COLUMNS = ("created_date", "last_updated_date", "agreed_payment_date", "agreed_delivery_date", "payment_date")


@dataclass
class FactOutput:
    """A fact table written locally in batches: its file, rows, keys seen and dates referred to."""

    path: Path
    rows: int = 0
    keys: list[pa.Table] = field(default_factory=list)
    dates: list[pa.Array] = field(default_factory=list)


def run_transform(s3: Any, ingestion_bucket: str, processed_bucket: str, run_id: str,
                  manifest_key: str) -> dict[str, Any]:
    """Transform the run whose extract manifest is `manifest_key`; returns the state machine's payload."""
    done = read_json_object(s3, processed_bucket, transform_manifest_key(run_id))
    if done is not None:  # this run was transformed already: same answer, nothing written again
        return _payload(done)
    extract = read_json_object(s3, ingestion_bucket, manifest_key)
    if extract is None:
        raise InvalidData("extract manifest", manifest_key, "does not exist")
    _check_extract_manifest(extract, run_id, manifest_key)
    files: dict[str, list[str]] = {t: list(extract["tables"][t]["keys"]) for t in TABLE_NAMES}
    at = datetime.fromisoformat(extract["started_at"].replace("Z", "+00:00"))

    run = {table: read_table(s3, ingestion_bucket, TABLES_BY_NAME[table], files[table]) for table in STATE_COLUMNS}
    stored = load_state(s3, processed_bucket)
    before = stored if stored is not None else replay_state(s3, ingestion_bucket, except_manifest=manifest_key)
    state = merge_state(before, run)
    dimensions = build_dimensions(run, state)
    for name, table in dimensions.items():
        check_table(STAR_TABLES_BY_NAME[name], table)
    known = _known_keys(state)

    with tempfile.TemporaryDirectory(prefix="onyx-transform-") as scratch:
        facts = {name: _write_fact(s3, ingestion_bucket, STAR_TABLES_BY_NAME[name], source=source, build=build,
                                   keys=files[source], known=known, scratch=Path(scratch))
                 for name, (source, build) in FACT_SOURCES.items()}
        dates = [d for fact in facts.values() for d in fact.dates]
        dimensions[DIM_DATE.name] = build_dim_date(pa.chunked_array(dates, pa.date32()))
        check_table(DIM_DATE, dimensions[DIM_DATE.name])
        # Every check has passed: only now does anything reach the processed bucket.
        tables: dict[str, dict[str, Any]] = {}
        for star in STAR_TABLES:
            key = processed_data_key(star.name, run_id, at)
            if star.is_fact:
                rows = facts[star.name].rows
                if rows:
                    upload_file(s3, processed_bucket, key, facts[star.name].path)
            else:
                rows = dimensions[star.name].num_rows
                if rows:
                    put_parquet(s3, processed_bucket, key, dimensions[star.name])
            tables[star.name] = {"rows": rows, "keys": [key] if rows else []}
    # A state just rebuilt from the ingestion bucket is written whole; otherwise only what the run changed.
    save_state(s3, processed_bucket, state, STATE_COLUMNS if stored is None else changed_tables(before, state))
    manifest = {"run_id": run_id, "extract_manifest_key": manifest_key, "started_at": extract["started_at"],
                "tables": tables}
    write_json_object(s3, processed_bucket, transform_manifest_key(run_id), manifest)
    return _payload(manifest)


def _write_fact(s3: Any, bucket: str, star: StarTable, *, source: str, build: Callable[[pa.Table], pa.Table],
                keys: list[str], known: Mapping[str, KeySet], scratch: Path) -> FactOutput:
    """Build, check and write one fact table batch by batch: memory holds one batch, not the run."""
    output = FactOutput(scratch / f"{star.name}.parquet")
    with pq.ParquetWriter(output.path, star.schema, compression="zstd") as writer:
        for batch in iter_batches(s3, bucket, TABLES_BY_NAME[source], keys):
            fact = build(pa.Table.from_batches([batch]))
            check_references(star, fact, known)
            writer.write_table(fact)
            output.rows += fact.num_rows
            output.keys.append(fact.select(list(star.key)))
            output.dates.extend(pc.unique(fact[c]) for c in DATE_COLUMNS if c in fact.column_names)
    if output.keys:
        check_unique(star, pa.concat_tables(output.keys))
    return output


def _known_keys(state: State) -> dict[str, KeySet]:
    """The ids each dimension holds once this run is loaded: the merged state's, prepared once for every batch."""
    def ids(table: str) -> KeySet:
        column = state[table][TABLES_BY_NAME[table].key]
        return KeySet(column.combine_chunks() if column.num_chunks else pa.array([], pa.int32()))

    return {DIM_STAFF.name: ids("staff"), DIM_COUNTERPARTY.name: ids("counterparty"),
            DIM_CURRENCY.name: ids("currency"), DIM_DESIGN.name: ids("design"), DIM_LOCATION.name: ids("address"),
            DIM_PAYMENT_TYPE.name: ids("payment_type"), DIM_TRANSACTION.name: ids("transaction")}


def _check_extract_manifest(extract: dict[str, Any], run_id: str, manifest_key: str) -> None:
    if extract.get("run_id") != run_id:
        raise InvalidData("extract manifest", manifest_key, f"is for run {extract.get('run_id')!r}, not {run_id!r}")
    missing = [t for t in TABLE_NAMES if t not in extract.get("tables", {})]
    if missing or "started_at" not in extract:
        raise InvalidData("extract manifest", manifest_key, f"lacks {', '.join(missing) or 'started_at'}")


def _payload(manifest: Mapping[str, Any]) -> dict[str, Any]:
    return {"run_id": manifest["run_id"], "manifest_key": transform_manifest_key(manifest["run_id"]),
            "transformed": {name: table["rows"] for name, table in manifest["tables"].items()}}
