"""Values reach the JSON Lines files exactly: numeric as text, millisecond timestamps, NULL, any text."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.totesys import MONEY, TABLES, TIMESTAMP, Table
from tests.extract.helpers import Extract, rows_of
from tests.fixtures.aws import Aws
from tests.sql import run_sql

AWKWARD = "O'Brien \"Totes\" back\\slash\nnew line\ttab\r\ncrlf é ü ß 東京 ✓ 🙂 \u2028 \x01"
STAMP = "2022-11-03 14:20:52.186"


def _insert(conn: Any, table: str, **values: Any) -> None:
    columns = ", ".join(values)
    placeholders = ", ".join(f":{c}" for c in values)
    conn.run(f'INSERT INTO "{table}" ({columns}) VALUES ({placeholders})', **values)


def _fill_awkward_source(credentials: DatabaseCredentials) -> None:
    conn = credentials.connect()
    try:
        stamps = {"created_at": "2022-11-03 14:20:52.000", "last_updated": "2022-11-03 14:20:52.5"}
        _insert(conn, "address", address_id=1, address_line_1=AWKWARD, address_line_2=None, district=None,
                city="Zürich", postal_code="8001", country="Côte d'Ivoire", phone="+41 44 000 00 00", **stamps)
        _insert(conn, "currency", currency_id=1, currency_code="GBP", created_at=STAMP, last_updated=STAMP)
        _insert(conn, "department", department_id=1, department_name="Sales", location=None, manager="Zoë",
                created_at=STAMP, last_updated=STAMP)
        _insert(conn, "design", design_id=1, design_name="Bronze", file_location="C:\\designs\\",
                file_name='say "hi".json', created_at=STAMP, last_updated=STAMP)
        _insert(conn, "payment_type", payment_type_id=1, payment_type_name="SALES_RECEIPT",
                created_at=STAMP, last_updated=STAMP)
        _insert(conn, "counterparty", counterparty_id=1, counterparty_legal_name="Fahey & Sons",
                legal_address_id=1, commercial_contact=None, delivery_contact="Ms. O'Hara",
                created_at=STAMP, last_updated=STAMP)
        _insert(conn, "staff", staff_id=1, first_name="Jérémie", last_name="O'Neil", department_id=1,
                email_address="j@example.com", created_at=STAMP, last_updated=STAMP)
        for order_id, price in ((1, "3.90"), (2, "12345678.99"), (3, "0.00"), (4, "-0.01")):
            _insert(conn, "sales_order", sales_order_id=order_id, design_id=1, staff_id=1, counterparty_id=1,
                    units_sold=2147483647, unit_price=Decimal(price), currency_id=1,
                    agreed_delivery_date="2022-11-10", agreed_payment_date="2022-11-08",
                    agreed_delivery_location_id=1, created_at=STAMP, last_updated=STAMP)
        _insert(conn, "purchase_order", purchase_order_id=1, staff_id=1, counterparty_id=1, item_code="ZDOI5EA",
                item_quantity=0, item_unit_price=Decimal("999.07"), currency_id=1,
                agreed_delivery_date="2022-11-10", agreed_payment_date="2022-11-08",
                agreed_delivery_location_id=1, created_at=STAMP, last_updated=STAMP)
        _insert(conn, "transaction", transaction_id=1, transaction_type="SALE", sales_order_id=1,
                purchase_order_id=None, created_at=STAMP, last_updated=STAMP)
        _insert(conn, "payment", payment_id=1, transaction_id=1, counterparty_id=1,
                payment_amount=Decimal("7.80"), currency_id=1, payment_type_id=1, paid=False,
                payment_date="2022-11-08", company_ac_number=12345678, counterparty_ac_number=87654321,
                created_at=STAMP, last_updated=STAMP)
    finally:
        conn.close()


def test_awkward_text_nulls_and_stamps_round_trip_exactly(source_db, aws: Aws, extract: Extract):
    _fill_awkward_source(source_db)

    result = extract(source_db, "run-1")

    (address,) = rows_of(aws, result, "address")
    assert address == {"address_id": 1, "address_line_1": AWKWARD, "address_line_2": None, "district": None,
                       "city": "Zürich", "postal_code": "8001", "country": "Côte d'Ivoire",
                       "phone": "+41 44 000 00 00", "created_at": "2022-11-03T14:20:52.000",
                       "last_updated": "2022-11-03T14:20:52.500"}
    (design,) = rows_of(aws, result, "design")
    assert (design["file_location"], design["file_name"]) == ("C:\\designs\\", 'say "hi".json')
    (staff,) = rows_of(aws, result, "staff")
    assert (staff["first_name"], staff["last_name"]) == ("Jérémie", "O'Neil")


def test_money_is_an_exact_string_and_other_types_keep_their_json_type(source_db, aws: Aws, extract: Extract):
    _fill_awkward_source(source_db)

    result = extract(source_db, "run-1")

    assert [(r["sales_order_id"], r["unit_price"], r["units_sold"]) for r in rows_of(aws, result, "sales_order")] == [
        (1, "3.90", 2147483647), (2, "12345678.99", 2147483647), (3, "0.00", 2147483647), (4, "-0.01", 2147483647)]
    (payment,) = rows_of(aws, result, "payment")
    assert (payment["payment_amount"], payment["paid"], payment["payment_date"]) == ("7.80", False, "2022-11-08")
    (transaction,) = rows_of(aws, result, "transaction")
    assert transaction == {"transaction_id": 1, "transaction_type": "SALE", "sales_order_id": 1,
                           "purchase_order_id": None, "created_at": "2022-11-03T14:20:52.186",
                           "last_updated": "2022-11-03T14:20:52.186"}
    (payment_type,) = rows_of(aws, result, "payment_type")
    assert payment_type["payment_type_name"] == "SALES_RECEIPT"


def test_each_line_is_one_object_with_the_columns_in_totesys_order(source_db, aws: Aws, extract: Extract):
    _fill_awkward_source(source_db)

    result = extract(source_db, "run-1")

    for table in TABLES:
        (key,) = result.manifest.tables[table.name].keys
        lines = aws.read(aws.ingestion_bucket, key).decode("utf-8").split("\n")
        assert lines[-1] == ""  # every line ends with a newline, the last one too
        assert [list(json.loads(line)) for line in lines[:-1]] == [list(table.column_names)] * (len(lines) - 1)


def _render(kind: str, value: Any) -> Any:
    """The contract's JSON value, computed independently of the extract's SQL."""
    if value is None:
        return None
    if kind == MONEY:
        assert isinstance(value, Decimal)
        return f"{value:.2f}"
    if kind == TIMESTAMP:
        assert isinstance(value, datetime)
        return value.isoformat(timespec="milliseconds")
    return value


def test_every_generated_row_matches_the_source_value_for_value(seeded_source_db, aws: Aws, extract: Extract):
    result = extract(seeded_source_db, "run-1")

    conn = seeded_source_db.connect()
    try:
        for table in TABLES:
            columns = ", ".join(f'"{c}"' for c in table.column_names)
            source = [{c.name: _render(c.kind, v) for c, v in zip(table.columns, row, strict=True)}
                      for row in conn.run(f"SELECT {columns} FROM {table.sql_name} ORDER BY {table.key}")]
            extracted = sorted(rows_of(aws, result, table.name), key=itemgetter(table.key))
            assert extracted == source, table.name
    finally:
        conn.close()


def _row_to_json_sql(table: Table) -> str:
    """The rows as PostgreSQL's own row_to_json writes them, with each value cast to the contract's form."""
    values = []
    for column in table.columns:
        name = f'"{column.name}"'
        if column.kind == TIMESTAMP:
            values.append(f"""to_char({name}, 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS {name}""")
        elif column.kind == MONEY or column.kind.startswith("enum:"):
            values.append(f"CAST({name} AS text) AS {name}")
        else:
            values.append(name)
    return (f"SELECT CAST(row_to_json(r) AS text) FROM (SELECT {', '.join(values)} FROM {table.sql_name} "
            f"ORDER BY {table.key}) AS r")


def test_each_line_is_byte_for_byte_what_row_to_json_writes(source_db, aws: Aws, extract: Extract):
    _fill_awkward_source(source_db)

    result = extract(source_db, "run-1")

    for table in TABLES:
        (key,) = result.manifest.tables[table.name].keys
        lines = aws.read(aws.ingestion_bucket, key).decode("utf-8").split("\n")[:-1]
        assert lines == [row[0] for row in run_sql(source_db, _row_to_json_sql(table))], table.name
