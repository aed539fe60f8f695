"""The Load stage: the run's Parquet files -> the PostgreSQL warehouse (schema, views, exactly-once load).

`apply_migrations` is the stage's public entry point for code outside it (the local cloud, the bench):
everything else in this package is the stage's own business.
"""

from lambdas.load.migrate import apply_migrations

__all__ = ["apply_migrations"]
