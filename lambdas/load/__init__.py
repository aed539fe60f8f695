"""The Load stage: the run's Parquet files -> the PostgreSQL warehouse (schema, views, exactly-once load)."""
