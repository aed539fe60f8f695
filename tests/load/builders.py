"""Hand-made runs for load tests: star-schema rows -> Parquet files + transform manifest in the moto bucket."""

from __future__ import annotations

import calendar
import io
import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lambdas.shared.layout import processed_data_key, transform_manifest_key
from lambdas.shared.star_schema import STAR_TABLES, STAR_TABLES_BY_NAME, StarTable
from tests.fixtures.aws import Aws

Row = dict[str, Any]
STARTED_AT = "2026-11-25T22:30:00.123Z"


def date_row(day: date) -> Row:
    return {"date_id": day, "year": day.year, "month": day.month, "day": day.day,
            "day_of_week": day.isoweekday(), "day_name": calendar.day_name[day.weekday()],
            "month_name": calendar.month_name[day.month], "quarter": (day.month - 1) // 3 + 1}


def staff(staff_id: int = 1, **changes: Any) -> Row:
    return {"staff_id": staff_id, "first_name": "Jeremie", "last_name": "Franey", "department_name": "Purchasing",
            "location": "Manchester", "email_address": f"staff{staff_id}@terrifictotes.com", **changes}


def location(location_id: int = 1, **changes: Any) -> Row:
    return {"location_id": location_id, "address_line_1": "6826 Herzog Via", "address_line_2": None,
            "district": "Avon", "city": "New Patienceburgh", "postal_code": "28441", "country": "Turkey",
            "phone": "1803 637401", **changes}


def design(design_id: int = 1, **changes: Any) -> Row:
    return {"design_id": design_id, "design_name": "Wooden", "file_location": "/usr",
            "file_name": f"wooden-{design_id}.json", **changes}


def currency(currency_id: int = 1, **changes: Any) -> Row:
    return {"currency_id": currency_id, "currency_code": "GBP", "currency_name": "Pound Sterling", **changes}


def counterparty(counterparty_id: int = 1, **changes: Any) -> Row:
    return {"counterparty_id": counterparty_id, "counterparty_legal_name": "Fahey and Sons",
            "counterparty_legal_address_line_1": "605 Haskell Trafficway", "counterparty_legal_address_line_2": None,
            "counterparty_legal_district": None, "counterparty_legal_city": "Aliso Viejo",
            "counterparty_legal_postal_code": "99305-7380", "counterparty_legal_country": "San Marino",
            "counterparty_legal_phone_number": "9687 937447", **changes}


def payment_type(payment_type_id: int = 1, **changes: Any) -> Row:
    return {"payment_type_id": payment_type_id, "payment_type_name": "SALES_RECEIPT", **changes}


def transaction(transaction_id: int = 1, **changes: Any) -> Row:
    return {"transaction_id": transaction_id, "transaction_type": "SALE", "sales_order_id": 1,
            "purchase_order_id": None, **changes}


CREATED = datetime(2022, 11, 3, 14, 20, 52, 186000)
AGREED_PAYMENT = date(2022, 11, 7)
AGREED_DELIVERY = date(2022, 11, 10)


def _version(created: datetime, updated: datetime) -> Row:
    return {"created_date": created.date(), "created_time": created.time(),
            "last_updated_date": updated.date(), "last_updated_time": updated.time()}


def sales_order(sales_order_id: int = 1, updated: datetime = CREATED, **changes: Any) -> Row:
    return {"sales_order_id": sales_order_id, **_version(CREATED, updated), "sales_staff_id": 1,
            "counterparty_id": 1, "units_sold": 100, "unit_price": Decimal("2.49"), "currency_id": 1, "design_id": 1,
            "agreed_payment_date": AGREED_PAYMENT, "agreed_delivery_date": AGREED_DELIVERY,
            "agreed_delivery_location_id": 1, **changes}


def purchase_order(purchase_order_id: int = 1, updated: datetime = CREATED, **changes: Any) -> Row:
    return {"purchase_order_id": purchase_order_id, **_version(CREATED, updated), "staff_id": 1,
            "counterparty_id": 1, "item_code": "ZDOI5EA", "item_quantity": 371, "item_unit_price": Decimal("361.39"),
            "currency_id": 1, "agreed_delivery_date": AGREED_DELIVERY, "agreed_payment_date": AGREED_PAYMENT,
            "agreed_delivery_location_id": 1, **changes}


def payment(payment_id: int = 1, updated: datetime = CREATED, **changes: Any) -> Row:
    return {"payment_id": payment_id, **_version(CREATED, updated), "transaction_id": 1, "counterparty_id": 1,
            "payment_amount": Decimal("249.00"), "currency_id": 1, "payment_type_id": 1, "paid": True,
            "payment_date": AGREED_PAYMENT, **changes}


def dates_of(*facts: Row) -> list[Row]:
    """dim_date rows for every date the fact rows refer to (as transform makes them)."""
    days = {value for row in facts for value in row.values() if isinstance(value, date)
            and not isinstance(value, datetime)}
    return [date_row(d) for d in sorted(days)]


def days_from(first: date, last: date) -> list[date]:
    """Every day from `first` through `last`: what a continuous dim_date holds between them."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# full_run's facts refer to 2022-11-03, -07 and -10: the calendar is every day between.
FULL_RUN_DAYS = days_from(CREATED.date(), AGREED_DELIVERY)


def full_run(**changes: list[Row]) -> dict[str, list[Row]]:
    """One row in every table, all consistent; `changes` replaces whole tables."""
    facts = {"fact_sales_order": [sales_order()], "fact_purchase_order": [purchase_order()],
             "fact_payment": [payment()]}
    facts.update({k: v for k, v in changes.items() if k.startswith("fact_")})
    tables: dict[str, list[Row]] = {
        "dim_date": dates_of(*(row for rows in facts.values() for row in rows)),
        "dim_staff": [staff()], "dim_location": [location()], "dim_design": [design()],
        "dim_currency": [currency()], "dim_counterparty": [counterparty()], "dim_payment_type": [payment_type()],
        "dim_transaction": [transaction()], **facts,
    }
    tables.update(changes)
    return tables


def parquet_bytes(table: StarTable, rows: list[Row]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), sink)
    return sink.getvalue()


def write_run(aws: Aws, run_id: str, tables: dict[str, list[Row]], started_at: str = STARTED_AT,
              files_per_table: int = 1) -> str:
    """Write the run's Parquet files and its transform manifest; returns the manifest key.

    Every star table is in the manifest; a table with no rows has no file, as transform writes it.
    """
    unknown = set(tables) - set(STAR_TABLES_BY_NAME)
    assert not unknown, unknown
    at = datetime.fromisoformat(started_at)
    entries: dict[str, Any] = {}
    for table in STAR_TABLES:
        rows = tables.get(table.name, [])
        keys = []
        if rows:
            size = -(-len(rows) // files_per_table)
            for part, start in enumerate(range(0, len(rows), size)):
                key = processed_data_key(table.name, run_id, at, part)
                aws.s3.put_object(Bucket=aws.processed_bucket, Key=key,
                                  Body=parquet_bytes(table, rows[start:start + size]))
                keys.append(key)
        entries[table.name] = {"rows": len(rows), "keys": keys}
    manifest = {"run_id": run_id, "extract_manifest_key": f"runs/{run_id}/extract.json", "started_at": started_at,
                "tables": entries}
    key = transform_manifest_key(run_id)
    aws.s3.put_object(Bucket=aws.processed_bucket, Key=key, Body=json.dumps(manifest).encode())
    return key


def at(text: str) -> datetime:
    """A source timestamp such as '2022-11-04 09:00:00.500'."""
    return datetime.fromisoformat(text)


def as_time(text: str) -> time:
    return time.fromisoformat(text)
