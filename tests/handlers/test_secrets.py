"""`secret_credentials`: a block that cannot reach its database makes the next read fetch the secret afresh (it may
have been rotated); any other failure keeps the cached copy. Real connections, to a closed port and to PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import pg8000.native
import pytest

from lambdas.extract.source import connect_source
from lambdas.load.runner import connect as connect_warehouse
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import InvalidData, SourceUnavailable, WarehouseUnavailable
from lambdas.shared.secrets import secret_credentials
from local.postgres import free_port
from tests.fixtures.aws import Aws

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
