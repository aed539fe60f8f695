"""`secret_credentials`: a block that cannot reach its database makes the next read fetch the secret afresh (it may
have been rotated); any other failure keeps the cached copy. Real connections, to a closed port and to PostgreSQL.
The secret's shapes: RDS's own (the login only, the function's settings say where the database is) and every field
(the secret's win); a bad secret is one error naming it and its fields, never a value."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pg8000.native
import pytest

from lambdas.extract.handler import handler as extract_handler
from lambdas.extract.source import connect_source
from lambdas.load.handler import handler as load_handler
from lambdas.load.runner import connect as connect_warehouse
from lambdas.shared.constants import Env
from lambdas.shared.database import DatabaseCredentials, DatabaseSettings
from lambdas.shared.errors import DatabaseTlsError, InvalidData, InvalidSecret, SourceUnavailable, WarehouseUnavailable
from lambdas.shared.secrets import credentials_from_secret, database_settings, secret_credentials
from local.postgres import free_port
from tests.conftest import REPO
from tests.fixtures.aws import Aws
from tests.fixtures.postgres import SEEDED_SCALE

Connect = Callable[[DatabaseCredentials], pg8000.native.Connection]
CONNECTORS = [pytest.param(connect_source, SourceUnavailable, id="source"),
              pytest.param(connect_warehouse, WarehouseUnavailable, id="warehouse")]


def _rotate(aws: Aws, name: str, credentials: DatabaseCredentials) -> None:
    aws.secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps(credentials.to_secret()))


@pytest.mark.parametrize(("connect", "unavailable"), CONNECTORS)
def test_a_failed_connection_makes_the_next_block_read_the_rotated_secret(aws, pg_server, connect: Connect,
                                                                          unavailable: type[Exception]):
    name = aws.put_secret(replace(pg_server, port=free_port()))  # a rotation half done: nothing listens there
    with pytest.raises(unavailable), secret_credentials(name) as credentials:
        connect(credentials)
    _rotate(aws, name, pg_server)

    with secret_credentials(name) as credentials:
        conn = connect(credentials)
        try:
            assert conn.run("SELECT 1") == [[1]]
        finally:
            conn.close()
    assert credentials.port == pg_server.port


@pytest.mark.parametrize("error", [InvalidData("sales_order", "sales_order_id=1", "rule"), ValueError("bug")])
def test_any_other_failure_keeps_the_cached_secret(aws, pg_server, error: Exception):
    name = aws.put_secret(pg_server)
    with pytest.raises(type(error)), secret_credentials(name):
        raise error
    _rotate(aws, name, replace(pg_server, port=free_port()))

    with secret_credentials(name) as credentials:
        assert credentials.port == pg_server.port  # still the cached copy: the rotation is not read yet


def test_a_failure_is_forgotten_once_the_fresh_secret_was_read(aws, pg_server):
    name = aws.put_secret(replace(pg_server, port=free_port()))
    with pytest.raises(SourceUnavailable), secret_credentials(name) as credentials:
        connect_source(credentials, timeout=5)
    _rotate(aws, name, pg_server)
    with secret_credentials(name) as credentials:
        assert credentials.port == pg_server.port
    _rotate(aws, name, replace(pg_server, port=free_port()))

    with secret_credentials(name) as credentials:
        assert credentials.port == pg_server.port  # cached again after one fresh read


# ---- the secret's shape: RDS's own (the login only), or every field; the settings fill in what it lacks -----------

PASSWORD = f"Pw-{uuid.uuid4().hex}-never-shown"


def _put(aws: Aws, value: Any) -> str:
    name = f"onyx/test/{uuid.uuid4().hex[:8]}"
    aws.secretsmanager.create_secret(Name=name, SecretString=value if isinstance(value, str) else json.dumps(value))
    return name


def _settings_of(database: DatabaseCredentials, role: str = "source", **changes: Any) -> DatabaseSettings:
    return replace(DatabaseSettings(role=role, host=database.host, port=database.port, dbname=database.dbname,
                                    sslmode=database.sslmode), **changes)


def test_a_secret_as_rds_manages_it_takes_where_the_database_is_from_the_settings(aws, pg_server):
    name = _put(aws, {"username": pg_server.username, "password": pg_server.password})

    with secret_credentials(name, _settings_of(pg_server)) as credentials:
        conn = connect_source(credentials)
        try:
            assert conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == [[True]]
        finally:
            conn.close()
    assert credentials == pg_server


def test_the_secret_s_own_fields_win_over_the_settings(aws, pg_server):
    # RDS's console writes this shape (engine, host, port as a number, dbname, the instance); a user's may say sslmode
    secret = {"engine": "postgres", "host": pg_server.host, "port": pg_server.port, "username": pg_server.username,
              "password": pg_server.password, "dbname": pg_server.dbname, "dbInstanceIdentifier": "totesys",
              "sslmode": "prefer"}
    elsewhere = DatabaseSettings(role="source", host="elsewhere.invalid", port=1, dbname="other", sslmode="verify-full")

    assert credentials_from_secret(_put(aws, secret), elsewhere) == replace(pg_server, sslmode="prefer")


def test_sslmode_and_the_ca_bundle_come_from_the_settings_when_the_secret_has_none(aws, pg_server, monkeypatch,
                                                                                   tmp_path):
    name = _put(aws, pg_server.to_secret() | {"sslmode": ""})
    settings = DatabaseSettings(role="warehouse", sslmode="verify-full", sslrootcert="certs/rds.pem")

    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)  # the local cloud, the operator's tools: the checkout
    assert credentials_from_secret(name, settings) == replace(pg_server, sslmode="verify-full",
                                                              sslrootcert=str(REPO / "certs" / "rds.pem"))
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))  # on Lambda: the asset's root, where bundling put it
    assert credentials_from_secret(name, settings).sslrootcert == str(tmp_path / "certs" / "rds.pem")
    absolute = _put(aws, pg_server.to_secret() | {"sslrootcert": "/opt/ca.pem"})
    assert credentials_from_secret(absolute, settings).sslrootcert == "/opt/ca.pem"


def test_a_port_may_be_a_number_or_digits_and_defaults_to_5432(aws):
    login = {"username": "u", "password": PASSWORD, "host": "h", "dbname": "d"}
    assert credentials_from_secret(_put(aws, login | {"port": "6432"})).port == 6432
    assert credentials_from_secret(_put(aws, login)).port == 5432
    assert credentials_from_secret(_put(aws, login), DatabaseSettings(role="source", port=7000)).port == 7000


@pytest.mark.parametrize(
    ("secret", "settings", "problem"),
    [
        ({"password": PASSWORD}, DatabaseSettings(role="source", port=5432),
         "lacks username, host, dbname (and no sourceHost / sourceDatabase setting given)"),
        ({"username": "u", "password": PASSWORD}, DatabaseSettings(role="warehouse", host="h"),
         "lacks dbname (and no warehouseDatabase setting given)"),
        ({"username": "u", "host": "h", "dbname": "d"}, None, "lacks password"),
        ({"username": "u", "password": PASSWORD, "host": "h", "dbname": "d", "port": PASSWORD, "sslmode": "allow"},
         None, "port is not a port number (1-65535); sslmode is not one of disable, prefer, require, verify-ca, "
               "verify-full"),
        ({"username": ["u"], "password": PASSWORD, "host": "h", "dbname": "d", "port": 0}, None,
         "username is not a string; port is not a port number (1-65535)"),
        ([PASSWORD], None, "is not a JSON object"),
    ],
)
def test_a_bad_secret_is_one_error_naming_the_secret_and_its_fields_never_a_value(aws, secret, settings, problem):
    name = _put(aws, secret)
    with pytest.raises(InvalidSecret) as invalid:
        credentials_from_secret(name, settings)
    assert str(invalid.value) == f"secret {name}: {problem}"
    assert invalid.value.__cause__ is None
    assert invalid.value.__suppress_context__  # nothing chained that could hold the value


def test_a_secret_that_is_not_json_says_so(aws):
    name = _put(aws, f"password={PASSWORD}")
    with pytest.raises(InvalidSecret) as invalid:
        credentials_from_secret(name)
    assert str(invalid.value) == f"secret {name} is not JSON (expected an object with username, password, ...)"


def test_a_fixed_secret_is_read_at_once_after_a_bad_one_or_a_tls_failure(aws, pg_server):
    name = _put(aws, {"username": pg_server.username, "password": pg_server.password})
    with pytest.raises(InvalidSecret):
        credentials_from_secret(name)
    _rotate(aws, name, replace(pg_server, sslmode="verify-ca", sslrootcert="/nonexistent/ca.pem"))
    with pytest.raises(DatabaseTlsError), secret_credentials(name) as credentials:
        connect_source(credentials)
    _rotate(aws, name, pg_server)

    assert credentials_from_secret(name) == pg_server  # not the cached copies


def test_the_settings_come_from_the_function_s_environment(monkeypatch):
    for variable, value in {Env.SOURCE_HOST: "totesys.example.com", Env.SOURCE_PORT: "6432",
                            Env.SOURCE_DATABASE: "totesys", Env.SOURCE_SSL_MODE: "verify-full",
                            Env.SSL_ROOT_CERT: "certs/rds.pem", Env.WAREHOUSE_HOST: "wh.example.com"}.items():
        monkeypatch.setenv(variable, value)
    for variable in (Env.WAREHOUSE_PORT, Env.WAREHOUSE_DATABASE, Env.WAREHOUSE_SSL_MODE):
        monkeypatch.delenv(variable, raising=False)

    assert database_settings("source") == DatabaseSettings(
        role="source", host="totesys.example.com", port=6432, dbname="totesys", sslmode="verify-full",
        sslrootcert="certs/rds.pem")
    assert database_settings("warehouse") == DatabaseSettings(role="warehouse", host="wh.example.com",
                                                              sslrootcert="certs/rds.pem")
    assert database_settings("source", {}) == DatabaseSettings(role="source")


def test_the_extract_handler_reads_an_rds_managed_secret_and_its_settings(aws, seeded_source_db, lambda_context,
                                                                          monkeypatch):
    monkeypatch.setenv(Env.SOURCE_SECRET_NAME, _put(aws, {"username": seeded_source_db.username,
                                                          "password": seeded_source_db.password}))
    monkeypatch.setenv(Env.INGESTION_BUCKET, aws.ingestion_bucket)
    for variable, value in {Env.SOURCE_HOST: seeded_source_db.host, Env.SOURCE_PORT: str(seeded_source_db.port),
                            Env.SOURCE_DATABASE: seeded_source_db.dbname, Env.SOURCE_SSL_MODE: "require"}.items():
        monkeypatch.setenv(variable, value)

    payload = extract_handler({"run_id": "run-rds"}, lambda_context)

    assert payload["extracted"]["sales_order"] == SEEDED_SCALE


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_bad_secret_fails_the_load_handler_without_its_password_in_the_logs(aws, lambda_context, monkeypatch,
                                                                              log_output, capsys):
    name = _put(aws, {"username": "u", "password": PASSWORD, "port": PASSWORD})
    monkeypatch.setenv(Env.WAREHOUSE_SECRET_NAME, name)
    monkeypatch.setenv(Env.PROCESSED_BUCKET, aws.processed_bucket)
    for variable in (Env.WAREHOUSE_HOST, Env.WAREHOUSE_PORT, Env.WAREHOUSE_DATABASE):
        monkeypatch.delenv(variable, raising=False)

    with pytest.raises(InvalidSecret) as invalid:
        load_handler({"run_id": "run-1", "manifest_key": "runs/run-1/transform.json"}, lambda_context)

    assert str(invalid.value) == (f"secret {name}: lacks host, dbname (and no warehouseHost / warehouseDatabase "
                                  "setting given); port is not a port number (1-65535)")
    logged = log_output.getvalue()
    assert '"message":"load failed"' in logged
    assert str(invalid.value) in logged.replace('\\"', '"')
    for text in (logged, *capsys.readouterr()):
        assert PASSWORD not in text
