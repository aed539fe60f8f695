"""Hand-written extract runs in the contract's JSON Lines format, and readers of what transform wrote."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lambdas.shared.layout import extract_manifest_key, ingestion_data_key, processed_data_key
from lambdas.shared.star_schema import STAR_TABLES_BY_NAME
from lambdas.shared.totesys import TABLE_NAMES
from lambdas.transform.runner import run_transform

STARTED_AT = "2026-11-25T22:30:00.123Z"
T0 = "2024-01-02T09:15:30.250"  # the moment every row of the first hand-written run was created


def jsonl(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(json.dumps(dict(row)).encode() + b"\n" for row in rows)


def address(address_id: int, *, city: str = "Leeds", line_1: str | None = None, stamp: str = T0,
            updated: str | None = None) -> dict[str, Any]:
    return {"address_id": address_id, "address_line_1": line_1 or f"{address_id} High Street",
            "address_line_2": None, "district": "West Yorkshire" if address_id % 2 else None, "city": city,
            "postal_code": f"LS{address_id} 1AA", "country": "United Kingdom", "phone": f"0113 49600{address_id}",
            "created_at": stamp, "last_updated": updated or stamp}


def currency(currency_id: int, code: str, *, stamp: str = T0) -> dict[str, Any]:
    return {"currency_id": currency_id, "currency_code": code, "created_at": stamp, "last_updated": stamp}


def department(department_id: int, name: str, location: str | None, *, stamp: str = T0,
               updated: str | None = None) -> dict[str, Any]:
    return {"department_id": department_id, "department_name": name, "location": location,
            "manager": "Richard Roma", "created_at": stamp, "last_updated": updated or stamp}


def design(design_id: int, name: str, *, stamp: str = T0) -> dict[str, Any]:
    return {"design_id": design_id, "created_at": stamp, "design_name": name, "file_location": "/usr/share",
            "file_name": f"{name.lower()}-{design_id}.json", "last_updated": stamp}


def payment_type(payment_type_id: int, name: str, *, stamp: str = T0) -> dict[str, Any]:
    return {"payment_type_id": payment_type_id, "payment_type_name": name, "created_at": stamp, "last_updated": stamp}


def counterparty(counterparty_id: int, name: str, address_id: int, *, stamp: str = T0,
                 updated: str | None = None) -> dict[str, Any]:
    return {"counterparty_id": counterparty_id, "counterparty_legal_name": name, "legal_address_id": address_id,
            "commercial_contact": "Micheal Toy", "delivery_contact": None, "created_at": stamp,
            "last_updated": updated or stamp}


def staff(staff_id: int, first: str, last: str, department_id: int, *, stamp: str = T0,
          updated: str | None = None) -> dict[str, Any]:
    return {"staff_id": staff_id, "first_name": first, "last_name": last, "department_id": department_id,
            "email_address": f"{first.lower()}.{last.lower()}@terrifictotes.com", "created_at": stamp,
            "last_updated": updated or stamp}


def sales_order(sales_order_id: int, *, stamp: str = T0, updated: str | None = None, staff_id: int = 1,
                counterparty_id: int = 1, units_sold: int = 100, unit_price: str = "3.94", currency_id: int = 1,
                design_id: int = 1, delivery: str = "2024-01-09", payment: str = "2024-01-10",
                location_id: int = 2) -> dict[str, Any]:
    return {"sales_order_id": sales_order_id, "created_at": stamp, "last_updated": updated or stamp,
            "design_id": design_id, "staff_id": staff_id, "counterparty_id": counterparty_id,
            "units_sold": units_sold, "unit_price": unit_price, "currency_id": currency_id,
            "agreed_delivery_date": delivery, "agreed_payment_date": payment,
            "agreed_delivery_location_id": location_id}


def purchase_order(purchase_order_id: int, *, stamp: str = T0, updated: str | None = None, staff_id: int = 2,
                   counterparty_id: int = 2, item_unit_price: str = "361.39") -> dict[str, Any]:
    return {"purchase_order_id": purchase_order_id, "created_at": stamp, "last_updated": updated or stamp,
            "staff_id": staff_id, "counterparty_id": counterparty_id, "item_code": "ZDOI5EA", "item_quantity": 371,
            "item_unit_price": item_unit_price, "currency_id": 2, "agreed_delivery_date": "2024-02-01",
            "agreed_payment_date": "2024-01-31", "agreed_delivery_location_id": 1}


def transaction(transaction_id: int, kind: str, *, sales_order_id: int | None = None,
                purchase_order_id: int | None = None, stamp: str = T0) -> dict[str, Any]:
    return {"transaction_id": transaction_id, "transaction_type": kind, "sales_order_id": sales_order_id,
            "purchase_order_id": purchase_order_id, "created_at": stamp, "last_updated": stamp}


def payment(payment_id: int, *, transaction_id: int = 1, counterparty_id: int = 1, amount: str = "394.00",
            stamp: str = T0, payment_date: str = "2024-01-10") -> dict[str, Any]:
    return {"payment_id": payment_id, "created_at": stamp, "last_updated": stamp, "transaction_id": transaction_id,
            "counterparty_id": counterparty_id, "payment_amount": amount, "currency_id": 1, "payment_type_id": 1,
            "paid": True, "payment_date": payment_date, "company_ac_number": 67305075,
            "counterparty_ac_number": 31622269}


def first_run() -> dict[str, list[dict[str, Any]]]:
    """A small but complete run: every table, every reference resolvable."""
    return {
        "address": [address(1, city="Leeds"), address(2, city="York")],
        "currency": [currency(1, "GBP"), currency(2, "USD")],
        "department": [department(1, "Sales", "Manchester"), department(2, "Purchasing", None)],
        "design": [design(1, "Wooden")],
        "payment_type": [payment_type(1, "SALES_RECEIPT"), payment_type(3, "PURCHASE_PAYMENT")],
        "counterparty": [counterparty(1, "Fahey and Sons", 1), counterparty(2, "Armstrong Inc", 2),
                         counterparty(3, "Kohler Group", 1)],
        "staff": [staff(1, "Jeremie", "Franey", 1), staff(2, "Deron", "Beier", 2)],
        "sales_order": [sales_order(1), sales_order(2, stamp="2024-01-03T23:59:59.999", units_sold=7,
                                                    unit_price="12345678.99", currency_id=2, staff_id=2,
                                                    delivery="2024-02-29", payment="2024-03-01")],
        "purchase_order": [purchase_order(1)],
        "transaction": [transaction(1, "SALE", sales_order_id=1), transaction(2, "PURCHASE", purchase_order_id=1)],
        "payment": [payment(1)],
    }


def put_run(aws: Any, run_id: str, rows: Mapping[str, list[dict[str, Any]]], *,
            started_at: str = STARTED_AT, parts: int = 1,
            raw: Mapping[str, list[tuple[int, bytes]]] | None = None) -> str:
    """Write a run as extract would (files + manifest) and return the manifest key.

    `raw` gives ready-made JSON Lines parts of a table as (rows, bytes), for runs too big for dicts.
    """
    at = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    tables = {}
    for table in TABLE_NAMES:
        table_rows = list(rows.get(table, []))
        keys = []
        if raw and table in raw:
            for part, (_, body) in enumerate(raw[table]):
                keys.append(ingestion_data_key(table, run_id, at, part))
                aws.s3.put_object(Bucket=aws.ingestion_bucket, Key=keys[-1], Body=body)
            tables[table] = {"low": None, "high": started_at[:23], "rows": sum(n for n, _ in raw[table]),
                             "keys": keys}
            continue
        if table_rows:
            size = -(-len(table_rows) // parts)
            for part in range(parts):
                chunk = table_rows[part * size:(part + 1) * size]
                if chunk:
                    key = ingestion_data_key(table, run_id, at, part)
                    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key=key, Body=jsonl(chunk))
                    keys.append(key)
        stamps = [r["last_updated"] for r in table_rows]
        tables[table] = {"low": None, "high": max(stamps) if stamps else started_at[:23], "rows": len(table_rows),
                         "keys": keys}
    key = extract_manifest_key(run_id)
    aws.s3.put_object(Bucket=aws.ingestion_bucket, Key=key,
                      Body=json.dumps({"run_id": run_id, "started_at": started_at, "tables": tables}).encode())
    return key


def transform(aws: Any, run_id: str, rows: Mapping[str, list[dict[str, Any]]], **kwargs: Any) -> dict[str, Any]:
    """Put the run, transform it, return the payload."""
    manifest_key = put_run(aws, run_id, rows, **kwargs)
    return run_transform(aws.s3, aws.ingestion_bucket, aws.processed_bucket, run_id, manifest_key)


def read_star(aws: Any, table: str, run_id: str, started_at: str = STARTED_AT) -> pa.Table:
    """What the run wrote for `table` (an empty table if it wrote nothing)."""
    at = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    key = processed_data_key(table, run_id, at)
    if key not in aws.keys(aws.processed_bucket, key):
        return STAR_TABLES_BY_NAME[table].schema.empty_table()
    return pq.read_table(io.BytesIO(aws.read(aws.processed_bucket, key)))


def assert_frame(actual: pa.Table, expected_rows: list[dict[str, Any]], table: str) -> None:
    """Whole-frame comparison: the exact star schema, then every row and value in order."""
    expected = pa.Table.from_pylist(expected_rows, schema=STAR_TABLES_BY_NAME[table].schema)
    assert actual.schema.equals(expected.schema, check_metadata=False), actual.schema
    assert actual.to_pylist() == expected.to_pylist()
