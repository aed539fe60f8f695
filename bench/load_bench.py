"""Load benchmark: rows/s of run_load for N generated sales-order fact rows (plus their dimensions),
against a plain COPY of the same fact rows into an empty, constraint-free table.

    .venv/bin/python -m bench.load_bench --rows 1000000 [--url postgresql://...]

Prints figures; it is not a test. Without --url it starts a throwaway PostgreSQL (local/postgres.py).
The "bucket" is a local directory behind the two S3 calls run_load makes, so S3 is not measured.
"""

from __future__ import annotations

import argparse
import calendar
import io
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from lambdas.load.migrate import apply_migrations
from lambdas.load.runner import run_load
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.layout import processed_data_key
from lambdas.shared.manifests import TableFiles, TransformManifest
from lambdas.shared.star_schema import FACT_SALES_ORDER, STAR_TABLES, STAR_TABLES_BY_NAME
from local.postgres import PostgresCluster, create_database

FIRST_DAY = date(2022, 1, 1)
DAYS = 4 * 365
DIMENSION_SIZES = {"dim_staff": 200, "dim_location": 100, "dim_design": 500, "dim_currency": 3,
                   "dim_counterparty": 50, "dim_payment_type": 4, "dim_transaction": 0}
STARTED_AT = "2026-11-25T22:30:00.000Z"


