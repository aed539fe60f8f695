"""Database credentials (the Secrets Manager JSON shape, or a URL) and pg8000 connections."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field, replace
from typing import Any, Final
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pg8000.native

from lambdas.shared.tls import bundle_path, ssl_context, tls_failure

# libpq's sslmode values, with libpq's meanings (`allow`, plain text first, is not offered).
SSL_MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_SSL_MODE = "require"
DEFAULT_PORT: Final = 5432  # libpq's
# The fields of a secret, and the setting that stands in for each when the secret lacks it ("source"/"warehouse"
# + the suffix; the CA bundle's is one setting for both).
SETTING_SUFFIXES: Final = {"host": "Host", "port": "Port", "dbname": "Database", "sslmode": "SslMode"}


@dataclass(frozen=True)
class DatabaseSettings:
    """What a function's settings say about its database, for the fields its secret does not give (the secret RDS
    manages holds only `username` and `password`). `role` ("source" or "warehouse") names the settings in errors."""

    role: str
    host: str | None = None
    port: int | None = None
    dbname: str | None = None
    sslmode: str = DEFAULT_SSL_MODE
    sslrootcert: str | None = None  # as the setting gives it: a path relative to the code root

    def setting(self, name: str) -> str:
        """The setting that stands in for the secret's field `name`: host -> sourceHost, sslrootcert -> sslRootCert."""
        return "sslRootCert" if name == "sslrootcert" else f"{self.role}{SETTING_SUFFIXES[name]}"


