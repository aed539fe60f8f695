"""The current state of the source tables the transform joins or checks against, kept in the processed bucket.

A dimension's dependents need rows that did not change in the run (the address of a counterparty whose
address did not change), and fact references are checked against every id seen so far. The state is
`state/<table>.parquet`, one row per id: the version with the greatest `last_updated`. Merging keeps that
rule whatever the order of runs, so re-running a run is harmless and the state can always be rebuilt
from the ingestion bucket's extract manifests.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import pyarrow as pa

from lambdas.shared.totesys import TABLES_BY_NAME
from lambdas.transform.dimensions import latest_per_id
from lambdas.transform.storage import list_keys, put_parquet, read_json_object, read_parquet, read_table, source_schema

# Source table -> the columns kept (None: all). Transactions only need their ids, for fact_payment's check.
STATE_COLUMNS: Final[Mapping[str, tuple[str, ...] | None]] = {
    "address": None, "department": None, "counterparty": None, "staff": None, "currency": None, "design": None,
    "payment_type": None, "transaction": ("transaction_id", "last_updated"),
}
State = dict[str, pa.Table]


def state_key(table: str) -> str:
    return f"state/{table}.parquet"


def state_schema(table: str) -> pa.Schema:
    schema = source_schema(TABLES_BY_NAME[table])
    columns = STATE_COLUMNS[table]
    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def empty_state() -> State:
    return {table: state_schema(table).empty_table() for table in STATE_COLUMNS}


def merge_state(state: Mapping[str, pa.Table], run: Mapping[str, pa.Table]) -> State:
    """The state with a run's rows merged in: per id the greatest last_updated wins (order-independent)."""
    merged = {}
    for table in STATE_COLUMNS:
        schema = state_schema(table)
        rows = pa.concat_tables([run[table].select(schema.names).cast(schema), state[table].cast(schema)])
        merged[table] = latest_per_id(rows, TABLES_BY_NAME[table].key)
    return merged


def load_state(s3: Any, bucket: str) -> State | None:
    """The stored state, or None if any part of it is missing (then it must be rebuilt)."""
    state = {}
    for table in STATE_COLUMNS:
        stored = read_parquet(s3, bucket, state_key(table))
        if stored is None:
            return None
        state[table] = stored.cast(state_schema(table))
    return state


def save_state(s3: Any, bucket: str, state: Mapping[str, pa.Table]) -> None:
    for table in STATE_COLUMNS:
        put_parquet(s3, bucket, state_key(table), state[table])


def rebuild_state(s3: Any, ingestion_bucket: str, processed_bucket: str) -> State:
    """Rebuild the state from every extract manifest in the ingestion bucket, store it, and return it."""
    state = replay_state(s3, ingestion_bucket)
    save_state(s3, processed_bucket, state)
    return state


def replay_state(s3: Any, ingestion_bucket: str) -> State:
    """The state every extract manifest in the ingestion bucket adds up to (nothing is written)."""
    state = empty_state()
    for key in list_keys(s3, ingestion_bucket, "runs/"):
        if not key.endswith("/extract.json"):
            continue
        manifest = read_json_object(s3, ingestion_bucket, key) or {}
        tables = manifest.get("tables", {})
        run = {table: read_table(s3, ingestion_bucket, TABLES_BY_NAME[table], tables.get(table, {}).get("keys", []))
               for table in STATE_COLUMNS}
        state = merge_state(state, run)
    return state
