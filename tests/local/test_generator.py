"""Generated Totesys data is consistent, realistic and the same for the same seed."""

from __future__ import annotations

import uuid

import pytest

from lambdas.shared.totesys import TABLES
from local.seed.generator import TotesysGenerator
from local.seed.load import SeedError, seed_generated
from tests.fixtures.postgres import TEMPLATE_SOURCE


def _one(conn, sql):
    return conn.run(sql)[0][0]


@pytest.fixture
def generated(source_db):
    seed_generated(source_db, 400, seed=3)
    conn = source_db.connect()
    yield conn
    conn.close()


def test_row_counts_follow_the_scale(generated):
    counts = {t.name: _one(generated, f"SELECT count(*) FROM {t.sql_name}") for t in TABLES}
    assert counts == {"address": 30, "currency": 3, "department": 8, "design": 500, "payment_type": 4,
                      "counterparty": 20, "staff": 20, "sales_order": 400, "purchase_order": 168,
                      "transaction": 568, "payment": 568}


def test_one_transaction_per_order_and_one_payment_per_transaction(generated):
    assert _one(generated, """SELECT count(DISTINCT sales_order_id) FROM "transaction"
                              WHERE transaction_type = 'SALE' AND purchase_order_id IS NULL""") == 400
    assert _one(generated, """SELECT count(DISTINCT purchase_order_id) FROM "transaction"
                              WHERE transaction_type = 'PURCHASE' AND sales_order_id IS NULL""") == 168
    assert _one(generated, "SELECT count(DISTINCT transaction_id) FROM payment") == 568


def test_payment_type_matches_its_transaction_type(generated):
    mismatched = _one(generated, """
        SELECT count(*) FROM payment p JOIN "transaction" t USING (transaction_id)
          JOIN payment_type pt USING (payment_type_id)
         WHERE (t.transaction_type = 'SALE') <> (pt.payment_type_name::text LIKE 'SALES_%')""")
    assert mismatched == 0


def test_payment_amount_equals_units_times_price_in_the_order_currency(generated):
    wrong = _one(generated, """
        SELECT count(*) FROM payment p JOIN "transaction" t USING (transaction_id)
          LEFT JOIN sales_order s ON s.sales_order_id = t.sales_order_id
          LEFT JOIN purchase_order o ON o.purchase_order_id = t.purchase_order_id
         WHERE p.payment_amount <> coalesce(s.units_sold * s.unit_price, o.item_quantity * o.item_unit_price)
            OR p.currency_id <> coalesce(s.currency_id, o.currency_id)
            OR p.counterparty_id <> coalesce(s.counterparty_id, o.counterparty_id)""")
    assert wrong == 0


def test_values_are_in_the_ranges_of_the_real_sample(generated):
    assert generated.run("SELECT min(units_sold), max(units_sold) <= 100000, min(unit_price) >= 2.00,"
                         " max(unit_price) <= 4.00 FROM sales_order")[0][1:] == [True, True, True]
    assert _one(generated, "SELECT min(units_sold) FROM sales_order") >= 1000
    assert generated.run("SELECT min(item_quantity) >= 1, max(item_quantity) <= 999, min(item_unit_price) >= 3.32,"
                         " max(item_unit_price) <= 999.07 FROM purchase_order") == [[True, True, True, True]]
    assert _one(generated, "SELECT array_agg(currency_code ORDER BY currency_id)::text FROM currency") \
        == "{GBP,USD,EUR}"


def test_agreed_dates_are_iso_days_a_few_days_after_creation(generated):
    bad = _one(generated, """
        SELECT count(*) FROM sales_order
         WHERE agreed_delivery_date !~ '^\\d{4}-\\d{2}-\\d{2}$'
            OR agreed_delivery_date::date - created_at::date NOT BETWEEN 1 AND 7
            OR agreed_payment_date::date - created_at::date NOT BETWEEN 1 AND 7""")
    assert bad == 0


def test_timestamps_spread_over_two_years_and_never_go_backwards(generated):
    days = _one(generated, "SELECT max(created_at)::date - min(created_at)::date FROM sales_order")
    assert 700 <= days <= 731
    assert _one(generated, "SELECT count(*) FROM sales_order WHERE last_updated < created_at") == 0
    assert _one(generated, "SELECT count(*) FROM sales_order WHERE last_updated > created_at") > 0


def test_sequences_continue_after_the_largest_id(generated):
    generated.run("""INSERT INTO currency (currency_code) VALUES ('CHF')""")
    assert _one(generated, "SELECT max(currency_id) FROM currency") == 4
    new_id = generated.run("""INSERT INTO sales_order (design_id, staff_id, counterparty_id, units_sold, unit_price,
                              currency_id, agreed_delivery_date, agreed_payment_date, agreed_delivery_location_id)
                              VALUES (1, 1, 1, 1000, 2.5, 1, '2024-01-02', '2024-01-03', 1) RETURNING sales_order_id""")
    assert new_id == [[401]]


def _fingerprint(credentials):
    conn = credentials.connect()
    try:
        return {t.name: _one(conn, f"SELECT md5(string_agg(x::text, '|' ORDER BY {t.key})) FROM {t.sql_name} x")
                for t in TABLES}
    finally:
        conn.close()


@pytest.mark.slow
def test_same_seed_gives_identical_data_and_another_seed_does_not(pg_server, source_db):
    from local.postgres import create_database, drop_database

    seed_generated(source_db, 150, seed=11)
    names = [f"onyx_gen_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    again, other = (create_database(pg_server, name, TEMPLATE_SOURCE) for name in names)
    try:
        seed_generated(again, 150, seed=11)
        seed_generated(other, 150, seed=12)
        first = _fingerprint(source_db)
        assert _fingerprint(again) == first
        differing = {name for name, digest in _fingerprint(other).items() if digest != first[name]}
        assert {"sales_order", "purchase_order", "payment", "address"} <= differing
    finally:
        for name in names:
            drop_database(pg_server, name)


def test_a_scale_of_zero_is_refused():
    with pytest.raises(ValueError, match="scale must be a positive"):
        TotesysGenerator(0)


def test_seeding_a_source_that_holds_data_is_refused_unless_reset(seeded_source_db):
    with pytest.raises(SeedError, match=r"already holds data.*--reset"):
        seed_generated(seeded_source_db, 10)
    counts = seed_generated(seeded_source_db, 10, reset=True)
    assert counts["sales_order"] == 10
