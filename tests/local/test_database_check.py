"""`python -m local up` with given databases checks both first: one that cannot be used is named by its URL without
the password, with the reason, in one line, and nothing is started (no moto, no synth, no state)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from lambdas.shared.database import DatabaseCredentials
from local.cli import main
from local.postgres import PostgresCluster, free_port


@pytest.fixture(scope="module")
def plain_server() -> Iterator[DatabaseCredentials]:
    """A PostgreSQL without TLS, as the user's own may be."""
    with PostgresCluster(tls=False) as cluster:
        yield cluster.url


def _up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        source: DatabaseCredentials, warehouse: DatabaseCredentials) -> tuple[int, str]:
    monkeypatch.setenv("ONYX_LOCAL_DIR", str(tmp_path / "cloud"))
    code = main(["up", "--source-url", source.to_url(), "--warehouse-url", warehouse.to_url(), "--no-schedule"])
    err = capsys.readouterr().err
    assert not (tmp_path / "cloud").exists()  # nothing was started: no state, no synth, no logs
    for credentials in (source, warehouse):
        assert credentials.password not in err
    return code, err


def test_a_refused_port_is_named_with_its_url_and_nothing_starts(tmp_path, monkeypatch, capsys, pg_server):
    closed = replace(pg_server, port=free_port(), dbname="totesys")
    code, err = _up(tmp_path, monkeypatch, capsys, closed, pg_server)
    assert (code, err) == (1, f"error: cannot connect to the source database postgresql://onyx@127.0.0.1:"
                              f"{closed.port}/totesys?sslmode=require: connection refused\n")


def test_a_bad_password_and_a_missing_database_are_named_each_with_its_reason(tmp_path, monkeypatch, capsys,
                                                                            pg_server):
    wrong_password = replace(pg_server, password="not-the-password")
    missing = replace(pg_server, dbname="no_such_database")
    code, err = _up(tmp_path, monkeypatch, capsys, wrong_password, missing)
    assert (code, err) == (1, "error: cannot connect to "
                              f"the source database postgresql://onyx@127.0.0.1:{pg_server.port}/postgres?sslmode=require:"
                              " password authentication failed; "
                              f"the warehouse database postgresql://onyx@127.0.0.1:{pg_server.port}/no_such_database"
                              "?sslmode=require: database does not exist\n")


def test_a_server_without_tls_is_named_with_what_to_add_to_its_url(tmp_path, monkeypatch, capsys, pg_server,
                                                                    plain_server):
    required = replace(plain_server, sslmode="require")
    code, err = _up(tmp_path, monkeypatch, capsys, pg_server, required)
    assert (code, err) == (1, "error: cannot connect to the warehouse database "
                              f"postgresql://onyx@127.0.0.1:{plain_server.port}/postgres?sslmode=require: server does "
                              "not support TLS with sslmode=require: add ?sslmode=disable if the server has no TLS\n")


def test_the_same_server_with_sslmode_disable_passes_the_check(plain_server):
    from local.cloud import UpOptions, given_databases

    given = given_databases(UpOptions(source_url=plain_server.to_url(), warehouse_url=plain_server.to_url()))
    assert given == (plain_server, plain_server)
    assert plain_server.sslmode == "disable"


def test_seed_names_a_server_without_tls_in_one_line_too(capsys, plain_server):
    required = replace(plain_server, sslmode="require")
    assert main(["seed", "--url", required.to_url(), "--scale", "1"]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot connect to postgresql://onyx@127.0.0.1:{plain_server.port}/postgres?sslmode=require: server "
        "does not support TLS with sslmode=require: add ?sslmode=disable if the server has no TLS\n")
