"""The local cloud: PostgreSQL + moto running the synthesized Onyx pipeline without an AWS account."""
