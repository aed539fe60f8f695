"""Credentials from a URL or a secret, and what a connection sends first: `sslmode=disable` means no TLS at all, as
libpq's users read it; every other mode asks for TLS first (tests/shared/test_tls.py: what each does with the
answer)."""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import replace

import pg8000.native
import pytest

from lambdas.shared.database import DatabaseCredentials

SSL_REQUEST = 80877103  # the code a client sends to ask for TLS before its startup message
PROTOCOL_3 = 196608  # a startup message, protocol 3.0


def _first_message_code(sslmode: str) -> int:
    """Connect to a listener that records the code of the first message and hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[int] = []

    def accept() -> None:
        conn, _ = listener.accept()
        with conn:
            _length, code = struct.unpack("!ii", conn.recv(8))
            seen.append(code)

    thread = threading.Thread(target=accept)
    thread.start()
    credentials = DatabaseCredentials(host="127.0.0.1", port=listener.getsockname()[1], username="u", password="p",
                                      dbname="d", sslmode=sslmode)
    with pytest.raises(Exception):  # noqa: B017, PT011 - the listener hangs up; only what it saw matters
        credentials.connect(timeout=5)
    thread.join(timeout=5)
    listener.close()
    return seen[0]


def test_sslmode_disable_sends_the_startup_message_without_asking_for_tls():
    assert _first_message_code("disable") == PROTOCOL_3


@pytest.mark.parametrize("sslmode", ["prefer", "require", "verify-ca", "verify-full"])
def test_every_other_sslmode_asks_for_tls_first(sslmode):
    assert _first_message_code(sslmode) == SSL_REQUEST


def test_require_is_the_default_of_credentials_urls_secrets_and_the_settings():
    from stacks.config import OnyxConfig

    assert DatabaseCredentials("h", 5432, "u", "p", "d").sslmode == "require"
    assert DatabaseCredentials.from_url("postgresql://u:p@h/d").sslmode == "require"
    assert DatabaseCredentials.from_secret({"host": "h", "username": "u", "password": "p", "dbname": "d"}).sslmode \
        == "require"
    config = OnyxConfig(source_secret_name="s", warehouse_secret_name="w")
    assert (config.source_ssl_mode, config.warehouse_ssl_mode) == ("require", "require")


def test_a_url_carries_sslmode_and_sslrootcert_as_libpq_s_query_parameters():
    url = ("postgresql://an%40alyst:p%2Fw@db.example.com:6432/dwh"  # pragma: allowlist secret
           "?sslmode=verify-full&sslrootcert=certs/rds%20ca.pem")
    credentials = DatabaseCredentials.from_url(url)
    assert credentials == DatabaseCredentials(host="db.example.com", port=6432, username="an@alyst",
                                              password="p/w",  # pragma: allowlist secret
                                              dbname="dwh", sslmode="verify-full", sslrootcert="certs/rds ca.pem")
    assert credentials.to_url() == url
    assert DatabaseCredentials.from_url(credentials.to_url()) == credentials
    assert credentials.public_url() == \
        "postgresql://an%40alyst@db.example.com:6432/dwh?sslmode=verify-full&sslrootcert=certs/rds%20ca.pem"
    assert credentials.to_secret() == {"host": "db.example.com", "port": 6432, "username": "an@alyst",
                                       "password": "p/w",  # pragma: allowlist secret
                                       "dbname": "dwh", "sslmode": "verify-full", "sslrootcert": "certs/rds ca.pem"}


def test_a_connection_sends_small_writes_at_once_as_libpq_does(pg_server):
    """TCP_NODELAY: without it each COPY ... FROM STDIN waited ~40 ms for the server's delayed ACK."""
    conn = pg_server.connect()
    try:
        assert conn._usock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()


def test_small_writes_go_at_once_from_the_tls_handshake_on(pg_server, monkeypatch):
    """TCP_NODELAY before the first byte: set after pg8000's handshake and login, it had let Nagle hold three writes
    of each connection for the server's delayed ACK (52 ms a connection instead of 6)."""
    real = pg8000.native.Connection
    seen: list[int] = []

    def spying(*args: object, sock: socket.socket, **kwargs: object) -> pg8000.native.Connection:
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        return real(*args, sock=sock, **kwargs)

    monkeypatch.setattr(pg8000.native, "Connection", spying)
    pg_server.connect().close()
    assert [bool(value) for value in seen] == [True]


def test_a_refused_connection_is_pg8000_s_interface_error_as_before(pg_server):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(pg8000.native.InterfaceError, match=f"Can't create a connection to host 127.0.0.1 and port "
                                                           f"{port}") as refused:
        replace(pg_server, port=port).connect(timeout=5)
    assert isinstance(refused.value.__cause__, ConnectionRefusedError)
