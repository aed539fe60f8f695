"""Powertools singletons: one logger, one metrics emitter and one tracer per function, named from the env."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from lambdas.shared.constants import METRICS_NAMESPACE, SERVICE_NAME

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)
