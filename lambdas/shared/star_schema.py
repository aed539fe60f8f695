"""The warehouse's star schema as Arrow schemas (docs/data-model.md, docs/design.md section 2): what transform
writes as Parquet and load copies into PostgreSQL. Column order here is the Parquet and staging column order.

Surrogate keys of the facts (`sales_record_id`...) are made by the warehouse and are not in Parquet.
Each star table also names the Totesys table it comes from: transform, reconciliation and the tests
derive from that which source feeds which table, never from a list of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import pyarrow as pa

from lambdas.shared.totesys import TABLES_BY_NAME, Table

ID = pa.int32()
MONEY = pa.decimal128(10, 2)
TIME_MS = pa.time32("ms")


def _f(name: str, type_: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, type_, nullable=nullable)


@dataclass(frozen=True)
class StarTable:
    name: str
    schema: pa.Schema
    key: tuple[str, ...]  # dimension: primary key; fact: natural key of one version
    surrogate: str | None = None  # facts only: the serial record id the warehouse assigns
    # fact column -> the dimension it refers to
    references: tuple[tuple[str, str], ...] = ()
    # The Totesys table it is built from, one row (dimension) or one row version (fact) per source row;
    # None for dim_date, which is made from the facts' dates.
    source: Table | None = None
    current_view: str | None = None  # facts only: the warehouse view holding each id's latest version
    amount: tuple[str, ...] = ()  # facts with money: the columns whose product is a row's value (both sides)

    @property
    def is_fact(self) -> bool:
        return self.name.startswith("fact_")

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.names)

    @property
    def id_column(self) -> str:
        """The warehouse column holding the source row's id (a dimension's key; a fact's id of its versions)."""
        return self.key[0]

    @property
    def date_columns(self) -> tuple[str, ...]:
        """The columns referring to dim_date: every date a row brings into the calendar."""
        return tuple(column for column, dimension in self.references if dimension == "dim_date")

    @property
    def counted_relation(self) -> str:
        """The relation with one row per source row: the table, or a fact's current-version view."""
        return self.current_view or self.name


_VERSION = (_f("created_date", pa.date32()), _f("created_time", TIME_MS),
            _f("last_updated_date", pa.date32()), _f("last_updated_time", TIME_MS))

DIM_DATE: Final = StarTable("dim_date", pa.schema([
    _f("date_id", pa.date32()), _f("year", pa.int16()), _f("month", pa.int16()), _f("day", pa.int16()),
    _f("day_of_week", pa.int16()), _f("day_name", pa.string()), _f("month_name", pa.string()),
    _f("quarter", pa.int16()),
]), key=("date_id",))

DIM_STAFF: Final = StarTable("dim_staff", pa.schema([
    _f("staff_id", ID), _f("first_name", pa.string()), _f("last_name", pa.string()),
    _f("department_name", pa.string()), _f("location", pa.string(), nullable=True),
    _f("email_address", pa.string()),
]), key=("staff_id",), source=TABLES_BY_NAME["staff"])

DIM_LOCATION: Final = StarTable("dim_location", pa.schema([
    _f("location_id", ID), _f("address_line_1", pa.string()), _f("address_line_2", pa.string(), nullable=True),
    _f("district", pa.string(), nullable=True), _f("city", pa.string()), _f("postal_code", pa.string()),
    _f("country", pa.string()), _f("phone", pa.string()),
]), key=("location_id",), source=TABLES_BY_NAME["address"])

DIM_DESIGN: Final = StarTable("dim_design", pa.schema([
    _f("design_id", ID), _f("design_name", pa.string()), _f("file_location", pa.string()),
    _f("file_name", pa.string()),
]), key=("design_id",), source=TABLES_BY_NAME["design"])

DIM_CURRENCY: Final = StarTable("dim_currency", pa.schema([
    _f("currency_id", ID), _f("currency_code", pa.string()), _f("currency_name", pa.string()),
]), key=("currency_id",), source=TABLES_BY_NAME["currency"])

DIM_COUNTERPARTY: Final = StarTable("dim_counterparty", pa.schema([
    _f("counterparty_id", ID), _f("counterparty_legal_name", pa.string()),
    _f("counterparty_legal_address_line_1", pa.string()),
    _f("counterparty_legal_address_line_2", pa.string(), nullable=True),
    _f("counterparty_legal_district", pa.string(), nullable=True),
    _f("counterparty_legal_city", pa.string()), _f("counterparty_legal_postal_code", pa.string()),
    _f("counterparty_legal_country", pa.string()), _f("counterparty_legal_phone_number", pa.string()),
]), key=("counterparty_id",), source=TABLES_BY_NAME["counterparty"])

