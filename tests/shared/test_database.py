"""What a connection sends first: `sslmode=disable` means no TLS at all, as libpq's users read it."""

from __future__ import annotations

import socket
import struct
import threading

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


def test_sslmode_require_asks_for_tls_first():
    assert _first_message_code("require") == SSL_REQUEST


def test_a_connection_sends_small_writes_at_once_as_libpq_does(pg_server):
    """TCP_NODELAY: without it each COPY ... FROM STDIN waited ~40 ms for the server's delayed ACK."""
    conn = pg_server.connect()
    try:
        assert conn._usock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()
