"""libpq's sslmode values with libpq's meanings, for pg8000; and a TLS failure told apart from a database that is down.

What pg8000 1.31 does with its `ssl_context` (pg8000/core.py, `_make_socket`):
  False       sends no TLS request at all: the startup message goes first, in plain text;
  None        sends the TLS request; "S" -> TLS without any verification, "N" -> carries on in plain text;
  SSLContext  sends the TLS request; "S" -> the socket is wrapped with the context (server_hostname = the host),
              "N" -> InterfaceError("Server refuses SSL").
So `disable` is False, `prefer` is None (falls back only when the server refuses TLS, as asked), and `require`,
`verify-ca` and `verify-full` are contexts that differ only in what they check.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Final

import pg8000.native

from lambdas.shared.errors import CertificateRejected, DatabaseTlsError, TlsRefused

# pg8000's words when the server answers the TLS request with "N".
_REFUSED: Final = "Server refuses SSL"
# Where the functions' code is when LAMBDA_TASK_ROOT is not set: the directory holding the `lambdas` package (the
# checkout, from which the local cloud and the operator's tools run the handlers).
_PACKAGE_ROOT: Final = Path(__file__).resolve().parents[2]


def code_root() -> Path:
    """The root of the functions' code: LAMBDA_TASK_ROOT on Lambda (/var/task, where the asset is unpacked), the
    checkout otherwise. A CA bundle named by a relative path (the sslRootCert setting) is shipped there."""
    return Path(os.environ.get("LAMBDA_TASK_ROOT") or _PACKAGE_ROOT)


def bundle_path(path: str) -> str:
    """A CA bundle path as a secret or the settings give it: absolute as it is, relative from the code root."""
    return str(Path(path) if Path(path).is_absolute() else code_root() / path)


def ssl_context(sslmode: str, sslrootcert: str | None, where: str) -> ssl.SSLContext | bool | None:
    """pg8000's `ssl_context` for an sslmode. `sslrootcert`: the PEM bundle of the CAs verify-ca and verify-full
    trust (None: the default trust store). A bundle that cannot be read is a DatabaseTlsError naming it."""
    if sslmode == "disable":
        return False
    if sslmode == "prefer":
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if sslmode == "require":  # encrypted, the certificate not checked (even with a bundle: set verify-ca for that)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context.check_hostname = sslmode == "verify-full"
    context.verify_mode = ssl.CERT_REQUIRED
    # As libpq does not: Python 3.13 turns on RFC 5280's strict checks, which refuse certificates libpq accepts.
    context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    if sslrootcert is None:
        context.load_default_certs()
        return context
    try:
        context.load_verify_locations(cafile=sslrootcert)
    except ssl.SSLError:
        raise DatabaseTlsError(where, f"the CA bundle {sslrootcert} (sslrootcert) holds no PEM certificate") \
            from None
    except OSError as exc:
        raise DatabaseTlsError(where, f"cannot read the CA bundle {sslrootcert} (sslrootcert): "
                                      f"{exc.strerror or exc}") from None
    return context


def tls_failure(exc: BaseException, sslmode: str, sslrootcert: str | None, where: str) -> DatabaseTlsError | None:
    """The configuration problem a failed connection shows, or None when it is no TLS problem (the network, the
    server, a login: classified as before)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        trusted = f"the CA bundle {sslrootcert}" if sslrootcert else "the default trust store"
        return CertificateRejected(where, f"the server's certificate failed verification against {trusted} "
                                          f"(sslmode={sslmode}): {exc.verify_message or exc.reason}")
    if isinstance(exc, pg8000.native.InterfaceError) and exc.args == (_REFUSED,):
        return TlsRefused(where, f"the server does not support TLS, and sslmode={sslmode} does not connect without "
                                 "it (sslmode=disable connects to a server without TLS)")
    return None
