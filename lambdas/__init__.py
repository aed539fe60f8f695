"""Onyx: the code that runs in AWS Lambda (and, unchanged, in the local cloud)."""
