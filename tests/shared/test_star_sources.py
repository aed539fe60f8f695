"""Each star table names its Totesys source: the mapping agrees with the source schema and the warehouse."""

from __future__ import annotations

import pyarrow as pa
import pytest

from analytics.reconcile import COUNTED
from analytics.reconcile import MONEY as RECONCILED_MONEY
from lambdas.load import apply_migrations
from lambdas.shared.star_schema import DIM_DATE, DIMENSIONS, FACTS, SOURCED, STAR_TABLES, STAR_TABLES_BY_NAME
from lambdas.shared.totesys import INT, MONEY, TABLE_NAMES, TABLES_BY_NAME
from lambdas.transform.facts import BUILDERS
from lambdas.transform.state import STATE_COLUMNS

# Totesys tables that feed no star table of their own: their columns are joined into one.
JOINED_ONLY = {"department": "dim_staff"}


def test_every_star_table_but_dim_date_is_built_from_a_totesys_table_of_the_source_schema():
    assert DIM_DATE.source is None
    for star in STAR_TABLES:
        if star is not DIM_DATE:
            assert star.source is TABLES_BY_NAME[star.source.name], star.name


def test_every_totesys_table_feeds_a_star_table_or_is_joined_into_one():
    sources = [source.name for _, source in SOURCED]
    assert len(sources) == len(set(sources))  # one star table per source
    assert sorted([*sources, *JOINED_ONLY]) == sorted(TABLE_NAMES)


@pytest.mark.parametrize("star", [t for t, _ in SOURCED], ids=lambda t: t.name)
def test_the_warehouse_id_column_is_an_int_of_the_star_and_the_source_key_a_column_of_the_source(star):
    assert star.source is not None
    assert star.schema.field(star.id_column).type == pa.int32()
    assert star.source.columns[0].name == star.source.key
    assert star.source.columns[0].kind == INT


@pytest.mark.parametrize("fact", FACTS, ids=lambda t: t.name)
def test_a_facts_dates_are_its_date_columns_and_its_amount_is_money_on_both_sides(fact):
    assert fact.source is not None
    assert fact.date_columns
    assert all(fact.schema.field(c).type == pa.date32() for c in fact.date_columns)
    source_kinds = {c.name: c.kind for c in fact.source.columns}
    assert fact.amount
    assert [source_kinds[c] for c in fact.amount if source_kinds[c] == MONEY]  # one factor is money
    assert all(source_kinds[c] in (INT, MONEY) for c in fact.amount)
    assert all(c in fact.columns for c in fact.amount)


def test_the_date_columns_of_the_facts_are_exactly_their_references_to_dim_date():
    assert {t.name: t.date_columns for t in FACTS} == {
        "fact_sales_order": ("created_date", "last_updated_date", "agreed_payment_date", "agreed_delivery_date"),
        "fact_purchase_order": ("created_date", "last_updated_date", "agreed_delivery_date", "agreed_payment_date"),
        "fact_payment": ("created_date", "last_updated_date", "payment_date")}
    assert all(not t.date_columns for t in DIMENSIONS)


def test_every_fact_has_a_builder_and_every_dimension_source_a_state():
    assert set(BUILDERS) == {t.name for t in FACTS}
    assert {t.source.name for t in DIMENSIONS if t.source is not None} <= set(STATE_COLUMNS)


def test_reconciliation_compares_every_sourced_table_through_relations_the_warehouse_has(empty_db):
    conn = empty_db.connect()
    try:
        apply_migrations(conn, "public")
        columns = {(str(r), str(c)) for r, c in conn.run(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")}
    finally:
        conn.close()
    assert list(COUNTED) == [*(t.name for t in DIMENSIONS if t.source), *(t.current_view for t in FACTS)]
    for relation, (source, warehouse_key, source_key) in COUNTED.items():
        assert (relation, warehouse_key) in columns
        assert source_key in TABLES_BY_NAME[source].column_names
    for fact in FACTS:  # the current view has every column of its fact
        assert {c for r, c in columns if r == fact.current_view} == {c for r, c in columns if r == fact.name}
    assert set(RECONCILED_MONEY) == {t.source.name for t in FACTS if t.source is not None}
    assert RECONCILED_MONEY["sales_order"] == (("sales_order_current", '"units_sold" * "unit_price"'),
                                                ("sales_order", '"units_sold" * "unit_price"'))


def test_a_dimension_a_fact_refers_to_is_a_star_table():
    for fact in FACTS:
        assert all(dimension in STAR_TABLES_BY_NAME for _, dimension in fact.references)
