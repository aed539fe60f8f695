"""sslmode with libpq's meanings, against real PostgreSQL servers: one with TLS only (as the local cloud's, and RDS's
with rds.force_ssl), one without TLS, one whose certificate names another host. Each has a CA of its own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pg8000.native
import pytest

from lambdas.extract.source import connect_source
from lambdas.load.runner import connect as connect_warehouse
from lambdas.shared.constants import TRANSIENT_RETRY, Errors
from lambdas.shared.database import DatabaseCredentials
from lambdas.shared.errors import CertificateRejected, DatabaseTlsError, InvalidSecret, TlsRefused
from local.certificates import Authority
from local.postgres import PostgresCluster

# The three clusters are started once, on one worker.
pytestmark = pytest.mark.xdist_group("tls")


def _cluster(cluster: PostgresCluster) -> Iterator[PostgresCluster]:
    with cluster:
        yield cluster


@pytest.fixture(scope="module")
def tls_server() -> Iterator[PostgresCluster]:
    """TLS only, a certificate for 127.0.0.1 and localhost."""
    yield from _cluster(PostgresCluster())


@pytest.fixture(scope="module")
def plain_server() -> Iterator[PostgresCluster]:
    """No TLS at all."""
    yield from _cluster(PostgresCluster(tls=False))


@pytest.fixture(scope="module")
def misnamed_server() -> Iterator[PostgresCluster]:
    """TLS, with a certificate its CA made for db.example.com."""
    yield from _cluster(PostgresCluster(tls_hosts=("db.example.com",)))


@pytest.fixture
def unknown_ca(tmp_path: Path) -> str:
    """The certificate of a CA that signed none of the servers'."""
    path = tmp_path / "unknown-ca.pem"
    path.write_bytes(Authority("Someone else's CA").certificate_pem)
    return str(path)


def _url(cluster: PostgresCluster, sslmode: str, *, ca: bool = True, host: str = "127.0.0.1") -> DatabaseCredentials:
    return replace(cluster.url, host=host, sslmode=sslmode, sslrootcert=str(cluster.ca_file) if ca else None)


