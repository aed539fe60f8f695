"""The four Lambda functions: runtime, handler, tracing, logs, concurrency and environment."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.shared.constants import METRICS_NAMESPACE, SERVICE_NAME, Env
from tests.stacks.conftest import Synthesized

POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    "POWERTOOLS_LOG_LEVEL": "INFO",
    Env.ENV_NAME: "dev",  # every function's metrics name their environment
}


def _function(synthesized: Synthesized, stage: str) -> dict[str, Any]:
    return dict(synthesized.resource(getattr(synthesized.stack.pipeline, stage).function)["Properties"])


STAGES = ("extract", "transform", "load", "advance_watermark")


@pytest.mark.parametrize(
    ("stage", "handler", "memory", "timeout"),
    [
        ("extract", "lambdas.extract.handler.handler", 1024, 900),
        ("transform", "lambdas.transform.handler.handler", 2048, 900),
        ("load", "lambdas.load.handler.handler", 1024, 900),
        ("advance_watermark", "lambdas.watermark.handler.handler", 256, 60),
    ],
)
def test_function_runs_its_stage_handler_on_python_3_12_with_tracing(synthesized, stage, handler, memory, timeout):
    function = _function(synthesized, stage)
    assert function["Handler"] == handler
    assert function["Runtime"] == "python3.12"
    assert function["Architectures"] == ["x86_64"]
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["MemorySize"] == memory
    assert function["Timeout"] == timeout


def test_no_function_reserves_concurrency(synthesized):
    # Overlapping runs are safe (tests/hardening/test_overlap.py); a reservation of 1 made the second of two
    # overlapping runs fail with Lambda.TooManyRequestsException (tests/hardening/test_overlap.py shows it on
    # the local cloud, which enforces what the template reserves), and a new account (concurrency limit 10)
    # refuses any reservation at deploy time.
    functions = synthesized.resources("AWS::Lambda::Function").values()
    assert len(functions) == 6  # four stages, the rebuild's own and the notifier
    assert [f for f in functions if "ReservedConcurrentExecutions" in f["Properties"]] == []


@pytest.mark.parametrize("stage", STAGES)
def test_function_logs_to_its_own_log_group_kept_30_days(synthesized, stage):
    stage_function = getattr(synthesized.stack.pipeline, stage)
    log_group_id = synthesized.logical_id(stage_function.log_group)
    assert _function(synthesized, stage)["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}
    assert synthesized.resource(stage_function.log_group)["Properties"]["RetentionInDays"] == 30


def test_functions_share_one_code_asset(synthesized):
    codes = {str(_function(synthesized, stage)["Code"]) for stage in STAGES}
    assert len(codes) == 1


def test_each_function_gets_only_its_own_settings(synthesized):
    lake = synthesized.stack.data_lake
    ingestion = {"Ref": synthesized.logical_id(lake.ingestion)}
    processed = {"Ref": synthesized.logical_id(lake.processed)}
    environments = {
        stage: _function(synthesized, stage)["Environment"]["Variables"] for stage in STAGES
    }
    assert environments == {
        "extract": {
            **POWERTOOLS,
            Env.INGESTION_BUCKET: ingestion,
            Env.SOURCE_SECRET_NAME: "onyx/dev/totesys",
            Env.SAFETY_LAG_SECONDS: "60",
            Env.SOURCE_SSL_MODE: "require",
        },
        "transform": {**POWERTOOLS, Env.INGESTION_BUCKET: ingestion, Env.PROCESSED_BUCKET: processed},
        "load": {
            **POWERTOOLS,
            Env.PROCESSED_BUCKET: processed,
            Env.WAREHOUSE_SECRET_NAME: "onyx/dev/warehouse",
            Env.WAREHOUSE_SCHEMA: "public",
            Env.WAREHOUSE_SSL_MODE: "require",
        },
        "advance_watermark": {**POWERTOOLS, Env.INGESTION_BUCKET: ingestion},
    }


def test_every_handler_the_stack_names_exists(synthesized):
    """A function whose handler path does not import fails only when invoked: import each one here."""
    import importlib

    for function in synthesized.resources("AWS::Lambda::Function").values():
        module, _, name = function["Properties"]["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
