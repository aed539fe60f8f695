"""Onyx infrastructure (AWS CDK): one stack per environment, one module per concern."""
