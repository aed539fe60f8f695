"""Database credentials (the Secrets Manager JSON shape, or a URL) and pg8000 connections."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pg8000.native

# libpq's sslmode values, with libpq's meanings (`allow`, plain text first, is not offered).
SSL_MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_SSL_MODE = "require"


@dataclass(frozen=True)
class DatabaseCredentials:
    """Where a PostgreSQL database is and how to log in. The password never shows in repr/str."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    dbname: str
    sslmode: str = "disable"

    def __post_init__(self) -> None:
        if self.sslmode not in SSL_MODES:
            raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}, not {self.sslmode!r}")

    @classmethod
    def from_secret(cls, secret: dict[str, Any]) -> DatabaseCredentials:
        """From the secret's JSON: {host, port, username, password, dbname[, sslmode]} (the RDS shape)."""
        missing = [k for k in ("host", "username", "password", "dbname") if not secret.get(k)]
        if missing:
            raise ValueError(f"database secret lacks {', '.join(missing)}")
        return cls(host=str(secret["host"]), port=int(secret.get("port", 5432)), username=str(secret["username"]),
                   password=str(secret["password"]), dbname=str(secret["dbname"]),
                   sslmode=str(secret.get("sslmode", "disable")))

    @classmethod
    def from_url(cls, url: str) -> DatabaseCredentials:
        """From `postgresql://user:password@host:port/dbname?sslmode=...`."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
            raise ValueError("expected a URL like postgresql://user:password@host:5432/dbname")
        query = parse_qs(parts.query)
        return cls(host=parts.hostname, port=parts.port or 5432, username=unquote(parts.username or "postgres"),
                   password=unquote(parts.password or ""), dbname=unquote(parts.path.strip("/")),
                   sslmode=query.get("sslmode", ["disable"])[0])

    def to_secret(self) -> dict[str, Any]:
        return {"host": self.host, "port": self.port, "username": self.username, "password": self.password,
                "dbname": self.dbname, "sslmode": self.sslmode}

    def to_url(self) -> str:
        """The full URL, password included: for handing to a trusted process, never for printing."""
        return (f"postgresql://{quote(self.username, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}"
                f"/{quote(self.dbname, safe='')}?sslmode={self.sslmode}")

    def __str__(self) -> str:
        return f"postgresql://{self.username}@{self.host}:{self.port}/{self.dbname}"

    def with_dbname(self, dbname: str) -> DatabaseCredentials:
        return replace(self, dbname=dbname)

    def connect(self, timeout: float = 10, application_name: str = "onyx",
                io_timeout: float | None = None) -> pg8000.native.Connection:
        """Connect within `timeout` seconds; afterwards a statement may run for `io_timeout` (None: no limit).

        pg8000 applies one socket timeout to everything, which would cut a long COPY or its deferred
        foreign-key checks short, so the limit is relaxed once the session is established.
        """
        conn = pg8000.native.Connection(
            user=self.username, password=self.password, host=self.host, port=self.port, database=self.dbname,
            ssl_context=_ssl_context(self.sslmode), timeout=timeout, application_name=application_name,
        )
        conn._usock.settimeout(io_timeout)
        # As libpq does: without it, each COPY ... FROM STDIN waits ~40 ms for the server's delayed ACK (Nagle).
        if conn._usock.family in (socket.AF_INET, socket.AF_INET6):
            conn._usock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn


def _ssl_context(sslmode: str) -> ssl.SSLContext | bool:
    if sslmode == "disable":  # no TLS at all: pg8000 reads None as "try TLS first", False as "never"
        return False
    context = ssl.create_default_context()
    if sslmode == "require":  # encrypted, but the server's certificate is not checked (libpq's meaning)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
