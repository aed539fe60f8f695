"""Each of the eleven star tables, built from a small hand-written run, compared as a whole frame."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest

from lambdas.shared.star_schema import STAR_TABLES
from tests.transform.runs import assert_frame, first_run, read_star, transform

D0, T0 = date(2024, 1, 2), time(9, 15, 30, 250000)
ADDRESS_1 = ("1 High Street", None, "West Yorkshire", "Leeds", "LS1 1AA", "United Kingdom", "0113 496001")
ADDRESS_2 = ("2 High Street", None, None, "York", "LS2 1AA", "United Kingdom", "0113 496002")
LOCATION = ("address_line_1", "address_line_2", "district", "city", "postal_code", "country", "phone")
LEGAL = (*(f"counterparty_legal_{c}" for c in LOCATION[:-1]), "counterparty_legal_phone_number")


def _day(day: date, dow: int, day_name: str) -> dict[str, Any]:
    return {"date_id": day, "year": day.year, "month": day.month, "day": day.day, "day_of_week": dow,
            "day_name": day_name, "month_name": f"{day:%B}", "quarter": 1}


EXPECTED: dict[str, list[dict[str, Any]]] = {
    "dim_date": [
        _day(date(2024, 1, 2), 2, "Tuesday"), _day(date(2024, 1, 3), 3, "Wednesday"),
        _day(date(2024, 1, 9), 2, "Tuesday"), _day(date(2024, 1, 10), 3, "Wednesday"),
        _day(date(2024, 1, 31), 3, "Wednesday"), _day(date(2024, 2, 1), 4, "Thursday"),
        _day(date(2024, 2, 29), 4, "Thursday"), _day(date(2024, 3, 1), 5, "Friday"),
    ],
    "dim_staff": [
        {"staff_id": 1, "first_name": "Jeremie", "last_name": "Franey", "department_name": "Sales",
         "location": "Manchester", "email_address": "jeremie.franey@terrifictotes.com"},
        {"staff_id": 2, "first_name": "Deron", "last_name": "Beier", "department_name": "Purchasing",
         "location": None, "email_address": "deron.beier@terrifictotes.com"},
    ],
    "dim_location": [{"location_id": 1, **dict(zip(LOCATION, ADDRESS_1, strict=True))},
                     {"location_id": 2, **dict(zip(LOCATION, ADDRESS_2, strict=True))}],
    "dim_design": [{"design_id": 1, "design_name": "Wooden", "file_location": "/usr/share",
                    "file_name": "wooden-1.json"}],
    "dim_currency": [{"currency_id": 1, "currency_code": "GBP", "currency_name": "Pound Sterling"},
                     {"currency_id": 2, "currency_code": "USD", "currency_name": "US Dollar"}],
    "dim_counterparty": [
        {"counterparty_id": 1, "counterparty_legal_name": "Fahey and Sons", **dict(zip(LEGAL, ADDRESS_1, strict=True))},
        {"counterparty_id": 2, "counterparty_legal_name": "Armstrong Inc", **dict(zip(LEGAL, ADDRESS_2, strict=True))},
        {"counterparty_id": 3, "counterparty_legal_name": "Kohler Group", **dict(zip(LEGAL, ADDRESS_1, strict=True))},
    ],
    "dim_payment_type": [{"payment_type_id": 1, "payment_type_name": "SALES_RECEIPT"},
                         {"payment_type_id": 3, "payment_type_name": "PURCHASE_PAYMENT"}],
    "dim_transaction": [
        {"transaction_id": 1, "transaction_type": "SALE", "sales_order_id": 1, "purchase_order_id": None},
        {"transaction_id": 2, "transaction_type": "PURCHASE", "sales_order_id": None, "purchase_order_id": 1},
    ],
    "fact_sales_order": [
        {"sales_order_id": 1, "created_date": D0, "created_time": T0, "last_updated_date": D0,
         "last_updated_time": T0, "sales_staff_id": 1, "counterparty_id": 1, "units_sold": 100,
         "unit_price": Decimal("3.94"), "currency_id": 1, "design_id": 1, "agreed_payment_date": date(2024, 1, 10),
         "agreed_delivery_date": date(2024, 1, 9), "agreed_delivery_location_id": 2},
        {"sales_order_id": 2, "created_date": date(2024, 1, 3), "created_time": time(23, 59, 59, 999000),
         "last_updated_date": date(2024, 1, 3), "last_updated_time": time(23, 59, 59, 999000), "sales_staff_id": 2,
         "counterparty_id": 1, "units_sold": 7, "unit_price": Decimal("12345678.99"), "currency_id": 2,
         "design_id": 1, "agreed_payment_date": date(2024, 3, 1), "agreed_delivery_date": date(2024, 2, 29),
         "agreed_delivery_location_id": 2},
    ],
    "fact_purchase_order": [
        {"purchase_order_id": 1, "created_date": D0, "created_time": T0, "last_updated_date": D0,
         "last_updated_time": T0, "staff_id": 2, "counterparty_id": 2, "item_code": "ZDOI5EA", "item_quantity": 371,
         "item_unit_price": Decimal("361.39"), "currency_id": 2, "agreed_delivery_date": date(2024, 2, 1),
         "agreed_payment_date": date(2024, 1, 31), "agreed_delivery_location_id": 1},
    ],
    "fact_payment": [
        {"payment_id": 1, "created_date": D0, "created_time": T0, "last_updated_date": D0, "last_updated_time": T0,
         "transaction_id": 1, "counterparty_id": 1, "payment_amount": Decimal("394.00"), "currency_id": 1,
         "payment_type_id": 1, "paid": True, "payment_date": date(2024, 1, 10)},
    ],
}


def test_expectations_cover_all_eleven_tables():
    assert sorted(EXPECTED) == sorted(t.name for t in STAR_TABLES)


@pytest.mark.parametrize("table", [t.name for t in STAR_TABLES])
def test_hand_written_run_gives_exactly_the_expected_frame(aws, table):
    transform(aws, "run-1", first_run())

    assert_frame(read_star(aws, table, "run-1"), EXPECTED[table], table)
