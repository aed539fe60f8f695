"""Business activity in a Totesys source: new orders (with their transactions and payments), amended
orders, payments made, an address or department changed. Everything stamped with the current UTC time,
as the Totesys application does, in one transaction."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pg8000.native

from lambdas.shared.database import DatabaseCredentials

NOW = "(now() AT TIME ZONE 'UTC')::timestamp(3)"


@dataclass(frozen=True)
class Activity:
    new_sales_orders: int = 100
    new_purchase_orders: int = 40
    amended_orders: int = 50
    payments_made: int = 50
    address_changes: int = 1
    department_changes: int = 1

    def __post_init__(self) -> None:
        negative = [name for name, value in asdict(self).items() if value < 0]
        if negative:
            raise ValueError(f"activity counts cannot be negative: {', '.join(negative)}")


def simulate(credentials: DatabaseCredentials, activity: Activity) -> dict[str, int]:
    """Apply `activity` to the source; returns the rows touched per kind of change."""
    conn = credentials.connect(application_name="onyx-simulate")
    try:
        conn.run("BEGIN")
        counts = {
            "new_sales_orders": _new_sales_orders(conn, activity.new_sales_orders),
            "new_purchase_orders": _new_purchase_orders(conn, activity.new_purchase_orders),
            "amended_orders": _amend_orders(conn, activity.amended_orders),
            "payments_made": _pay(conn, activity.payments_made),
            "address_changes": _change_addresses(conn, activity.address_changes),
            "department_changes": _change_departments(conn, activity.department_changes),
        }
        conn.run("COMMIT")
        return counts
    finally:
        conn.close()


def _pick(table: str, column: str) -> str:
    """A random existing id of `table` (an SQL expression, evaluated per row)."""
    return f"(SELECT {column} FROM {table} OFFSET floor(random() * (SELECT count(*) FROM {table})) LIMIT 1)"


def _new_sales_orders(conn: pg8000.native.Connection, count: int) -> int:
    if count == 0:
        return 0
    conn.run(f"""
        WITH new AS (
            INSERT INTO sales_order (created_at, last_updated, design_id, staff_id, counterparty_id, units_sold,
                                     unit_price, currency_id, agreed_delivery_date, agreed_payment_date,
                                     agreed_delivery_location_id)
            SELECT {NOW}, {NOW}, d.design_id, s.staff_id, c.counterparty_id, 1000 + floor(random() * 99001)::int,
                   round((2 + random() * 2)::numeric, 2), cu.currency_id,
                   to_char(current_date + 1 + floor(random() * 7)::int, 'YYYY-MM-DD'),
                   to_char(current_date + 1 + floor(random() * 7)::int, 'YYYY-MM-DD'), a.address_id
              FROM generate_series(1, :count) g
              CROSS JOIN LATERAL (SELECT design_id FROM design ORDER BY random() + g * 0 LIMIT 1) d
              CROSS JOIN LATERAL (SELECT staff_id FROM staff ORDER BY random() + g * 0 LIMIT 1) s
              CROSS JOIN LATERAL (SELECT counterparty_id FROM counterparty ORDER BY random() + g * 0 LIMIT 1) c
              CROSS JOIN LATERAL (SELECT currency_id FROM currency ORDER BY random() + g * 0 LIMIT 1) cu
              CROSS JOIN LATERAL (SELECT address_id FROM address ORDER BY random() + g * 0 LIMIT 1) a
            RETURNING *)
        , tx AS (
            INSERT INTO "transaction" (transaction_type, sales_order_id, created_at, last_updated)
            SELECT 'SALE', sales_order_id, created_at, last_updated FROM new
            RETURNING transaction_id, sales_order_id)
        INSERT INTO payment (created_at, last_updated, transaction_id, counterparty_id, payment_amount, currency_id,
                             payment_type_id, paid, payment_date, company_ac_number, counterparty_ac_number)
        SELECT n.created_at, n.last_updated, tx.transaction_id, n.counterparty_id, n.units_sold * n.unit_price,
               n.currency_id, (SELECT payment_type_id FROM payment_type WHERE payment_type_name = 'SALES_RECEIPT'),
               false, n.agreed_payment_date, 10000000 + floor(random() * 89999999)::int,
               10000000 + floor(random() * 89999999)::int
          FROM new n JOIN tx USING (sales_order_id)
    """, count=count)
    return count


def _new_purchase_orders(conn: pg8000.native.Connection, count: int) -> int:
    if count == 0:
        return 0
    conn.run(f"""
        WITH new AS (
            INSERT INTO purchase_order (created_at, last_updated, staff_id, counterparty_id, item_code,
                                        item_quantity, item_unit_price, currency_id, agreed_delivery_date,
                                        agreed_payment_date, agreed_delivery_location_id)
            SELECT {NOW}, {NOW}, s.staff_id, c.counterparty_id, upper(substr(md5(random()::text), 1, 7)),
                   1 + floor(random() * 999)::int, round((3.32 + random() * 995)::numeric, 2), cu.currency_id,
                   to_char(current_date + 1 + floor(random() * 7)::int, 'YYYY-MM-DD'),
                   to_char(current_date + 1 + floor(random() * 7)::int, 'YYYY-MM-DD'), a.address_id
              FROM generate_series(1, :count) g
              CROSS JOIN LATERAL (SELECT staff_id FROM staff ORDER BY random() + g * 0 LIMIT 1) s
              CROSS JOIN LATERAL (SELECT counterparty_id FROM counterparty ORDER BY random() + g * 0 LIMIT 1) c
              CROSS JOIN LATERAL (SELECT currency_id FROM currency ORDER BY random() + g * 0 LIMIT 1) cu
              CROSS JOIN LATERAL (SELECT address_id FROM address ORDER BY random() + g * 0 LIMIT 1) a
            RETURNING *)
        , tx AS (
            INSERT INTO "transaction" (transaction_type, purchase_order_id, created_at, last_updated)
            SELECT 'PURCHASE', purchase_order_id, created_at, last_updated FROM new
            RETURNING transaction_id, purchase_order_id)
        INSERT INTO payment (created_at, last_updated, transaction_id, counterparty_id, payment_amount, currency_id,
                             payment_type_id, paid, payment_date, company_ac_number, counterparty_ac_number)
        SELECT n.created_at, n.last_updated, tx.transaction_id, n.counterparty_id,
               n.item_quantity * n.item_unit_price, n.currency_id,
               (SELECT payment_type_id FROM payment_type WHERE payment_type_name = 'PURCHASE_PAYMENT'),
               false, n.agreed_payment_date, 10000000 + floor(random() * 89999999)::int,
               10000000 + floor(random() * 89999999)::int
          FROM new n JOIN tx USING (purchase_order_id)
    """, count=count)
    return count


def _amend_orders(conn: pg8000.native.Connection, count: int) -> int:
    """Change the quantity of some sales orders, and their payment with them (amount = units x price)."""
    if count == 0:
        return 0
    conn.run(f"""
        WITH amended AS (
            UPDATE sales_order SET units_sold = 1000 + floor(random() * 99001)::int, last_updated = {NOW}
             WHERE sales_order_id IN (SELECT sales_order_id FROM sales_order ORDER BY random() LIMIT :count)
            RETURNING sales_order_id, units_sold * unit_price AS amount)
        UPDATE payment p SET payment_amount = a.amount, last_updated = {NOW}
          FROM "transaction" t JOIN amended a USING (sales_order_id)
         WHERE p.transaction_id = t.transaction_id
    """, count=count)
    return count


def _pay(conn: pg8000.native.Connection, count: int) -> int:
    rows = conn.run(f"""
        UPDATE payment SET paid = true, last_updated = {NOW}
         WHERE payment_id IN (SELECT payment_id FROM payment WHERE NOT paid ORDER BY random() LIMIT :count)
        RETURNING payment_id""", count=count)
    return len(rows)


def _change_addresses(conn: pg8000.native.Connection, count: int) -> int:
    rows = conn.run(f"""
        UPDATE address SET phone = lpad((floor(random() * 9999))::text, 4, '0') || ' ' ||
                                   lpad((floor(random() * 999999))::text, 6, '0'),
                           last_updated = {NOW}
         WHERE address_id IN (SELECT legal_address_id FROM counterparty ORDER BY random() LIMIT :count)
        RETURNING address_id""", count=count)
    return len(rows)


def _change_departments(conn: pg8000.native.Connection, count: int) -> int:
    rows = conn.run(f"""
        UPDATE department SET manager = manager || ' Jr', last_updated = {NOW}
         WHERE department_id IN (SELECT department_id FROM department ORDER BY random() LIMIT :count)
        RETURNING department_id""", count=count)
    return len(rows)
