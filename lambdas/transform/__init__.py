"""Transform: the run's JSON Lines -> the eleven star-schema tables as Parquet (docs/design.md sections 1, 2, 4)."""
