"""What opening one database connection costs, per sslmode: `python -m bench.connection [--count N]`.

Every invocation of extract and load opens connections, and so does every test; the figure is the whole
`DatabaseCredentials.connect()` (TCP, the TLS handshake when the mode asks for one, the SCRAM login), then
`close()`, against a throwaway local PostgreSQL (TLS only, as RDS by default), averaged over N connections.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import replace

from lambdas.shared.database import DatabaseCredentials
from local.postgres import PostgresCluster

# The modes the local server accepts (it refuses connections without TLS); verify-* need its CA bundle.
MODES = ("require", "verify-full", "prefer")


def per_connection_ms(credentials: DatabaseCredentials, count: int) -> float:
    """Milliseconds per connect() + close(), over `count` connections (after one that warms the server)."""
    credentials.connect().close()
    started = time.perf_counter()
    for _ in range(count):
        credentials.connect().close()
    return (time.perf_counter() - started) * 1000 / count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.connection", description=__doc__)
    parser.add_argument("--count", type=int, default=100, help="connections per mode (default 100)")
    args = parser.parse_args(argv)
    with PostgresCluster() as cluster:
        database = cluster.create_database("bench_connection")
        assert cluster.ca_file is not None  # made at start: the cluster serves TLS only
        for mode in MODES:
            credentials = replace(database, sslmode=mode,
                                  sslrootcert=str(cluster.ca_file) if mode.startswith("verify") else None)
            print(f"{mode:<12} {per_connection_ms(credentials, args.count):6.1f} ms per connection "
                  f"({args.count} connections)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