def _encrypted(credentials: DatabaseCredentials) -> bool:
    """Whether the server sees this connection encrypted (its own view, pg_stat_ssl)."""
    conn = credentials.connect(timeout=10)
    try:
        ((ssl,),) = conn.run("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        return bool(ssl)
    finally:
        conn.close()


def _where(credentials: DatabaseCredentials) -> str:
    return f"{credentials.host}:{credentials.port}/postgres"


def test_the_default_is_require_which_encrypts_without_verifying(tls_server, misnamed_server, unknown_ca):
    assert DatabaseCredentials("h", 5432, "u", "p", "d").sslmode == "require"
    assert tls_server.url.sslmode == "require"
    assert _encrypted(_url(tls_server, "require", ca=False))
    # a certificate for another host, and a bundle that trusts neither: not checked under require
    assert _encrypted(_url(misnamed_server, "require", ca=False))
    assert _encrypted(replace(_url(tls_server, "require"), sslrootcert=unknown_ca))


@pytest.mark.parametrize("sslmode", ["require", "verify-ca", "verify-full"])
def test_a_mode_needing_tls_refuses_a_server_without_it_with_a_clear_error(plain_server, sslmode):
    credentials = _url(plain_server, sslmode, ca=False)
    with pytest.raises(TlsRefused) as refused:
        credentials.connect(timeout=10)
    assert str(refused.value) == (f"{_where(credentials)}: the server does not support TLS, and sslmode={sslmode} "
                                  "does not connect without it (sslmode=disable connects to a server without TLS)")


def test_disable_sends_no_tls(plain_server, tls_server):
    assert _encrypted(_url(plain_server, "disable")) is False
    # the TLS-only server sees a plain-text connection, and refuses it
    with pytest.raises(pg8000.native.DatabaseError, match="no encryption") as refused:
        _url(tls_server, "disable").connect(timeout=10)
    assert refused.value.args[0]["C"] == "28000"


def test_prefer_takes_tls_when_offered_and_falls_back_to_plain_text_only_when_the_server_refuses_it(
        tls_server, plain_server, misnamed_server):
    assert _encrypted(_url(tls_server, "prefer", ca=False)) is True
    assert _encrypted(_url(misnamed_server, "prefer", ca=False)) is True  # not verified
    assert _encrypted(_url(plain_server, "prefer", ca=False)) is False


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_verify_full_accepts_the_local_ca_s_certificate_for_its_host(tls_server, host):
    assert _encrypted(_url(tls_server, "verify-full", host=host))


def test_verify_ca_accepts_the_chain_whatever_host_the_certificate_names(tls_server, misnamed_server):
    assert _encrypted(_url(tls_server, "verify-ca"))
    assert _encrypted(_url(misnamed_server, "verify-ca"))


def test_verify_full_refuses_a_certificate_for_another_host(misnamed_server):
    credentials = _url(misnamed_server, "verify-full")
    with pytest.raises(CertificateRejected) as rejected:
        credentials.connect(timeout=10)
    assert str(rejected.value) == (
        f"{_where(credentials)}: the server's certificate failed verification against the CA bundle "
        f"{misnamed_server.ca_file} (sslmode=verify-full): IP address mismatch, certificate is not valid for "
        "'127.0.0.1'.")


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
def test_verify_refuses_a_certificate_signed_by_an_unknown_ca(tls_server, unknown_ca, sslmode):
    credentials = replace(_url(tls_server, sslmode), sslrootcert=unknown_ca)
    with pytest.raises(CertificateRejected) as rejected:
        credentials.connect(timeout=10)
    assert str(rejected.value) == (
        f"{_where(credentials)}: the server's certificate failed verification against the CA bundle {unknown_ca} "
        f"(sslmode={sslmode}): unable to get local issuer certificate")


def test_verify_without_a_bundle_trusts_the_default_store_which_does_not_know_the_local_ca(tls_server):
    credentials = _url(tls_server, "verify-full", ca=False)
    with pytest.raises(CertificateRejected) as rejected:
        credentials.connect(timeout=10)
    assert str(rejected.value) == (
        f"{_where(credentials)}: the server's certificate failed verification against the default trust store "
        "(sslmode=verify-full): unable to get local issuer certificate")


def test_a_bundle_that_cannot_be_read_is_named(tls_server, tmp_path):
    missing, empty = tmp_path / "missing.pem", tmp_path / "empty.pem"
    empty.write_text("not a certificate\n")
    with pytest.raises(DatabaseTlsError) as unreadable:
        replace(_url(tls_server, "verify-ca"), sslrootcert=str(missing)).connect(timeout=10)
    assert unreadable.value.reason == f"cannot read the CA bundle {missing} (sslrootcert): No such file or directory"
    with pytest.raises(DatabaseTlsError) as not_pem:
        replace(_url(tls_server, "verify-ca"), sslrootcert=str(empty)).connect(timeout=10)
    assert not_pem.value.reason == f"the CA bundle {empty} (sslrootcert) holds no PEM certificate"


def test_extract_and_load_fail_a_tls_refusal_as_it_is_not_as_a_database_that_is_down(plain_server, tls_server,
                                                                                       unknown_ca):
    """A configuration problem: SourceUnavailable / WarehouseUnavailable would be retried for minutes in vain."""
    refusing = _url(plain_server, "require", ca=False)
    rejecting = replace(_url(tls_server, "verify-full"), sslrootcert=unknown_ca)
    for connect in (connect_source, connect_warehouse):
        with pytest.raises(TlsRefused):
            connect(refusing)
        with pytest.raises(CertificateRejected):
            connect(rejecting)


def test_configuration_problems_are_not_retried_by_the_state_machine():
    names = {cls.__name__ for cls in (DatabaseTlsError, TlsRefused, CertificateRejected, InvalidSecret)}
    assert names == {Errors.DATABASE_TLS, Errors.TLS_REFUSED, Errors.CERTIFICATE_REJECTED, Errors.INVALID_SECRET}
    assert names.isdisjoint(TRANSIENT_RETRY.errors)
