"""Certificates for the throwaway PostgreSQL: a certificate authority made at start, and server certificates it signs.

The local cluster serves TLS with them, so what every test and `make run` exercise is the default, `require`
(encrypted); the authority's certificate lets verify-ca / verify-full be tried against it. ECDSA P-256 keys: made
in a millisecond (RSA takes tens), and accepted by PostgreSQL, OpenSSL and Python's ssl alike.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Long enough for a detached local cloud left running; the key never leaves the throwaway cluster's directory.
VALIDITY: Final = timedelta(days=365)
LOCAL_HOSTS: Final = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class KeyPair:
    """A certificate and its private key, PEM-encoded."""

    certificate: bytes
    key: bytes

    def write(self, certificate_path: Path, key_path: Path) -> None:
        """Both files; the key readable by its owner only (PostgreSQL refuses a key others may read)."""
        certificate_path.write_bytes(self.certificate)
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as key_file:
            key_file.write(self.key)


class Authority:
    """A certificate authority of its own: trusted by nobody but whoever is given `certificate_pem`."""

    def __init__(self, name: str = "Onyx local CA") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(UTC)
        public_key = self._key.public_key()
        self.certificate = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(self, hosts: Sequence[str] = LOCAL_HOSTS) -> KeyPair:
        """A server certificate for `hosts` (names and IP addresses, each a subject alternative name)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.certificate.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + VALIDITY)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return KeyPair(certificate=certificate.public_bytes(serialization.Encoding.PEM),
                       key=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()))
