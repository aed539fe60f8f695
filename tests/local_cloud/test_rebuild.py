"""Rebuild and replay as executions of the deployed state machines, on the local cloud (docs/operations.md).

A rebuild recomputes the warehouse from every committed run of the lake, through the same transform and load code,
into a schema of its own, and swaps it in at the end; a replay transforms and loads one extracted run again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from lambdas.shared.constants import RebuildStates, States
from lambdas.shared.database import DatabaseCredentials
from local.simulate import Activity, simulate
from ops.executions import rebuild_input, redrive, replay_input
from tests.hardening.harness import FAULTS_DIR, REPO
from tests.local_cloud.helpers import reconciled, warehouse_contents
from tests.local_cloud.test_run_ends import extract_held
from tests.sql import run_sql

ANALYST = "onyx_test_analyst"
ANALYST_PASSWORD = "analyst"  # pragma: allowlist secret


def _warehouse(cloud) -> DatabaseCredentials:
    return DatabaseCredentials.from_url(cloud.state.warehouse_url)


def _history(cloud) -> list[str]:
    """A full load, then incremental runs with amendments, one of which fails on a bad row and is fixed by the next
    (its manifest stays in the lake, uncommitted): the run ids that succeeded."""
    source = DatabaseCredentials.from_url(cloud.state.source_url)
    runs = [cloud.execute()]
    simulate(source, Activity(new_sales_orders=20, amended_orders=10, payments_made=10, address_changes=2))
    runs.append(cloud.execute())
    simulate(source, Activity(new_sales_orders=5, amended_orders=5, department_changes=1))
    run_sql(cloud.state.source_url, "UPDATE sales_order SET agreed_delivery_date = '2024-02-30', "
                                    "last_updated = now() AT TIME ZONE 'UTC' WHERE sales_order_id = 5")
    failed = cloud.execute()
    assert failed.status == "FAILED"
    run_sql(cloud.state.source_url, "UPDATE sales_order SET agreed_delivery_date = '2024-02-28', "
                                    "last_updated = now() AT TIME ZONE 'UTC' WHERE sales_order_id = 5")
    runs.append(cloud.execute())
    simulate(source, Activity(amended_orders=8, payments_made=3))
    runs.append(cloud.execute())
    assert all(run.succeeded for run in runs), [run.error for run in runs]
    cloud.moto.alerts.clear()
    return [run.run_id for run in runs]


@contextlib.contextmanager
def _analyst(cloud) -> Iterator[DatabaseCredentials]:
    """A login that may read the warehouse's tables and views, as an analyst's would."""
    warehouse = _warehouse(cloud)
    schema = cloud.state.warehouse_schema
    run_sql(cloud.state.warehouse_url,
            f"DROP ROLE IF EXISTS {ANALYST}; CREATE ROLE {ANALYST} LOGIN PASSWORD '{ANALYST_PASSWORD}'; "
            f"GRANT USAGE ON SCHEMA {schema} TO {ANALYST}; "
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {ANALYST}")
    try:
        yield DatabaseCredentials(host=warehouse.host, port=warehouse.port, dbname=warehouse.dbname,
                                  username=ANALYST, password=ANALYST_PASSWORD, sslmode=warehouse.sslmode)
    finally:
        run_sql(cloud.state.warehouse_url, f"DROP OWNED BY {ANALYST}; DROP ROLE {ANALYST}")


def _analyst_reads(analyst: DatabaseCredentials, schema: str) -> list[int]:
    conn = analyst.connect()
    try:
        return [conn.run(f"SELECT count(*) FROM {schema}.{table}")[0][0]
                for table in ("fact_sales_order", "dim_counterparty", "sales_order_wide", "payment_current")]
    finally:
        conn.close()


@pytest.mark.slow
def test_a_rebuild_recomputes_every_star_table_row_for_row_and_analysts_keep_reading(cloud):
    committed = _history(cloud)
    before = warehouse_contents(cloud)
    schema = cloud.state.warehouse_schema
    with _analyst(cloud) as analyst:
        reads = _analyst_reads(analyst, schema)

        rebuilt = cloud.execute(payload=rebuild_input(step_runs=2))

        assert rebuilt.succeeded, rebuilt.error
        assert rebuilt.progress == "transformed 4 and loaded 4 of 4 runs (100%)"  # the failed run is not one of them
        assert list(rebuilt.state_seconds) == [RebuildStates.PLAN, RebuildStates.PREPARE_SCHEMA,
                                               RebuildStates.TRANSFORM_RUNS, RebuildStates.LOAD_RUNS,
                                               RebuildStates.MORE_RUNS, RebuildStates.SWAP_IN, RebuildStates.DONE]
        assert rebuilt.swapped["runs"] == 4
        assert rebuilt.swapped["previous_schema"] == f"{schema}_previous"
        assert warehouse_contents(cloud) == before
        assert sorted(row[0] for row in before["onyx_run"]) == sorted(committed)
        assert _analyst_reads(analyst, schema) == reads
    assert cloud.moto.alerts == []


@pytest.mark.slow
def test_during_a_rebuild_queries_see_the_old_warehouse_runs_skip_replays_are_busy_and_a_failure_changes_nothing(
        cloud):
    """...and the failed rebuild, redriven, finishes; and the next rebuild succeeds."""
    committed = _history(cloud)
    before = warehouse_contents(cloud)
    seen: dict[str, object] = {}

    def mid_rebuild(spec, event):
        # The second LoadRuns step: one run is loaded into the rebuild's schema, the rest not yet.
        if "Load" not in spec.name or event.get("action") != "load_runs" or event["cursor"]["loaded"] != 1:
            return None
        seen["warehouse"] = warehouse_contents(cloud)
        seen["scheduled"] = cloud.scheduled_execution()
        seen["replay"] = cloud.execute(payload=replay_input(committed[0]))
        return {"PYTHONPATH": f"{FAULTS_DIR}:{REPO}", "ONYX_HARDENING_FAULT": "load_mid"}  # then the step dies

    cloud.moto.invoker.fault = mid_rebuild
    try:
        failed = cloud.execute(payload=rebuild_input(step_runs=1))
    finally:
        cloud.moto.invoker.fault = None

    assert seen["warehouse"] == before  # mid-rebuild, the live warehouse is the old one
    scheduled, replay = seen["scheduled"], seen["replay"]
    assert scheduled.succeeded
    assert list(scheduled.state_seconds) == [States.MODE, States.FIND_REBUILD, States.REBUILD_RUNNING, States.SKIPPED]
    assert replay.status == "FAILED"
    assert replay.error["error"] == "Busy"
    assert failed.status == "FAILED"
    assert failed.failed_state == RebuildStates.LOAD_RUNS
    assert warehouse_contents(cloud) == before
    subjects = sorted(alert.subject for alert in cloud.moto.alerts)
    assert subjects == ["Onyx dev: rebuild FAILED in LoadRuns (Runtime.ExitError)",
                        "Onyx dev: run FAILED in Busy (Busy)"]

    # Each step is resumable: the failed rebuild redriven from LoadRuns, with that step's input, finishes the job.
    redriven = redrive(cloud.client("stepfunctions"), failed.execution_arn, cloud.progress)
    assert redriven.succeeded, redriven.error
    assert redriven.progress == "transformed 4 and loaded 4 of 4 runs (100%)"
    assert warehouse_contents(cloud) == before

    again = cloud.execute(payload=rebuild_input(step_runs=3))

    assert again.succeeded, again.error
    assert again.progress == "transformed 4 and loaded 4 of 4 runs (100%)"
    assert warehouse_contents(cloud) == before


@pytest.mark.slow
def test_a_rebuild_started_while_a_run_is_going_refuses_as_busy(cloud):
    _history(cloud)
    before = warehouse_contents(cloud)
    with extract_held(cloud) as (entered, release):
        sfn = cloud.client("stepfunctions")
        running = sfn.start_execution(stateMachineArn=cloud.state.state_machine_arn, name="run-held")
        assert entered.wait(30)
        refused = cloud.execute(payload=rebuild_input())
        release.set()
    assert refused.status == "FAILED"
    assert refused.failed_state == RebuildStates.PLAN
    assert refused.error == {"error": "Busy", "cause": "cannot rebuild while run run-held is going: start the rebuild "
                                                      "again once it has ended (or stop it)"}
    assert running["executionArn"]
    assert warehouse_contents(cloud) == before


@pytest.mark.slow
def test_a_replay_of_a_loaded_run_changes_nothing_and_of_a_run_whose_load_never_happened_fills_it_in(cloud):
    assert cloud.execute().succeeded
    simulate(DatabaseCredentials.from_url(cloud.state.source_url), Activity(new_sales_orders=10, amended_orders=5))
    loaded = cloud.execute()
    assert loaded.succeeded
    before = warehouse_contents(cloud)

    again = cloud.execute(payload=replay_input(loaded.run_id))

    assert again.succeeded, again.error
    assert list(again.state_seconds) == [States.MODE, States.FIND_REBUILD, States.REBUILD_RUNNING, States.REPLAY,
                                         States.TRANSFORM, States.LOAD, States.ADVANCE_WATERMARK, States.DONE]
    assert warehouse_contents(cloud) == before

    simulate(DatabaseCredentials.from_url(cloud.state.source_url), Activity(new_sales_orders=7, payments_made=4))

    def crash_in_load(spec, event):
        if "Load" in spec.name and event.get("manifest_key"):
            return {"PYTHONPATH": f"{FAULTS_DIR}:{REPO}", "ONYX_HARDENING_FAULT": "load_mid"}
        return None

    cloud.moto.invoker.fault = crash_in_load
    try:
        unloaded = cloud.execute()
    finally:
        cloud.moto.invoker.fault = None
    assert unloaded.status == "FAILED"
    assert unloaded.failed_state == States.LOAD
    assert warehouse_contents(cloud) == before

    filled = cloud.execute(payload=replay_input(unloaded.run_id))

    assert filled.succeeded, filled.error
    after = warehouse_contents(cloud)
    assert [row[0] for row in after["onyx_run"]] == sorted([*(row[0] for row in before["onyx_run"]), unloaded.run_id])
    assert len(after["fact_sales_order"]) > len(before["fact_sales_order"])
    assert reconciled(cloud) == []  # the source's rows, all of them: what the failed load left out is in
    # It is committed: the next run starts after it and finds nothing new.
    assert sum(cloud.execute().extracted.values()) == 0


@pytest.mark.slow
def test_a_replay_of_a_run_that_was_never_extracted_fails_naming_it_and_bad_input_is_refused(cloud):
    missing = cloud.execute(payload=replay_input("run-that-never-was"))
    assert missing.status == "FAILED"
    assert missing.failed_state == States.TRANSFORM
    assert missing.error == {"error": "InvalidData",
                             "cause": "extract manifest runs/run-that-never-was/extract.json: does not exist"}

    for payload in ({"mode": "rebuilt"}, {"mode": "replay"}, {"mode": "replay", "run_id": 7}):
        refused = cloud.execute(payload=payload)
        assert refused.status == "FAILED"
        assert refused.failed_state == States.INVALID_INPUT
        assert refused.error["error"] == "InvalidInput"