@dataclass(frozen=True)
class DatabaseCredentials:
    """Where a PostgreSQL database is and how to log in. The password never shows in repr/str."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    dbname: str
    sslmode: str = DEFAULT_SSL_MODE
    sslrootcert: str | None = None  # libpq's: the PEM bundle of the CAs verify-ca / verify-full trust

    def __post_init__(self) -> None:
        if self.sslmode not in SSL_MODES:
            raise ValueError(f"sslmode must be one of {', '.join(SSL_MODES)}, not {self.sslmode!r}")

    @classmethod
    def from_secret(cls, secret: dict[str, Any], settings: DatabaseSettings | None = None) -> DatabaseCredentials:
        """From the secret's JSON: `username` and `password`, and `host`, `port`, `dbname`, `sslmode`, `sslrootcert`
        where it has them (RDS's own secrets have some, or none); `settings` gives the rest. The secret's field wins:
        it is what an operator (or a rotation) edits without a deploy. A relative `sslrootcert` is a path from the
        code root (tls.code_root). Raises ValueError naming every missing or bad field, never a value."""
        settings = settings or DatabaseSettings(role="")
        bad: dict[str, str] = {}  # field -> what is wrong with it

        def text(name: str) -> str | None:
            value = secret.get(name)
            if value is None or value == "":
                return None
            if not isinstance(value, str):
                bad[name] = f"{name} is not a string"
                return None
            return value

        username, password = text("username"), text("password")
        host, dbname = text("host") or settings.host, text("dbname") or settings.dbname
        port = _port(secret.get("port"), bad) or settings.port or DEFAULT_PORT
        sslmode = text("sslmode") or settings.sslmode
        if sslmode not in SSL_MODES:
            bad["sslmode"] = f"sslmode is not one of {', '.join(SSL_MODES)}"
        sslrootcert = text("sslrootcert") or settings.sslrootcert
        given = {"username": username, "password": password, "host": host, "dbname": dbname}
        missing = [name for name, value in given.items() if value is None and name not in bad]
        problems = list(bad.values())
        if missing:
            stand_ins = [settings.setting(name) for name in missing if settings.role and name in SETTING_SUFFIXES]
            problems.insert(0, f"lacks {', '.join(missing)}" + _nor(stand_ins))
        if problems or username is None or password is None or host is None or dbname is None:
            raise ValueError("; ".join(problems))
        return cls(host=host, port=port, username=username, password=password, dbname=dbname, sslmode=sslmode,
                   sslrootcert=bundle_path(sslrootcert) if sslrootcert else None)

    @classmethod
    def from_url(cls, url: str) -> DatabaseCredentials:
        """From `postgresql://user:password@host:port/dbname?sslmode=...&sslrootcert=...` (libpq's query parameters;
        a relative sslrootcert is relative to the working directory, as for libpq)."""
        parts = urlsplit(url)
        if parts.scheme not in ("postgresql", "postgres") or not parts.hostname or not parts.path.strip("/"):
            raise ValueError("expected a URL like postgresql://user:password@host:5432/dbname")
        query = parse_qs(parts.query)
        return cls(host=parts.hostname, port=parts.port or DEFAULT_PORT, username=unquote(parts.username or "postgres"),
                   password=unquote(parts.password or ""), dbname=unquote(parts.path.strip("/")),
                   sslmode=query.get("sslmode", [DEFAULT_SSL_MODE])[0],
                   sslrootcert=query.get("sslrootcert", [None])[0])

    def to_secret(self) -> dict[str, Any]:
        """The secret's JSON, every field given (sslrootcert only when there is one)."""
        secret: dict[str, Any] = {"host": self.host, "port": self.port, "username": self.username,
                                  "password": self.password, "dbname": self.dbname, "sslmode": self.sslmode}
        return secret | ({"sslrootcert": self.sslrootcert} if self.sslrootcert else {})

    def to_url(self) -> str:
        """The full URL, password included: for handing to a trusted process, never for printing."""
        return (f"postgresql://{quote(self.username, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}"
                f"/{quote(self.dbname, safe='')}?{self._query()}")

    def public_url(self) -> str:
        """The URL without the password, with its sslmode: for messages."""
        return f"postgresql://{quote(self.username, safe='')}@{self.host}:{self.port}/{quote(self.dbname, safe='')}" \
               f"?{self._query()}"

    def _query(self) -> str:
        return f"sslmode={self.sslmode}" + (f"&sslrootcert={quote(self.sslrootcert)}" if self.sslrootcert else "")

    def __str__(self) -> str:
        return f"postgresql://{self.username}@{self.host}:{self.port}/{self.dbname}"

    def with_dbname(self, dbname: str) -> DatabaseCredentials:
        return replace(self, dbname=dbname)

    def connect(self, timeout: float = 10, application_name: str = "onyx",
                io_timeout: float | None = None) -> pg8000.native.Connection:
        """Connect within `timeout` seconds; afterwards a statement may run for `io_timeout` (None: no limit).

        pg8000 applies one socket timeout to everything, which would cut a long COPY or its deferred
        foreign-key checks short, so the limit is relaxed once the session is established.
        A connection its sslmode cannot have (no TLS on the server, a certificate that fails verification, an
        unreadable CA bundle) is a DatabaseTlsError; any other failure is pg8000's, as before.
        """
        where = f"{self.host}:{self.port}/{self.dbname}"  # never the password
        context = ssl_context(self.sslmode, self.sslrootcert, where)
        sock = _tcp_socket(self.host, self.port, timeout)
        try:
            # Given the socket, pg8000 uses `host` only as the name verify-full checks the certificate against.
            conn = pg8000.native.Connection(
                user=self.username, password=self.password, host=self.host, port=self.port, sock=sock,
                database=self.dbname, ssl_context=context, timeout=timeout, application_name=application_name,
            )
        except (pg8000.native.InterfaceError, ssl.SSLCertVerificationError) as exc:
            sock.close()
            failure = tls_failure(exc, self.sslmode, self.sslrootcert, where)
            if failure is None:
                raise
            raise failure from exc
        except BaseException:
            sock.close()
            raise
        conn._usock.settimeout(io_timeout)
        return conn


def _tcp_socket(host: str, port: int, timeout: float) -> socket.socket:
    """The connection's socket, with TCP_NODELAY from the start, as libpq sets it. Without it Nagle's algorithm holds
    each small write until the server's delayed ACK (about 40 ms): three times per TLS handshake and login (a
    connection took 52 ms instead of 5), and once per COPY ... FROM STDIN. A failure is pg8000's own InterfaceError,
    as when pg8000 makes the socket, so it is classified as before."""
    try:
        sock = socket.create_connection((host, port), timeout)
    except OSError as exc:
        raise pg8000.native.InterfaceError(
            f"Can't create a connection to host {host} and port {port} (timeout is {timeout} and source_address "
            "is None).") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _nor(settings: list[str]) -> str:
    return f" (and no {' / '.join(settings)} setting given)" if settings else ""


def _port(value: Any, bad: dict[str, str]) -> int | None:
    """A secret's port: a number or a string of digits (RDS writes a number), 1-65535; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    bad["port"] = "port is not a port number (1-65535)"
    return None
