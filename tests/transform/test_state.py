"""The transform's state: transaction ids kept as a sorted set, older state files still read, and only the
state tables a run changed written back."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq

from lambdas.shared.totesys import TABLE_NAMES
from lambdas.transform.state import load_state, state_key
from tests.transform.runs import address, first_run, payment, transaction, transform

LATER = "2024-02-05T16:45:00.007"


def _state_file(aws, table: str) -> pa.Table:
    return pq.read_table(io.BytesIO(aws.read(aws.processed_bucket, state_key(table))))


def test_transaction_state_is_the_sorted_distinct_ids_of_every_run(aws):
    transform(aws, "run-1", first_run())
    transform(aws, "run-2", {"transaction": [transaction(7, "SALE", sales_order_id=1),
                                             transaction(2, "PURCHASE", purchase_order_id=1, stamp=LATER),
                                             transaction(5, "SALE", sales_order_id=1)]})

    stored = _state_file(aws, "transaction")
    transform(aws, "run-3", {"transaction": [transaction(3, "SALE", sales_order_id=1),
                                             transaction(3, "SALE", sales_order_id=1, stamp=LATER),
                                             transaction(8, "SALE", sales_order_id=1)]})

    assert stored.column_names == ["transaction_id"]
    assert stored.column("transaction_id").to_pylist() == [1, 2, 5, 7]  # new ids above the known: appended
    assert _state_file(aws, "transaction").column("transaction_id").to_pylist() == [1, 2, 3, 5, 7, 8]


def test_payment_referring_to_a_transaction_of_an_earlier_run_passes_its_check(aws):
    transform(aws, "run-1", first_run())
    transform(aws, "run-2", {"transaction": [transaction(9, "SALE", sales_order_id=1)]})

    payload = transform(aws, "run-3", {"payment": [payment(4, transaction_id=9, stamp=LATER)]})

    assert payload["transformed"]["fact_payment"] == 1


def test_state_written_with_transaction_last_updated_is_still_read(aws):
    transform(aws, "run-1", first_run())
    old_format = pa.table({"transaction_id": pa.array([1, 2], pa.int32()),
                           "last_updated": pa.array([0, 0], pa.timestamp("ms"))})
    sink = io.BytesIO()
    pq.write_table(old_format, sink)
    aws.s3.put_object(Bucket=aws.processed_bucket, Key=state_key("transaction"), Body=sink.getvalue())

    state = load_state(aws.s3, aws.processed_bucket)
    transform(aws, "run-2", {"transaction": [transaction(3, "SALE", sales_order_id=1)]})

    assert state is not None
    assert state["transaction"].column_names == ["transaction_id"]
    assert _state_file(aws, "transaction").column("transaction_id").to_pylist() == [1, 2, 3]


def test_only_the_state_tables_a_run_changed_are_written_back(aws, monkeypatch):
    transform(aws, "run-1", first_run())
    written: list[str] = []
    put_object = aws.s3.put_object

    def recording(**kwargs):
        written.append(kwargs["Key"])
        return put_object(**kwargs)

    monkeypatch.setattr(aws.s3, "put_object", recording)
    transform(aws, "run-2", {"address": [address(1, city="Bradford", updated=LATER)]})

    transform(aws, "run-3", {"transaction": [transaction(2, "PURCHASE", purchase_order_id=1, stamp=LATER)]})

    # run-2 changed addresses only; run-3 a transaction already known, so its id set stays as it was.
    assert [key for key in written if key.startswith("state/")] == ["state/address.parquet"]
    assert _state_file(aws, "address").sort_by("address_id").column("city").to_pylist() == ["Bradford", "York"]
    assert _state_file(aws, "transaction").column("transaction_id").to_pylist() == [1, 2]


def test_a_first_run_reads_each_of_its_files_once(aws, monkeypatch):
    from collections import Counter

    fetched: Counter[str] = Counter()
    get_object = aws.s3.get_object

    def counting(**kwargs):
        fetched[kwargs["Key"]] += 1
        return get_object(**kwargs)

    monkeypatch.setattr(aws.s3, "get_object", counting)
    transform(aws, "run-1", first_run())

    data = {key: count for key, count in fetched.items() if key.endswith(".jsonl")}
    assert len(data) == len(TABLE_NAMES)  # every table of first_run has rows
    assert set(data.values()) == {1}  # no state yet: replaying the ingestion bucket skips this run's own files
