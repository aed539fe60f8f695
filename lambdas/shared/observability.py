"""Powertools singletons (one logger, metrics emitter and tracer per function), the one way every handler is
wrapped by them, and the one way rows per table are counted."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any, Final

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from lambdas.shared.constants import (
    ENVIRONMENT_DIMENSION,
    METRICS_NAMESPACE,
    SERVICE_DIMENSION,
    SERVICE_NAME,
    TABLE_DIMENSION,
    Env,
)

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME)

# Every state's input carries the run id (the execution name): every log line of the run carries it too.
CORRELATION_ID_PATH: Final = "run_id"

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def stage_handler(stage: str, correlation_id_path: str = CORRELATION_ID_PATH) -> Callable[[Handler], Handler]:
    """Wrap a Lambda handler as every Onyx handler is, in the order of Powertools' own examples: the logger
    outermost, so the run id is the correlation id of every line written during the invocation (the tracer's
    and the metrics' included); the tracer next, so the handler's segment spans the whole invocation; the
    metrics innermost, flushed (also on failure) before the logger's context is cleared. A failure is logged
    once, with the run id, before it reaches Lambda (which logs it without one). `correlation_id_path`: where
    the event holds the run id (a state's input has it at `run_id`)."""

    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def run(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            run_id = logger.get_correlation_id()
            if isinstance(run_id, str):
                metrics.add_metadata(key=CORRELATION_ID_PATH, value=run_id)
            try:
                # A default dimension: every metric of this invocation and the next ones carries it (set again
                # only if it changed, since Powertools warns on every overwrite).
                environment = environment_name()
                if metrics.default_dimensions.get(ENVIRONMENT_DIMENSION) != environment:
                    metrics.set_default_dimensions(**{ENVIRONMENT_DIMENSION: environment})
                return handler(event, context)
            except Exception:
                logger.exception(f"{stage} failed")
                raise

        with_metrics = metrics.log_metrics(run)
        traced = tracer.capture_lambda_handler(with_metrics)
        wrapped: Handler = logger.inject_lambda_context(traced, correlation_id_path=correlation_id_path,
                                                        log_event=False)
        return wrapped

    return wrap


def rows_per_table(metric_name: str, counts: Mapping[str, int]) -> None:
    """One metric per table with exactly the dimensions ROWS_PER_TABLE_DIMENSIONS (the dashboard searches for
    those): the service, whatever POWERTOOLS_SERVICE_NAME says, the environment, and the table. Single metrics,
    since the emitter holds one dimension set for all its metrics; its default dimensions are named here, not
    inherited, so that nothing else set on the emitter can change this schema."""
    dimensions = {SERVICE_DIMENSION: SERVICE_NAME, ENVIRONMENT_DIMENSION: environment_name()}
    for table, rows in counts.items():
        with single_metric(name=metric_name, unit=MetricUnit.Count, value=rows, namespace=metrics.namespace,
                           default_dimensions=dimensions) as metric:
            metric.add_dimension(name=TABLE_DIMENSION, value=table)


def environment_name() -> str:
    """The environment this function was deployed as (`Env.ENV_NAME`, set on every function by the stack).

    Missing, it fails the invocation (and so the run, with an alert naming the variable) rather than emit metrics
    without it: those would match no search of the dashboard and no alarm, and go unseen.
    """
    name = os.environ.get(Env.ENV_NAME, "").strip()
    if not name:
        raise RuntimeError(f"{Env.ENV_NAME} is not set: every Onyx function names its environment in its metrics "
                           "(the stack sets it; so must whatever else runs the handler)")
    return name
