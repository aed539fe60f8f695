"""Transform: the run's JSON Lines -> the eleven star-schema tables as Parquet (DESIGN.md sections 1, 3, 4)."""
