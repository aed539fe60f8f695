"""The prepared lookups of a run's batches answer exactly as a plain scan would."""

from __future__ import annotations

import pyarrow as pa
import pytest

from lambdas.shared.errors import InvalidData
from lambdas.shared.star_schema import FACT_PAYMENT
from lambdas.transform.checks import KeySet, check_references
from lambdas.transform.dates import parse_dates

PROBES = [None, -(2**31), -5, 0, 1, 3, 5, 6, 7, 9, 10, 2_999_999, 3_000_000, 3_000_001, 2**31 - 1]


@pytest.mark.parametrize("ids", [
    [5, 7, 9, None],             # dense enough for a bitmap, with holes
    pytest.param(list(range(1, 3_000_001)), marks=pytest.mark.slow),  # a large serial run of ids
    [-5, 3],                     # negative ids
    [1, 2**31 - 1],              # too spread for a bitmap: a plain lookup
    [],                          # no ids at all
])
def test_key_set_holds_exactly_its_ids(ids):
    keys = KeySet(pa.array(ids, pa.int32()))
    found = keys.contains(pa.chunked_array([pa.array(PROBES, pa.int32())])).to_pylist()
    assert [bool(f) for f in found] == [p is not None and p in set(ids) for p in PROBES]


def test_reference_missing_from_a_key_set_names_the_first_row():
    fact = pa.table({"payment_id": pa.array([1, 2, 3], pa.int32()),
                     "transaction_id": pa.array([10, 12, 99], pa.int32())})
    with pytest.raises(InvalidData) as exc:
        check_references(FACT_PAYMENT, fact, {"dim_transaction": KeySet(pa.array([10, 11, 13], pa.int32()))})
    assert (exc.value.table, exc.value.key, exc.value.rule) == (
        "fact_payment", "payment_id=2", "transaction_id 12 not in dim_transaction")


def _parse(texts: list[str | None]) -> pa.ChunkedArray:
    ids = pa.chunked_array([pa.array(range(1, len(texts) + 1), pa.int32())])
    return parse_dates("payment", ids, "payment_date", pa.chunked_array([pa.array(texts, pa.string())], pa.string()))


def test_repeated_dates_parse_once_and_keep_their_rows():
    parsed = _parse(["2024-02-29", None, "2024-02-29", "2023-12-31", None])
    assert [str(d) if d else None for d in parsed.to_pylist()] == [
        "2024-02-29", None, "2024-02-29", "2023-12-31", None]


def test_batch_of_null_dates_parses_to_nulls():
    assert _parse([None, None]).to_pylist() == [None, None]


@pytest.mark.parametrize(("texts", "key", "text"), [
    (["2024-01-01", "2023-02-29", "2024-13-45"], "payment_id=2", "'2023-02-29'"),
    (["2024-13-45", "2024-01-01", "2024-13-45"], "payment_id=1", "'2024-13-45'"),
    (["2024-01-01", None, "2024-1-01"], "payment_id=3", "'2024-1-01'"),
])
def test_first_row_with_an_impossible_date_is_named(texts, key, text):
    with pytest.raises(InvalidData) as exc:
        _parse(texts)
    assert (exc.value.table, exc.value.key, exc.value.rule) == (
        "payment", key, f"payment_date {text} is not a date (YYYY-MM-DD)")
