"""Every custom metric names its environment: the exact EMF dimension sets the handlers print (rows per table and
run-level metrics), read back from stdout, and the dashboard's searches matching exactly those."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.shared.constants import METRICS_NAMESPACE, Env, RowMetrics
from lambdas.shared.observability import metrics, rows_per_table, stage_handler
from stacks.monitoring import ROW_METRICS
from stacks.monitoring import rows_per_table as dashboard_search
from tests.fixtures.observability import Metric


@stage_handler("probe")
def _probe(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A handler as every Onyx handler is wrapped: one run-level metric and the rows per table."""
    metrics.add_metric(name="RunsProbed", unit="Count", value=1)
    rows_per_table(RowMetrics.LOADED, {"dim_staff": 2})
    return {"run_id": event["run_id"]}


def test_rows_per_table_emits_one_count_per_table_with_the_service_environment_and_table(emitted_metrics,
                                                                                         monkeypatch):
    monkeypatch.setenv(Env.ENV_NAME, "prod")

    rows_per_table(RowMetrics.LOADED, {"dim_staff": 3, "fact_sales_order": 0})

    assert emitted_metrics() == [
        Metric("Onyx", {"service": "onyx", "environment": "prod", "Table": "dim_staff"}, "RowsLoaded", "Count", [3.0]),
        Metric("Onyx", {"service": "onyx", "environment": "prod", "Table": "fact_sales_order"}, "RowsLoaded", "Count",
               [0.0]),
    ]


def test_rows_per_table_names_the_service_whatever_the_environment_says(emitted_metrics, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")

    rows_per_table(RowMetrics.EXTRACTED, {"staff": 2})

    assert emitted_metrics() == [Metric("Onyx", {"service": "onyx", "environment": "test", "Table": "staff"},
                                        "RowsExtracted", "Count", [2.0])]


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_a_handler_emits_every_metric_with_its_environment(emitted_metrics, monkeypatch, lambda_context, env_name):
    monkeypatch.setenv(Env.ENV_NAME, env_name)

    _probe({"run_id": "run-1"}, lambda_context)

    # The EMF documents exactly: the run-level metric with the emitter's dimension set (service and environment),
    # the row count with its own (service, environment, table).
    assert emitted_metrics() == [
        Metric("Onyx", {"service": "onyx", "environment": env_name, "Table": "dim_staff"}, "RowsLoaded", "Count",
               [2.0]),
        Metric("Onyx", {"service": "onyx", "environment": env_name}, "RunsProbed", "Count", [1.0]),
    ]


def test_a_warm_function_keeps_naming_its_environment_on_every_invocation(emitted_metrics, lambda_context):
    for run_id in ("run-1", "run-2"):
        _probe({"run_id": run_id}, lambda_context)

    assert [m.dimensions for m in emitted_metrics() if m.name == "RunsProbed"] == [
        {"service": "onyx", "environment": "test"}] * 2


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_a_function_without_its_environment_fails_instead_of_emitting_unseen_metrics(emitted_metrics, monkeypatch,
                                                                                      lambda_context):
    monkeypatch.delenv(Env.ENV_NAME)

    with pytest.raises(RuntimeError, match=f"^{Env.ENV_NAME} is not set: every Onyx function names its environment"):
        _probe({"run_id": "run-1"}, lambda_context)
    assert emitted_metrics() == []


@pytest.mark.parametrize(("verb", "metric_name"), ROW_METRICS)
def test_the_dashboard_searches_exactly_the_schema_and_environment_the_helper_emits(emitted_metrics, monkeypatch,
                                                                                      verb, metric_name):
    monkeypatch.setenv(Env.ENV_NAME, "prod")
    rows_per_table(metric_name, {"staff": 1})

    (metric,) = emitted_metrics()
    schema = "{" + ",".join([metric.namespace, *metric.dimensions]) + "}"
    assert dashboard_search(metric_name, "prod") == (
        f"SEARCH('{schema} environment=\"{metric.dimensions['environment']}\" MetricName=\"{metric.name}\"', "
        "'Sum', 900)")
    assert metric.namespace == METRICS_NAMESPACE


def test_powertools_dev_mode_would_silence_the_run_metrics(emitted_metrics, monkeypatch):
    """Why `emitted_metrics` unsets POWERTOOLS_DEV: with it the emitter's flush prints nothing."""
    monkeypatch.setenv("POWERTOOLS_DEV", "true")
    try:
        metrics.add_metric(name="RunsLoaded", unit="Count", value=1)
        metrics.flush_metrics()
        assert emitted_metrics() == []
    finally:
        metrics.clear_metrics()

    monkeypatch.delenv("POWERTOOLS_DEV")
    metrics.add_metric(name="RunsLoaded", unit="Count", value=1)
    metrics.flush_metrics()
    (metric,) = emitted_metrics()
    assert (metric.name, metric.dimensions["service"]) == ("RunsLoaded", "onyx")
