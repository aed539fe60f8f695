"""`python -m local seed`: clear messages and non-zero exits for bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from local.postgres import free_port

REPO = Path(__file__).resolve().parents[2]


def _seed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "local", "seed", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)


def test_an_unreachable_url_is_named_without_its_password():
    port = free_port()
    result = _seed("--url", f"postgresql://onyx:s3cret-pw@127.0.0.1:{port}/totesys")
    assert result.returncode == 1
    assert f"error: cannot connect to postgresql://onyx@127.0.0.1:{port}/totesys" in result.stderr
    assert "s3cret-pw" not in result.stderr + result.stdout


def test_a_scale_of_zero_or_less_is_refused():
    for scale in ("0", "-5"):
        result = _seed("--url", "postgresql://u:p@127.0.0.1:1/db", "--scale", scale)
        assert result.returncode == 2
        assert f"argument --scale: must be 1 or more, got {scale}" in result.stderr


def test_a_url_that_is_not_postgresql_is_refused():
    result = _seed("--url", "mysql://u:p@h/db")
    assert result.returncode == 2
    assert "expected a URL like postgresql://" in result.stderr


def test_seed_fills_a_database_and_reports_each_table(source_db):
    result = _seed("--url", source_db.to_url(), "--scale", "50", "--seed", "2")
    assert result.returncode == 0, result.stderr
    assert "sales_order" in result.stderr
    assert "50 rows" in result.stderr
    conn = source_db.connect()
    try:
        assert conn.run("SELECT count(*) FROM payment") == [[71]]
    finally:
        conn.close()


def test_a_malformed_dump_line_is_reported_with_file_and_line(source_db, plain_sample):
    lines = (plain_sample / "department.jsonl").read_text().splitlines()
    lines[2] = "not json"
    (plain_sample / "department.jsonl").write_text("\n".join(lines) + "\n")
    result = _seed("--url", source_db.to_url(), "--from-jsonl", str(plain_sample))
    assert result.returncode == 1
    assert f"error: {plain_sample}/department.jsonl:3: not valid JSON" in result.stderr
