"""Rows per table: one helper, one dimension set, the one the dashboard searches; read back from the EMF printed."""

from __future__ import annotations

import pytest

from lambdas.shared.constants import METRICS_NAMESPACE, RowMetrics
from lambdas.shared.observability import metrics, rows_per_table
from stacks.monitoring import ROW_METRICS
from stacks.monitoring import rows_per_table as dashboard_search
from tests.fixtures.observability import Metric


def test_rows_per_table_emits_one_count_per_table_with_the_service_and_table_dimensions(emitted_metrics):
    rows_per_table(RowMetrics.LOADED, {"dim_staff": 3, "fact_sales_order": 0})

    assert emitted_metrics() == [
        Metric("Onyx", {"service": "onyx", "Table": "dim_staff"}, "RowsLoaded", "Count", [3.0]),
        Metric("Onyx", {"service": "onyx", "Table": "fact_sales_order"}, "RowsLoaded", "Count", [0.0]),
    ]


def test_rows_per_table_names_the_service_whatever_the_environment_says(emitted_metrics, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_SERVICE_NAME")

    rows_per_table(RowMetrics.EXTRACTED, {"staff": 2})

    assert emitted_metrics() == [Metric("Onyx", {"service": "onyx", "Table": "staff"}, "RowsExtracted", "Count",
                                        [2.0])]


@pytest.mark.parametrize(("verb", "metric_name"), ROW_METRICS)
def test_the_dashboard_searches_exactly_the_schema_the_helper_emits(emitted_metrics, verb, metric_name):
    rows_per_table(metric_name, {"staff": 1})

    (metric,) = emitted_metrics()
    schema = "{" + ",".join([metric.namespace, *metric.dimensions]) + "}"
    assert dashboard_search(metric_name) == f"SEARCH('{schema} MetricName=\"{metric.name}\"', 'Sum', 900)"
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
    assert emitted_metrics() == [Metric("Onyx", {"service": "onyx"}, "RunsLoaded", "Count", [1.0])]
