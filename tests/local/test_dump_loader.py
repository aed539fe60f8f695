"""Loading a Totesys JSON Lines dump: exact, with synthesized payments, and loud about bad lines."""

from __future__ import annotations

import gzip

import pytest

from local.seed.load import SeedError, seed_from_jsonl

# Row counts from data/totesys/SOURCES.md.
SAMPLE_COUNTS = {"address": 30, "counterparty": 20, "currency": 3, "department": 8, "design": 472,
                 "payment_type": 4, "purchase_order": 4640, "sales_order": 11175, "staff": 20,
                 "transaction": 15815}


def test_the_real_sample_loads_exactly_with_one_payment_per_transaction(source_db, sample_dir):
    counts = seed_from_jsonl(source_db, sample_dir)
    assert counts == {**SAMPLE_COUNTS, "payment": 15815}
    conn = source_db.connect()
    try:
        assert conn.run("SELECT count(DISTINCT transaction_id) FROM payment") == [[15815]]
        # exact values survive: a float price in JSON becomes the same numeric(10,2)
        assert conn.run("SELECT unit_price::text, created_at::text FROM sales_order WHERE sales_order_id = 2") == \
            [["3.94", "2022-11-03 14:20:52.186"]]
        assert conn.run("SELECT sum(payment_amount) = (SELECT sum(units_sold * unit_price) FROM sales_order)"
                        "  FROM payment JOIN \"transaction\" USING (transaction_id)"
                        " WHERE transaction_type = 'SALE'") == [[True]]
        assert conn.run("SELECT max(sales_order_id) + 1 = nextval('sales_order_sales_order_id_seq')"
                        "  FROM sales_order") == [[True]]
    finally:
        conn.close()


@pytest.fixture
def dump_copy(plain_sample):
    """The sample as plain `.jsonl` files (the other format a dump may have), ready to be spoiled."""
    assert sorted(p.name for p in plain_sample.iterdir()) == sorted(f"{t}.jsonl" for t in SAMPLE_COUNTS)
    return plain_sample


def _replace_line(path, number, text):
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


def test_a_malformed_line_names_file_and_line_and_loads_nothing(source_db, dump_copy):
    _replace_line(dump_copy / "staff.jsonl", 5, '{"staff_id": 5, "first_name": ')
    with pytest.raises(SeedError, match=r"staff\.jsonl:5: not valid JSON"):
        seed_from_jsonl(source_db, dump_copy)
    conn = source_db.connect()
    try:
        assert conn.run("SELECT count(*) FROM address") == [[0]]  # earlier tables rolled back too
    finally:
        conn.close()


def test_a_line_with_unknown_or_missing_columns_is_refused(source_db, dump_copy):
    _replace_line(dump_copy / "currency.jsonl", 2, '{"currency_id": 2, "currency_code": "USD", "colour": "red",'
                  ' "created_at": "2022-11-03T14:20:49.962000"}')
    with pytest.raises(SeedError, match=r"currency\.jsonl:2: columns differ.*missing \['last_updated'\], "
                                        r"unknown \['colour'\]"):
        seed_from_jsonl(source_db, dump_copy)


def test_a_dump_without_a_required_table_is_refused(source_db, dump_copy):
    (dump_copy / "design.jsonl").unlink()
    with pytest.raises(SeedError, match="no dump for design"):
        seed_from_jsonl(source_db, dump_copy)


def test_a_row_referring_to_a_missing_parent_is_refused_naming_the_key(source_db, dump_copy):
    _replace_line(dump_copy / "staff.jsonl", 1, '{"staff_id": 1, "first_name": "Jeremie", "last_name": "Franey",'
                  ' "department_id": 99, "email_address": "j@terrifictotes.com",'
                  ' "created_at": "2022-11-03T14:20:51.563000", "last_updated": "2022-11-03T14:20:51.563000"}')
    with pytest.raises(SeedError, match=r"staff\.department_id refers to a missing department: "
                                        r"Key \(department_id\)=\(99\) is not present"):
        seed_from_jsonl(source_db, dump_copy)


def test_a_bad_line_in_a_gzipped_dump_names_the_gzipped_file(source_db, sample_dir, tmp_path):
    for path in sample_dir.glob("*.jsonl.gz"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    with gzip.open(tmp_path / "department.jsonl.gz", "at", encoding="utf-8") as dump:
        dump.write("[1, 2]\n")
    with pytest.raises(SeedError, match=r"department\.jsonl\.gz:9: expected a JSON object, got list"):
        seed_from_jsonl(source_db, tmp_path)