class LocalBucket:
    """The two S3 calls run_load makes, served from a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO((self.root / Key).read_bytes())}

    def download_fileobj(self, bucket: str, key: str, into: IO[bytes]) -> None:
        with (self.root / key).open("rb") as source:
            shutil.copyfileobj(source, into, 1 << 20)

    def put(self, key: str, body: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)


def _ids(n: int) -> pa.Array:
    return pa.array(range(1, n + 1), pa.int32())


def _text(prefix: str, ids: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(prefix, pc.cast(ids, pa.string()), "")


def dimension(name: str, n: int) -> pa.Table:
    """n rows of a dimension: ids 1..n, every text column `<column> <id>` (NULLable ones NULL every 3rd)."""
    table = STAR_TABLES_BY_NAME[name]
    ids = _ids(n)
    columns = []
    for field in table.schema:
        if field.type == pa.int32():
            columns.append(ids)
        else:
            text = _text(f"{field.name} ", ids)
            if field.nullable:
                text = pc.if_else(pc.equal(pc.bit_wise_and(ids, 3), 0), pa.scalar(None, pa.string()), text)
            columns.append(text)
    return pa.Table.from_arrays(columns, schema=table.schema)


def dates() -> pa.Table:
    days = [date.fromordinal(FIRST_DAY.toordinal() + i) for i in range(DAYS)]
    rows = [{"date_id": d, "year": d.year, "month": d.month, "day": d.day, "day_of_week": d.isoweekday(),
             "day_name": calendar.day_name[d.weekday()], "month_name": calendar.month_name[d.month],
             "quarter": (d.month - 1) // 3 + 1} for d in days]
    return pa.Table.from_pylist(rows, schema=STAR_TABLES_BY_NAME["dim_date"].schema)


def sales_orders(n: int, first_id: int = 1, day_offset: int = 0) -> pa.Table:
    """n sales-order versions, ids first_id.., spread over the calendar, referring to existing dimensions."""
    ids = pa.array(range(first_id, first_id + n), pa.int32())
    base = pc.cast(FIRST_DAY.toordinal() - date(1970, 1, 1).toordinal(), pa.int32())

    def day(offset: int) -> pa.Array:
        return pc.cast(pc.add(base, pc.add(pc.remainder(pc.add(ids, offset + day_offset), DAYS - 30), 0)),
                       pa.int32()).cast(pa.date32())

    def ref(dim: str) -> pa.Array:
        return pc.cast(pc.add(pc.remainder(ids, DIMENSION_SIZES[dim]), 1), pa.int32())

    ms = pc.cast(pc.remainder(pc.multiply(pc.cast(ids, pa.int64()), 7919), 86_400_000), pa.int32()).cast(
        pa.time32("ms"))
    pounds = pc.cast(pc.add(pc.remainder(ids, 500), 1), pa.string())
    pence = pc.utf8_lpad(pc.cast(pc.remainder(ids, 100), pa.string()), 2, "0")
    price = pc.cast(pc.binary_join_element_wise(pounds, pence, "."), pa.decimal128(10, 2))
    columns = {"sales_order_id": ids, "created_date": day(0), "created_time": ms,
               "last_updated_date": day(0), "last_updated_time": ms, "sales_staff_id": ref("dim_staff"),
               "counterparty_id": ref("dim_counterparty"),
               "units_sold": pc.cast(pc.add(pc.remainder(ids, 90_000), 1000), pa.int32()),
               "unit_price": price, "currency_id": ref("dim_currency"), "design_id": ref("dim_design"),
               "agreed_payment_date": day(10), "agreed_delivery_date": day(20),
               "agreed_delivery_location_id": ref("dim_location")}
    return pa.Table.from_pydict(columns, schema=FACT_SALES_ORDER.schema)


def write_run(bucket: LocalBucket, run_id: str, tables: dict[str, pa.Table]) -> str:
    at = datetime.fromisoformat(STARTED_AT)
    entries: dict[str, TableFiles] = {}
    for table in STAR_TABLES:
        data = tables.get(table.name)
        keys = []
        if data is not None and data.num_rows:
            key = processed_data_key(table.name, run_id, at)
            sink = io.BytesIO()
            pq.write_table(data, sink)
            bucket.put(key, sink.getvalue())
            keys.append(key)
        entries[table.name] = TableFiles(rows=0 if data is None else data.num_rows, keys=keys)
    manifest = TransformManifest(run_id=run_id, extract_manifest_key="", started_at=STARTED_AT, tables=entries)
    bucket.put(manifest.key, manifest.to_json())
    return manifest.key


def timed(label: str, rows: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    seconds = time.perf_counter() - started
    print(f"  {label:<58} {rows:>10,} rows {seconds:8.2f} s {rows / seconds:>12,.0f} rows/s")
    return seconds


def plain_copy(server: DatabaseCredentials, facts: pa.Table) -> float:
    """COPY the fact rows (CSV rendered beforehand) into an empty table without keys: the floor."""
    target = create_database(server, f"onyx_bench_{uuid.uuid4().hex[:8]}")
    conn = target.connect(io_timeout=None)
    try:
        conn.run("CREATE TABLE plain (sales_order_id int, created_date date, created_time time(3), "
                 "last_updated_date date, last_updated_time time(3), sales_staff_id int, counterparty_id int, "
                 "units_sold int, unit_price numeric(10,2), currency_id int, design_id int, "
                 "agreed_payment_date date, agreed_delivery_date date, agreed_delivery_location_id int)")
        chunks = []
        for batch in facts.to_batches(65_536):
            sink = io.BytesIO()
            pa_csv.write_csv(batch, sink, pa_csv.WriteOptions(include_header=False))
            chunks.append(sink.getvalue())

        def copy() -> None:
            conn.run("BEGIN")
            conn.run("COPY plain FROM STDIN WITH (FORMAT csv)", stream=iter(chunks))
            conn.run("COMMIT")

        return timed("plain COPY of the fact rows into an empty table", facts.num_rows, copy)
    finally:
        conn.close()


def bench(server: DatabaseCredentials, rows: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="onyx-load-bench-"))
    try:
        bucket = LocalBucket(workdir)
        dims = {name: dimension(name, n) for name, n in DIMENSION_SIZES.items()}
        dims["dim_date"] = dates()
        facts = sales_orders(rows)
        full = write_run(bucket, "run-full", {**dims, "fact_sales_order": facts})
        again = write_run(bucket, "run-same-versions", {**dims, "fact_sales_order": facts})
        changes = max(rows // 10, 1)
        updated = dimension("dim_staff", DIMENSION_SIZES["dim_staff"]).set_column(
            3, STAR_TABLES_BY_NAME["dim_staff"].schema.field("department_name"),
            pa.array(["Moved"] * DIMENSION_SIZES["dim_staff"]))
        incremental = write_run(bucket, "run-incremental", {
            "dim_date": dims["dim_date"], "dim_staff": updated,
            "fact_sales_order": sales_orders(changes, first_id=rows + 1)})
        dim_rows = sum(t.num_rows for t in dims.values())
        print(f"load benchmark: {rows:,} fact_sales_order rows, {dim_rows:,} dimension rows")

        warehouse = create_database(server, f"onyx_bench_{uuid.uuid4().hex[:8]}")
        conn = warehouse.connect(io_timeout=None)
        try:
            apply_migrations(conn, "public")

            def load(key: str) -> Callable[[], object]:
                return lambda: run_load(conn, bucket, "local", "public", key)

            full_seconds = timed("run_load: full run into an empty warehouse", rows + dim_rows, load(full))
            timed("run_load: the same run id again (ledger hit)", rows + dim_rows, load(full))
            timed("run_load: another run carrying the same versions", rows + dim_rows, load(again))
            timed(f"run_load: {changes:,} new orders + 200 changed staff", changes + 200 + DAYS, load(incremental))
        finally:
            conn.close()
        floor = plain_copy(server, facts)
        print(f"  full load / plain COPY: {full_seconds / floor:.1f}x the time")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _server(url: str | None) -> Iterator[DatabaseCredentials]:
    if url:
        yield DatabaseCredentials.from_url(url)
        return
    with PostgresCluster() as cluster:
        yield cluster.url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="fact rows of the full run")
    parser.add_argument("--url", help="superuser URL of an existing PostgreSQL server")
    args = parser.parse_args()
    for server in _server(args.url):
        bench(server, args.rows)


if __name__ == "__main__":
    main()
