"""The Totesys source schema as Onyx knows it: one source of truth for extract, the generator and tests.

Extract refuses a source table whose columns differ from these in name or kind (`SourceSchemaChanged`);
the names of the source's types are not compared. Transform refuses a row whose enum column holds a value
not in `ENUMS` (`InvalidData`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pg8000.native import identifier

# Column kinds, as Onyx reads them. Strings are varchar in Totesys; the three date columns of the
# orders and payments are strings too ("YYYY-MM-DD"), not SQL dates.
INT, TEXT, TIMESTAMP, MONEY, BOOL = "int", "text", "timestamp", "money", "bool"

# The values Onyx knows for the two enum columns (kind "enum:<key>"), in Totesys' order. Totesys declares
# them as the enum types payment_type_name and transaction_type; another source may name its types otherwise
# or keep the columns as text: what Onyx reads is the value, as text.
PAYMENT_TYPE_NAMES = ("SALES_RECEIPT", "SALES_REFUND", "PURCHASE_PAYMENT", "PURCHASE_REFUND")
TRANSACTION_TYPES = ("SALE", "PURCHASE")
ENUMS: dict[str, tuple[str, ...]] = {"payment_type_name": PAYMENT_TYPE_NAMES, "transaction_type": TRANSACTION_TYPES}
ENUM_PREFIX = "enum:"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # INT, TEXT, TIMESTAMP, MONEY, BOOL, or "enum:<key of ENUMS>"
    nullable: bool = False
    references: str | None = None  # the table whose primary key this column refers to

    @property
    def known_values(self) -> tuple[str, ...] | None:
        """The values an enum column may hold (None for any other kind)."""
        return ENUMS[self.kind.removeprefix(ENUM_PREFIX)] if self.kind.startswith(ENUM_PREFIX) else None


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    @property
    def key(self) -> str:
        return f"{self.name}_id"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def sql_name(self) -> str:
        """The name quoted for SQL: `transaction` is a reserved word."""
        return str(identifier(self.name))


def _table(name: str, *columns: Column, timestamps_first: bool = False) -> Table:
    key = Column(f"{name}_id", INT)
    stamps = (Column("created_at", TIMESTAMP), Column("last_updated", TIMESTAMP))
    if timestamps_first:  # the order tables and payment list the stamps right after the key
        return Table(name, (key, *stamps, *columns))
    return Table(name, (key, *columns, *stamps))


# In foreign-key order: a table comes after every table it refers to.
TABLES: tuple[Table, ...] = (
    _table("address",
           Column("address_line_1", TEXT), Column("address_line_2", TEXT, nullable=True),
           Column("district", TEXT, nullable=True), Column("city", TEXT), Column("postal_code", TEXT),
           Column("country", TEXT), Column("phone", TEXT)),
    _table("currency", Column("currency_code", TEXT)),
    _table("department",
           Column("department_name", TEXT), Column("location", TEXT, nullable=True),
           Column("manager", TEXT, nullable=True)),
    Table("design", (Column("design_id", INT), Column("created_at", TIMESTAMP), Column("design_name", TEXT),
                     Column("file_location", TEXT), Column("file_name", TEXT), Column("last_updated", TIMESTAMP))),
    _table("payment_type", Column("payment_type_name", "enum:payment_type_name")),
    _table("counterparty",
           Column("counterparty_legal_name", TEXT), Column("legal_address_id", INT, references="address"),
           Column("commercial_contact", TEXT, nullable=True), Column("delivery_contact", TEXT, nullable=True)),
    _table("staff",
           Column("first_name", TEXT), Column("last_name", TEXT),
           Column("department_id", INT, references="department"), Column("email_address", TEXT)),
    _table("sales_order",
           Column("design_id", INT, references="design"), Column("staff_id", INT, references="staff"),
           Column("counterparty_id", INT, references="counterparty"), Column("units_sold", INT),
           Column("unit_price", MONEY), Column("currency_id", INT, references="currency"),
           Column("agreed_delivery_date", TEXT), Column("agreed_payment_date", TEXT),
           Column("agreed_delivery_location_id", INT, references="address"),
           timestamps_first=True),
    _table("purchase_order",
           Column("staff_id", INT, references="staff"), Column("counterparty_id", INT, references="counterparty"),
           Column("item_code", TEXT), Column("item_quantity", INT), Column("item_unit_price", MONEY),
           Column("currency_id", INT, references="currency"), Column("agreed_delivery_date", TEXT),
           Column("agreed_payment_date", TEXT), Column("agreed_delivery_location_id", INT, references="address"),
           timestamps_first=True),
    _table("transaction",
           Column("transaction_type", "enum:transaction_type"),
           Column("sales_order_id", INT, nullable=True, references="sales_order"),
           Column("purchase_order_id", INT, nullable=True, references="purchase_order")),
    _table("payment",
           Column("transaction_id", INT, references="transaction"),
           Column("counterparty_id", INT, references="counterparty"), Column("payment_amount", MONEY),
           Column("currency_id", INT, references="currency"), Column("payment_type_id", INT, references="payment_type"),
           Column("paid", BOOL), Column("payment_date", TEXT), Column("company_ac_number", INT),
           Column("counterparty_ac_number", INT),
           timestamps_first=True),
)

TABLES_BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
TABLE_NAMES: tuple[str, ...] = tuple(t.name for t in TABLES)