DIM_PAYMENT_TYPE: Final = StarTable("dim_payment_type", pa.schema([
    _f("payment_type_id", ID), _f("payment_type_name", pa.string()),
]), key=("payment_type_id",), source=TABLES_BY_NAME["payment_type"])

DIM_TRANSACTION: Final = StarTable("dim_transaction", pa.schema([
    _f("transaction_id", ID), _f("transaction_type", pa.string()),
    _f("sales_order_id", ID, nullable=True), _f("purchase_order_id", ID, nullable=True),
]), key=("transaction_id",), source=TABLES_BY_NAME["transaction"])

FACT_SALES_ORDER: Final = StarTable("fact_sales_order", pa.schema([
    _f("sales_order_id", ID), *_VERSION, _f("sales_staff_id", ID), _f("counterparty_id", ID),
    _f("units_sold", ID), _f("unit_price", MONEY), _f("currency_id", ID), _f("design_id", ID),
    _f("agreed_payment_date", pa.date32()), _f("agreed_delivery_date", pa.date32()),
    _f("agreed_delivery_location_id", ID),
]), key=("sales_order_id", "last_updated_date", "last_updated_time"), surrogate="sales_record_id",
    references=(("sales_staff_id", "dim_staff"), ("counterparty_id", "dim_counterparty"),
                ("currency_id", "dim_currency"), ("design_id", "dim_design"),
                ("agreed_delivery_location_id", "dim_location"), ("created_date", "dim_date"),
                ("last_updated_date", "dim_date"), ("agreed_payment_date", "dim_date"),
                ("agreed_delivery_date", "dim_date")),
    source=TABLES_BY_NAME["sales_order"], current_view="sales_order_current", amount=("units_sold", "unit_price"))

FACT_PURCHASE_ORDER: Final = StarTable("fact_purchase_order", pa.schema([
    _f("purchase_order_id", ID), *_VERSION, _f("staff_id", ID), _f("counterparty_id", ID),
    _f("item_code", pa.string()), _f("item_quantity", ID), _f("item_unit_price", MONEY), _f("currency_id", ID),
    _f("agreed_delivery_date", pa.date32()), _f("agreed_payment_date", pa.date32()),
    _f("agreed_delivery_location_id", ID),
]), key=("purchase_order_id", "last_updated_date", "last_updated_time"), surrogate="purchase_record_id",
    references=(("staff_id", "dim_staff"), ("counterparty_id", "dim_counterparty"), ("currency_id", "dim_currency"),
                ("agreed_delivery_location_id", "dim_location"), ("created_date", "dim_date"),
                ("last_updated_date", "dim_date"), ("agreed_delivery_date", "dim_date"),
                ("agreed_payment_date", "dim_date")),
    source=TABLES_BY_NAME["purchase_order"], current_view="purchase_order_current",
    amount=("item_quantity", "item_unit_price"))

FACT_PAYMENT: Final = StarTable("fact_payment", pa.schema([
    _f("payment_id", ID), *_VERSION, _f("transaction_id", ID), _f("counterparty_id", ID),
    _f("payment_amount", MONEY), _f("currency_id", ID), _f("payment_type_id", ID), _f("paid", pa.bool_()),
    _f("payment_date", pa.date32()),
]), key=("payment_id", "last_updated_date", "last_updated_time"), surrogate="payment_record_id",
    references=(("transaction_id", "dim_transaction"), ("counterparty_id", "dim_counterparty"),
                ("currency_id", "dim_currency"), ("payment_type_id", "dim_payment_type"),
                ("created_date", "dim_date"), ("last_updated_date", "dim_date"), ("payment_date", "dim_date")),
    source=TABLES_BY_NAME["payment"], current_view="payment_current", amount=("payment_amount",))

DIMENSIONS: Final = (DIM_DATE, DIM_STAFF, DIM_LOCATION, DIM_DESIGN, DIM_CURRENCY, DIM_COUNTERPARTY,
                     DIM_PAYMENT_TYPE, DIM_TRANSACTION)
FACTS: Final = (FACT_SALES_ORDER, FACT_PURCHASE_ORDER, FACT_PAYMENT)
# Load order: dimensions before the facts that refer to them.
STAR_TABLES: Final = (*DIMENSIONS, *FACTS)
STAR_TABLES_BY_NAME: Final = {t.name: t for t in STAR_TABLES}
# The star tables built from a Totesys table, each with its source: what reconciliation compares one to one.
SOURCED: Final = tuple((t, t.source) for t in STAR_TABLES if t.source is not None)
