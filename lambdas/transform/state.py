"""The current state of the source tables the transform joins or checks against, kept in the processed bucket.

A dimension's dependents need rows that did not change in the run (the address of a counterparty whose
address did not change), and fact references are checked against every id seen so far. The state is
`state/<table>.parquet`, one row per id: the version with the greatest `last_updated`. Merging keeps that
rule whatever the order of runs, so re-running a run is harmless and the state can always be rebuilt
from the ingestion bucket's extract manifests.

Transactions are kept as their ids alone, sorted: a set, for fact_payment's reference check. It is the one
state that grows with the facts; kept with `last_updated` and merged by `latest_per_id`, it was most of an
incremental run (docs/performance.md). Only the tables a run changed are written back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from lambdas.shared.manifests import ExtractManifest
from lambdas.shared.totesys import TABLES_BY_NAME
from lambdas.transform.dimensions import latest_per_id
from lambdas.transform.storage import list_keys, put_parquet, read_object, read_parquet, read_table, source_schema

# Source table -> the columns kept (None: all). Transactions only need their ids, for fact_payment's check.
STATE_COLUMNS: Final[Mapping[str, tuple[str, ...] | None]] = {
    "address": None, "department": None, "counterparty": None, "staff": None, "currency": None, "design": None,
    "payment_type": None, "transaction": ("transaction_id",),
}
State = dict[str, pa.Table]


def state_key(table: str, prefix: str = "") -> str:
    """`state/<table>.parquet`, under `prefix` (a rebuild's own, `rebuilds/<id>/`) when one is given."""
    return f"{prefix}state/{table}.parquet"


def state_schema(table: str) -> pa.Schema:
    schema = source_schema(TABLES_BY_NAME[table])
    columns = STATE_COLUMNS[table]
    return schema if columns is None else pa.schema([schema.field(c) for c in columns])


def empty_state() -> State:
    return {table: state_schema(table).empty_table() for table in STATE_COLUMNS}


def merge_state(state: Mapping[str, pa.Table], run: Mapping[str, pa.Table]) -> State:
    """The state with a run's rows merged in: per id the greatest last_updated wins (order-independent).

    A table the run leaves as it was is the very object given (see `changed_tables`).
    """
    merged = {}
    for table in STATE_COLUMNS:
        schema = state_schema(table)
        kept = state[table] if state[table].schema.equals(schema) else state[table].cast(schema)
        if not run[table].num_rows:
            merged[table] = kept
        elif _is_id_set(schema):
            merged[table] = _add_ids(kept, run[table].select(schema.names).cast(schema))
        else:
            rows = pa.concat_tables([run[table].select(schema.names).cast(schema), kept])
            merged[table] = latest_per_id(rows, TABLES_BY_NAME[table].key)
    return merged


def _is_id_set(schema: pa.Schema) -> bool:
    return "last_updated" not in schema.names


def _add_ids(state: pa.Table, run: pa.Table) -> pa.Table:
    """The sorted id set `state` with the run's ids added (`state` itself if none is new).

    The run's ids are looked up by binary search; new ids above all the known ones (serial ids: the usual
    case) are appended, and only an id inside the range costs a sort of the whole set.
    """
    (column,) = state.column_names
    known = state[column].combine_chunks()
    ids = pc.drop_null(pc.unique(run[column].combine_chunks()))
    if len(known):
        at = pc.search_sorted(known, ids)
        found = pc.equal(pc.take(known, pc.min_element_wise(at, len(known) - 1)), ids)
        ids = pc.filter(ids, pc.invert(found))
    if not len(ids):
        return state
    ids = pc.take(ids, pc.sort_indices(ids))
    merged = pa.concat_arrays([known, ids])
    if len(known) and ids[0].as_py() < known[-1].as_py():
        merged = pc.take(merged, pc.sort_indices(merged))
    return pa.table([merged], schema=state.schema)


def changed_tables(before: Mapping[str, pa.Table], after: Mapping[str, pa.Table]) -> list[str]:
    """The state tables that differ between `before` and `after` = merge_state(before, ...): to write back."""
    return [table for table in STATE_COLUMNS if after[table] is not before[table]]


def load_state(s3: Any, bucket: str, *, prefix: str = "") -> State | None:
    """The stored state, or None if any part of it is missing (then it must be rebuilt)."""
    state = {}
    for table in STATE_COLUMNS:
        stored = read_parquet(s3, bucket, state_key(table, prefix))
        if stored is None:
            return None
        schema = state_schema(table)
        # select: a state written before transactions were kept as ids alone also holds last_updated.
        state[table] = stored.select(schema.names).cast(schema)
    return state


def save_state(s3: Any, bucket: str, state: Mapping[str, pa.Table], tables: Iterable[str] = STATE_COLUMNS, *,
               prefix: str = "") -> None:
    """Write back `tables` of the state (all of them by default)."""
    for table in tables:
        put_parquet(s3, bucket, state_key(table, prefix), state[table], delta_encoded=_is_id_set(state[table].schema))


def rebuild_state(s3: Any, ingestion_bucket: str, processed_bucket: str) -> State:
    """Rebuild the state from every extract manifest in the ingestion bucket, store it, and return it."""
    state = replay_state(s3, ingestion_bucket)
    save_state(s3, processed_bucket, state)
    return state


def replay_state(s3: Any, ingestion_bucket: str, *, except_manifest: str | None = None) -> State:
    """The state every extract manifest in the ingestion bucket adds up to (nothing is written).

    `except_manifest`: one to leave out, the run being transformed, whose rows are merged in anyway (a first
    run would otherwise read its files twice).
    """
    state = empty_state()
    for key in list_keys(s3, ingestion_bucket, "runs/"):
        if not key.endswith("/extract.json") or key == except_manifest:
            continue
        body = read_object(s3, ingestion_bucket, key)
        if body is None:  # deleted since it was listed
            continue
        manifest = ExtractManifest.from_json(body, key)
        run = {table: read_table(s3, ingestion_bucket, TABLES_BY_NAME[table], manifest.keys_of(table))
               for table in STATE_COLUMNS}
        state = merge_state(state, run)
    return state
