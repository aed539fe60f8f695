"""Memory stays bounded on a large run: the facts stream through in batches."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.json as pj
import pytest

from lambdas.shared.totesys import TABLES_BY_NAME
from lambdas.transform.runner import run_transform
from lambdas.transform.storage import source_schema
from tests.transform.runs import first_run, put_run

ORDERS, PART_ROWS = 400_000, 50_000
MiB = 1 << 20
# A few batches in flight, the run's small dimensions, and 12 bytes per order for the unique-key check.
ARROW_BOUND = 20 * MiB
PYTHON_BOUND = 48 * MiB


def _sales_orders(first: int, count: int) -> bytes:
    """`count` sales orders from id `first` in the contract's JSON Lines, spread over a year of days, fast."""
    line = ('{{"sales_order_id": {i}, "created_at": "2024-{m:02d}-{d:02d}T10:{s:02d}:00.{ms:03d}", '
            '"last_updated": "2024-{m:02d}-{d:02d}T11:{s:02d}:00.{ms:03d}", "design_id": 1, "staff_id": {staff}, '
            '"counterparty_id": {cp}, "units_sold": {units}, "unit_price": "{price}.{cents:02d}", '
            '"currency_id": {cur}, "agreed_delivery_date": "2025-{m:02d}-{d:02d}", '
            '"agreed_payment_date": "2025-{m:02d}-{d2:02d}", "agreed_delivery_location_id": {loc}}}\n')
    return "".join(line.format(i=i, m=i % 12 + 1, d=i % 28 + 1, d2=(i + 1) % 28 + 1, s=i % 60, ms=i % 1000,
                               staff=i % 2 + 1, cp=i % 3 + 1, units=i % 5000 + 1, price=i % 100, cents=i % 100,
                               cur=i % 2 + 1, loc=i % 2 + 1)
                   for i in range(first, first + count)).encode()


@contextmanager
def arrow_peak() -> Iterator[pa.MemoryPool]:
    """A fresh pool in front of Arrow's default one, so its max_memory() is this block's peak alone."""
    default = pa.default_memory_pool()
    pool = pa.proxy_memory_pool(default)
    pa.set_memory_pool(pool)
    try:
        yield pool
    finally:
        pa.set_memory_pool(default)


def _whole_run_bytes(parts: list[tuple[int, bytes]]) -> int:
    """What holding all the run's orders at once would take in Arrow: the yardstick for the bound."""
    options = pj.ParseOptions(explicit_schema=source_schema(TABLES_BY_NAME["sales_order"]))
    return sum(pj.read_json(pa.BufferReader(body), parse_options=options).nbytes for _, body in parts)


@pytest.mark.slow
def test_large_run_transforms_in_bounded_memory(aws):
    run = first_run()
    del run["sales_order"]
    parts = [(PART_ROWS, _sales_orders(first, PART_ROWS)) for first in range(1, ORDERS + 1, PART_ROWS)]
    manifest_key = put_run(aws, "run-big", run, raw={"sales_order": parts})
    whole = _whole_run_bytes(parts)
    input_bytes = sum(len(body) for _, body in parts)
    del parts

    tracemalloc.start()
    try:
        with arrow_peak() as pool:
            payload = run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-big", manifest_key)
        _, python_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert payload["transformed"]["fact_sales_order"] == ORDERS
    assert whole > 1.5 * ARROW_BOUND, "the run is too small to show a bound"
    assert pool.max_memory() < ARROW_BOUND, f"Arrow peak {pool.max_memory() / MiB:.1f} MiB"
    # Python holds one part at a time (moto hands an object's body over whole; S3 streams it).
    assert input_bytes > 2 * PYTHON_BOUND
    assert python_peak < PYTHON_BOUND, f"Python peak {python_peak / MiB:.1f} MiB"
