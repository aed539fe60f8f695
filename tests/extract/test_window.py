"""Where `high` stops: behind the source's clock by the safety lag, and before any transaction in flight."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta

from lambdas.extract.window import Window, read_horizon
from lambdas.shared.database import DatabaseCredentials


def _ms(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp)


def test_high_trails_the_source_clock_by_the_safety_lag(source_db):
    conn = source_db.connect()
    try:
        horizon = read_horizon(conn, safety_lag_seconds=60)
    finally:
        conn.close()

    assert _ms(horizon.source_now) - _ms(horizon.high) >= timedelta(seconds=60, milliseconds=1)
    assert _ms(horizon.source_now) - _ms(horizon.high) < timedelta(seconds=60, milliseconds=3)
    assert len(horizon.high) == len("2022-11-03T14:20:52.186")


def test_high_stays_below_the_start_of_a_transaction_that_has_not_written_yet(source_db):
    other = source_db.connect()
    conn = source_db.connect()
    try:
        other.run("BEGIN")
        ((started,),) = other.run("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')")
        horizon = read_horizon(conn, safety_lag_seconds=0)
    finally:
        other.close()
        conn.close()

    assert _ms(horizon.high) <= _ms(started) - timedelta(milliseconds=1)
    assert horizon.oldest_in_flight == started[:23]


def test_transactions_in_other_databases_do_not_hold_high_back(source_db, empty_db):
    other = empty_db.connect()
    conn = source_db.connect()
    try:
        other.run("BEGIN")
        other.run("SELECT 1")
        horizon = read_horizon(conn, safety_lag_seconds=0)
    finally:
        other.close()
        conn.close()

    assert horizon.oldest_in_flight is None


def test_a_role_without_pg_read_all_stats_is_told_it_cannot_see_other_sessions(source_db: DatabaseCredentials):
    role, password = f"onyx_blind_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = source_db.connect()
    admin.run(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    admin.run("BEGIN")  # a transaction the blind role cannot see in pg_stat_activity
    admin.run("SELECT 1")
    blind = replace(source_db, username=role, password=password).connect()
    try:
        horizon = read_horizon(blind, safety_lag_seconds=0)
    finally:
        blind.close()
        admin.run("ROLLBACK")
        admin.run(f"DROP ROLE {role}")
        admin.close()

    assert horizon.hidden_sessions >= 1
    assert horizon.oldest_in_flight is None


def test_window_never_ends_below_its_watermark():
    assert Window.between("2024-01-01T00:00:00.000", "2023-12-31T23:59:59.999") == Window(
        "2024-01-01T00:00:00.000", "2024-01-01T00:00:00.000")
    assert Window.between("2024-01-01T00:00:00.000", "2023-12-31T23:59:59.999").is_empty
    assert Window.between(None, "2024-01-01T00:00:00.000") == Window(None, "2024-01-01T00:00:00.000")
