"""What the three Lambda functions share: constants, the source and star schemas, database access."""
