"""What serves any warehouse, local or on AWS: the warehouse checks, the reconciliation with the source, the report."""
