"""Bad input is refused loudly: the error names table, row key and reason, and nothing is written."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from lambdas.shared.errors import InvalidData
from lambdas.shared.layout import ingestion_data_key
from lambdas.shared.totesys import TABLES_BY_NAME
from lambdas.transform.checks import explain_bad_line
from lambdas.transform.runner import run_transform
from tests.transform.runs import (
    counterparty,
    currency,
    first_run,
    payment_type,
    put_run,
    read_star,
    sales_order,
    staff,
    transaction,
    transform,
)


def _refused(aws, run) -> InvalidData:
    with pytest.raises(InvalidData) as caught:
        transform(aws, "run-bad", run)
    assert aws.keys(aws.processed_bucket) == []  # nothing written for the run, not even state
    return caught.value


def _with(table: str, row: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    run = first_run()
    run[table].append(row)
    return run


def _error(exc: InvalidData) -> tuple[str, object, str]:
    return exc.table, exc.key, exc.rule


def test_malformed_agreed_date_names_table_key_and_reason(aws):
    exc = _refused(aws, _with("sales_order", sales_order(42, delivery="2024-13-45")))

    assert _error(exc) == ("sales_order", "sales_order_id=42",
                           "agreed_delivery_date '2024-13-45' is not a date (YYYY-MM-DD)")


def test_impossible_calendar_date_is_refused(aws):
    exc = _refused(aws, _with("sales_order", sales_order(43, payment="2023-02-29")))

    assert _error(exc) == ("sales_order", "sales_order_id=43",
                           "agreed_payment_date '2023-02-29' is not a date (YYYY-MM-DD)")


def test_unknown_currency_code_names_table_key_and_reason(aws):
    exc = _refused(aws, _with("currency", currency(7, "XYZ")))

    assert _error(exc) == ("currency", "currency_id=7", "currency_code 'XYZ' is not an ISO 4217 code")


def test_a_transaction_type_onyx_does_not_know_names_table_key_and_rule(aws):
    exc = _refused(aws, _with("transaction", transaction(3, "REFUND", sales_order_id=2)))

    assert _error(exc) == ("transaction", "transaction_id=3", 'transaction_type "REFUND" is not one of SALE, PURCHASE')


def test_a_payment_type_name_onyx_does_not_know_names_table_key_and_rule(aws):
    exc = _refused(aws, _with("payment_type", payment_type(5, "CASH")))

    assert _error(exc) == ("payment_type", "payment_type_id=5", 'payment_type_name "CASH" is not one of '
                           "SALES_RECEIPT, SALES_REFUND, PURCHASE_PAYMENT, PURCHASE_REFUND")


@pytest.mark.parametrize(("table", "bad", "corrected", "star"), [
    ("transaction", transaction(3, "REFUND", sales_order_id=2),
     transaction(3, "SALE", sales_order_id=2, stamp="2024-01-02T10:00:00.000"), "dim_transaction"),
    ("payment_type", payment_type(5, "CASH"), payment_type(5, "SALES_REFUND", stamp="2024-01-02T10:00:00.000"),
     "dim_payment_type"),
], ids=["transaction_type", "payment_type_name"])
def test_after_a_first_run_refused_for_an_unknown_value_the_run_bringing_the_correction_succeeds(
        aws, table, bad, corrected, star):
    """The refused run left no state, so the next one rebuilds it from every extract manifest, the refused run's
    included: its unknown value must not block the run that corrects it."""
    _refused(aws, _with(table, bad))

    payload = transform(aws, "run-fixed", _with(table, corrected))

    assert payload["transformed"][star] == 3
    names = read_star(aws, star, "run-fixed").column(f"{table}_{'type' if table == 'transaction' else 'name'}")
    assert names.to_pylist() == {"transaction": ["SALE", "PURCHASE", "SALE"],
                     "payment_type": ["SALES_RECEIPT", "PURCHASE_PAYMENT", "SALES_REFUND"]}[table]


def test_an_unknown_enum_value_is_found_by_the_line_by_line_reading_too():
    """When the fast reader refuses a file, the rows are explained one by one: an enum value under the same rule."""
    table = TABLES_BY_NAME["transaction"]

    assert explain_bad_line(table, json.dumps(transaction(3, "SALE", sales_order_id=1))) is None
    assert explain_bad_line(table, json.dumps(transaction(3, "sale", sales_order_id=1))) == (
        'transaction_type "sale" is not one of SALE, PURCHASE')
    assert explain_bad_line(table, json.dumps(transaction(3, 7, sales_order_id=1))) == (
        "transaction_type 7 is not one of SALE, PURCHASE")


def test_fact_with_unknown_staff_names_table_key_and_reason(aws):
    exc = _refused(aws, _with("sales_order", sales_order(42, staff_id=99)))

    assert _error(exc) == ("fact_sales_order", "sales_order_id=42", "sales_staff_id 99 not in dim_staff")


def test_fact_with_unknown_counterparty_names_table_key_and_reason(aws):
    exc = _refused(aws, _with("sales_order", sales_order(42, counterparty_id=77)))

    assert _error(exc) == ("fact_sales_order", "sales_order_id=42", "counterparty_id 77 not in dim_counterparty")


def test_counterparty_whose_address_is_unknown_is_refused(aws):
    exc = _refused(aws, _with("counterparty", counterparty(8, "Nowhere Ltd", 404)))

    assert _error(exc) == ("dim_counterparty", "counterparty_id=8", "legal_address_id 404 not in address")


def test_staff_whose_department_is_unknown_is_refused(aws):
    exc = _refused(aws, _with("staff", staff(8, "Ada", "Lovelace", 404)))

    assert _error(exc) == ("dim_staff", "staff_id=8", "department_id 404 not in department")


def test_same_version_twice_in_a_run_is_refused(aws):
    exc = _refused(aws, _with("sales_order", sales_order(1)))

    assert exc.table == "fact_sales_order"
    assert exc.key == "sales_order_id=1"
    assert exc.rule.endswith("occurs 2 times")


def test_money_with_more_than_two_decimals_is_refused(aws):
    exc = _refused(aws, _with("sales_order", sales_order(44, unit_price="3.945")))

    assert _error(exc) == ("sales_order", "sales_order_id=44", 'unit_price "3.945" is not a valid money')


def test_missing_required_value_is_refused(aws):
    row = sales_order(45)
    row["units_sold"] = None

    exc = _refused(aws, _with("sales_order", row))

    assert _error(exc) == ("fact_sales_order", "sales_order_id=45", "units_sold is null")


def test_unexpected_column_is_refused(aws):
    row = sales_order(46)
    row["discount"] = "0.10"

    exc = _refused(aws, _with("sales_order", row))

    assert _error(exc) == ("sales_order", "sales_order_id=46", "unexpected column(s) discount")


def test_line_that_is_not_json_is_refused(aws):
    manifest_key = put_run(aws, "run-bad", first_run())
    manifest = json.loads(aws.read(aws.ingestion_bucket, manifest_key))
    key = manifest["tables"]["sales_order"]["keys"][0]
    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key=key,
                      Body=aws.read(aws.ingestion_bucket, key) + b'{"sales_order_id": 47, "created_at": \n')

    with pytest.raises(InvalidData) as caught:
        run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, "run-bad", manifest_key)

    assert (caught.value.table, caught.value.key) == ("sales_order", "sales_order_id=?")
    assert caught.value.rule.startswith("not valid JSON")
    assert aws.keys(aws.processed_bucket) == []
    assert key == ingestion_data_key("sales_order", "run-bad", datetime.fromisoformat(manifest["started_at"]))
