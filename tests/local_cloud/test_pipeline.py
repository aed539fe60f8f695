"""The synthesized pipeline end to end on the local cloud: real state machine, real handlers, real databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl, retrier_decl

from lambdas.shared.constants import TRANSIENT_RETRY, Env, States
from lambdas.shared.database import DatabaseCredentials
from local.postgres import create_database, drop_database
from local.seed.load import seed_generated
from local.seed.schema import RENAMED_ENUMS, TEXT_ENUMS, SchemaVariant
from local.simulate import Activity, simulate
from ops.executions import redrive
from tests.fixtures.local_cloud import use_fresh_databases
from tests.fixtures.postgres import SEEDED_SCALE
from tests.local_cloud.helpers import RetryClock, outage_first, reconciled, warehouse_contents
from tests.sql import run_sql

SOURCE_VARIANTS: dict[str, SchemaVariant] = {"enum types named otherwise": RENAMED_ENUMS,
                                             "text columns": TEXT_ENUMS}


def _invocations(cloud, function: str) -> list[str | None]:
    return [i.error_type for i in cloud.moto.invoker.invocations if function in i.function_name]


@pytest.fixture
def retry_clock(monkeypatch) -> RetryClock:
    clock = RetryClock()
    monkeypatch.setattr(retrier_decl, "time", clock.time)
    monkeypatch.setattr(jitter_strategy_decl, "random", clock.random)
    return clock


@pytest.fixture(scope="module")
def variant_templates(pg_server: DatabaseCredentials) -> Iterator[dict[str, str]]:
    """Per SOURCE_VARIANTS, a template database holding the module cloud's seeded source (same scale, same seed,
    same rows) in a schema whose enum columns are declared that way."""
    names = {label: f"onyx_test_tpl_variant_{uuid.uuid4().hex[:8]}" for label in SOURCE_VARIANTS}
    try:
        for label, name in names.items():
            seed_generated(create_database(pg_server, name), SEEDED_SCALE, seed=7, variant=SOURCE_VARIANTS[label])
        yield names
    finally:
        for name in names.values():
            drop_database(pg_server, name)


def _without_ledger(contents: dict[str, list]) -> dict[str, list]:
    return {table: rows for table, rows in contents.items() if table != "onyx_run"}  # run ids differ


def test_full_load_then_incremental_run_reconcile_with_the_source(cloud):
    full = cloud.execute()
    assert full.succeeded, full.error
    assert reconciled(cloud) == []
    assert full.extracted["sales_order"] == 300
    assert full.loaded["fact_sales_order"] == 300
    assert list(full.state_seconds) == [States.MODE, States.FIND_REBUILD, States.REBUILD_RUNNING, States.EXTRACT,
                                        States.HAS_CHANGES, States.TRANSFORM, States.LOAD, States.ADVANCE_WATERMARK,
                                        States.DONE]
    # Each task ran its own function, AdvanceWatermark's included, as the template deployed them.
    assert [(i.handler, i.ok) for i in cloud.moto.invoker.invocations] == [
        ("lambdas.extract.handler.handler", True), ("lambdas.transform.handler.handler", True),
        ("lambdas.load.handler.handler", True), ("lambdas.watermark.handler.handler", True)]
    assert len({i.function_name for i in cloud.moto.invoker.invocations}) == 4

    simulate(DatabaseCredentials.from_url(cloud.state.source_url),
             Activity(new_sales_orders=20, new_purchase_orders=5, amended_orders=10, payments_made=7))
    incremental = cloud.execute()

    assert incremental.succeeded, incremental.error
    assert reconciled(cloud) == []
    assert incremental.extracted["sales_order"] >= 20
    assert incremental.loaded["fact_sales_order"] == incremental.extracted["sales_order"]

    nothing = cloud.execute()
    assert nothing.succeeded
    assert sum(nothing.extracted.values()) == 0
    assert list(nothing.state_seconds) == [States.MODE, States.FIND_REBUILD, States.REBUILD_RUNNING, States.EXTRACT,
                                           States.HAS_CHANGES, States.DONE]


@pytest.mark.parametrize("outages", [1, 2])
def test_a_source_outage_is_retried_with_the_configured_backoff(cloud, retry_clock, outages):
    cloud.moto.invoker.fault = outage_first(cloud, "Extract", Env.SOURCE_SECRET_NAME, outages)

    outcome = cloud.execute()

    assert outcome.succeeded, outcome.error
    assert _invocations(cloud, "Extract")[:outages + 1] == ["SourceUnavailable"] * outages + [None]
    expected = [min(TRANSIENT_RETRY.interval_seconds * TRANSIENT_RETRY.backoff_rate ** n,
                    TRANSIENT_RETRY.max_delay_seconds) for n in range(outages)]
    assert retry_clock.waits == expected  # 5 s, then 10 s (full jitter at its maximum)
    assert reconciled(cloud) == []


def test_a_bad_row_fails_the_run_alerts_and_leaves_the_warehouse_unchanged_then_the_fix_catches_up(cloud):
    assert cloud.execute().succeeded
    before = warehouse_contents(cloud)
    simulate(DatabaseCredentials.from_url(cloud.state.source_url),
             Activity(new_sales_orders=15, amended_orders=5, payments_made=5))
    run_sql(cloud.state.source_url, "UPDATE sales_order SET agreed_delivery_date = '2024-02-30', "
                                    "last_updated = now() AT TIME ZONE 'UTC' WHERE sales_order_id = 5")

    failed = cloud.execute()

    assert failed.status == "FAILED"
    assert failed.error["error"] == "InvalidData"
    assert "sales_order_id=5" in failed.error["cause"]
    (alert,) = cloud.moto.alerts  # one e-mail, from the rule on the execution's end, not from the workflow
    assert alert.subject == "Onyx dev: run FAILED in Transform (InvalidData)"
    lines = alert.message.splitlines()
    assert lines[0] == f"The Onyx dev pipeline run {failed.run_id} FAILED in the Transform step."
    assert "Error:     InvalidData" in lines
    assert ("Message:   sales_order sales_order_id=5: agreed_delivery_date '2024-02-30' is not a date (YYYY-MM-DD)"
            in lines)
    assert f"Run id:    {failed.run_id}" in lines
    assert any(line.startswith("Execution: https://eu-west-2.console.aws.amazon.com/states/home?region=eu-west-2"
                               f"#/v2/executions/details/{failed.execution_arn}") for line in lines)
    assert any(line.startswith("Logs:      https://") and "PipelineTransformLogs" in line for line in lines)
    assert lines[-1].startswith("What to do: Fix the cause named above")
    assert "start a new execution" in lines[-1]
    # A message to a person: the stack trace stays in the function's log.
    assert "Traceback" not in alert.message
    assert "stackTrace" not in alert.message
    assert "/work" not in alert.message
    assert warehouse_contents(cloud) == before

    run_sql(cloud.state.source_url, "UPDATE sales_order SET agreed_delivery_date = '2024-02-28', "
                                    "last_updated = now() AT TIME ZONE 'UTC' WHERE sales_order_id = 5")
    fixed = cloud.execute()

    assert fixed.succeeded, fixed.error
    assert reconciled(cloud) == []  # the activity of the failed run arrived too: nothing lost


def test_a_redriven_execution_and_a_repeated_run_duplicate_nothing(cloud, retry_clock):
    cloud.moto.invoker.fault = outage_first(cloud, "Load", Env.WAREHOUSE_SECRET_NAME,
                                            TRANSIENT_RETRY.max_attempts + 1)
    failed = cloud.execute()
    assert failed.status == "FAILED"
    assert failed.error["error"] == "WarehouseUnavailable"
    assert _invocations(cloud, "Load") == ["WarehouseUnavailable"] * (TRANSIENT_RETRY.max_attempts + 1)

    redriven = redrive(cloud.client("stepfunctions"), failed.execution_arn, cloud.progress)

    assert redriven.succeeded, redriven.error
    assert redriven.run_id == failed.run_id
    assert list(redriven.state_seconds) == [States.LOAD, States.ADVANCE_WATERMARK, States.DONE]
    assert reconciled(cloud) == []
    loaded = warehouse_contents(cloud)

    again = redrive(cloud.client("stepfunctions"), failed.execution_arn, cloud.progress)
    repeated = cloud.execute()

    assert again.succeeded
    assert again.loaded == redriven.loaded  # the ledger answers: already loaded
    assert repeated.succeeded
    assert sum(repeated.extracted.values()) == 0
    assert warehouse_contents(cloud) == loaded


def test_sources_whose_enum_columns_are_other_enum_types_or_text_load_the_same_warehouse(cloud, pg_server,
                                                                                         variant_templates):
    totesys = cloud.execute()
    assert totesys.succeeded, totesys.error
    expected = _without_ledger(warehouse_contents(cloud))
    assert len(expected["dim_transaction"]) == 426  # 300 sales and 126 purchase orders, one transaction each

    declared = {}
    for label, template in variant_templates.items():
        use_fresh_databases(cloud, pg_server, template)
        declared[label] = sorted(tuple(row) for row in run_sql(cloud.state.source_url, """
            SELECT column_name, udt_name FROM information_schema.columns
             WHERE column_name IN ('payment_type_name', 'transaction_type')"""))

        outcome = cloud.execute()

        assert outcome.succeeded, (label, outcome.error)
        assert outcome.extracted == totesys.extracted, label
        assert _without_ledger(warehouse_contents(cloud)) == expected, label
        assert reconciled(cloud) == [], label
    assert declared == {
        "enum types named otherwise": [("payment_type_name", "PaymentTypeName"),
                                       ("transaction_type", "TransactionType")],
        "text columns": [("payment_type_name", "text"), ("transaction_type", "varchar")]}

    # A text column holds any value: one Onyx does not know fails the run as any invalid row does.
    run_sql(cloud.state.source_url, """INSERT INTO "transaction" (transaction_type) VALUES ('REFUND')""")
    refund = cloud.execute()

    assert refund.status == "FAILED"
    assert refund.error["error"] == "InvalidData"
    (alert,) = cloud.moto.alerts
    assert alert.subject == "Onyx dev: run FAILED in Transform (InvalidData)"
    assert ('Message:   transaction transaction_id=427: transaction_type "REFUND" is not one of SALE, PURCHASE'
            in alert.message.splitlines())
