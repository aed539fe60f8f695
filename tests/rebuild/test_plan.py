"""A rebuild's plan: the committed runs only (a watermark object each), in extraction order; refusals that name the
fix; and admission (nothing else running)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from moto.core.config import default_user_config

from lambdas.extract.watermarks import advance_watermarks, run_id_of, watermark_key
from lambdas.rebuild import plan
from lambdas.rebuild.admission import check_alone
from lambdas.rebuild.plan import committed_run_ids, plan_rebuild, store_plan
from lambdas.shared.errors import Busy, RebuildRefused
from lambdas.shared.manifests import RebuildPlan
from lambdas.shared.rebuild import RebuildCursor, StepBudget, history_events, plan_key, progress_text
from tests.transform.runs import first_run, put_run

NOW = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)


def _commit(aws, run_id: str, started_at: str, high: str) -> None:
    put_run(aws, run_id, first_run(), started_at=started_at)
    advance_watermarks(aws.s3, aws.ingestion_bucket, run_id, {"address": high})


def test_the_plan_lists_committed_runs_in_extraction_order_not_by_name_or_watermark(aws):
    # Scheduled executions have generated names, which do not sort by time; nor do overlapping runs' highs.
    _commit(aws, "zz-first", "2026-11-25T10:00:00.000Z", high="2026-11-25T09:59:00.000")
    _commit(aws, "aa-second", "2026-11-25T10:15:00.000Z", high="2026-11-25T10:14:00.000")
    _commit(aws, "mm-third", "2026-11-25T10:30:00.000Z", high="2026-11-25T10:00:00.000")  # a long transaction held it

    plan = plan_rebuild(aws.s3, aws.ingestion_bucket, "rebuild-1", step_runs=2, now=NOW)

    assert [run.run_id for run in plan.runs] == ["zz-first", "aa-second", "mm-third"]
    assert [run.started_at for run in plan.runs] == ["2026-11-25T10:00:00.000Z", "2026-11-25T10:15:00.000Z",
                                                     "2026-11-25T10:30:00.000Z"]
    assert plan.planned_at == "2026-12-02T13:00:00.000+00:00"
    key = store_plan(aws.s3, aws.processed_bucket, plan)
    assert key == plan_key("rebuild-1") == "rebuilds/rebuild-1/plan.json"
    assert RebuildPlan.from_json(aws.read(aws.processed_bucket, key), key) == plan


def test_a_run_that_never_reached_the_warehouse_is_not_in_the_plan(aws):
    _commit(aws, "run-1", "2026-11-25T10:00:00.000Z", high="2026-11-25T09:59:00.000")
    put_run(aws, "run-2-bad-row", first_run(), started_at="2026-11-25T10:15:00.000Z")  # a manifest, no watermark
    _commit(aws, "run-3", "2026-11-25T10:30:00.000Z", high="2026-11-25T10:29:00.000")

    assert sorted(committed_run_ids(aws.s3, aws.ingestion_bucket)) == ["run-1", "run-3"]
    plan = plan_rebuild(aws.s3, aws.ingestion_bucket, "rebuild-1", step_runs=200, now=NOW)
    assert [run.run_id for run in plan.runs] == ["run-1", "run-3"]


def test_an_empty_lake_is_refused(aws):
    put_run(aws, "run-1", first_run())  # extracted, never committed

    with pytest.raises(RebuildRefused, match=r"^nothing to rebuild from: the ingestion bucket holds no committed run "
                                             r"\(no object under state/watermarks/\); run the pipeline first$"):
        plan_rebuild(aws.s3, aws.ingestion_bucket, "rebuild-1", step_runs=200)


def test_a_committed_run_whose_manifest_is_gone_is_refused_by_name(aws):
    _commit(aws, "run-1", "2026-11-25T10:00:00.000Z", high="2026-11-25T09:59:00.000")
    aws.s3.delete_object(Bucket=aws.ingestion_bucket, Key="runs/run-1/extract.json")

    with pytest.raises(RebuildRefused, match=r"^committed runs without an extract manifest: run-1 \(was "):
        plan_rebuild(aws.s3, aws.ingestion_bucket, "rebuild-1", step_runs=200)


def test_a_plan_whose_steps_would_overflow_one_executions_history_is_refused_with_the_fix(aws, monkeypatch):
    _commit(aws, "run-1", "2026-11-25T10:00:00.000Z", high="2026-11-25T09:59:00.000")
    assert history_events(1, 1) == 52
    assert history_events(35_000, 200) == 40 + 12 * 175  # a year of 15-minute runs in the default steps: 2,140
    assert history_events(35_000, 1) > 25_000

    # One run in steps of one fits; 2,099 (listed, not read: the refusal comes before any manifest is) do not.
    plan_rebuild(aws.s3, aws.ingestion_bucket, "rebuild-1", step_runs=1)
    monkeypatch.setattr(plan, "committed_run_ids", lambda s3, bucket: [f"run-{index}" for index in range(1, 2_100)])
    with pytest.raises(RebuildRefused, match=r"^2,099 runs in steps of 1 would write about 25,228 history events, "
                                             r"more than the 25,000 one execution may have: start the rebuild with a "
                                             r"larger step_runs$"):
        plan_rebuild(aws.s3, aws.ingestion_bucket, "rebuild-1", step_runs=1)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_step_stops_at_its_run_count_or_when_its_time_left_no_longer_covers_twice_its_slowest_run():
    clock, remaining = FakeClock(), [900_000]
    budget = StepBudget(lambda: remaining[0], step_runs=3, clock=clock)  # 900 s: a reserve of 270 s
    assert budget.allows_another()  # always one run
    clock.now = 10.0
    budget.run_finished()
    assert budget.allows_another()
    remaining[0] = 291_000  # 291 s left > 270 s reserve + 2 x 10 s
    assert budget.allows_another()
    remaining[0] = 289_000  # the step has used 68% of its 900 s: it stops, clear of the alarms at 80%
    assert not budget.allows_another()
    remaining[0] = 900_000
    clock.now = 20.0
    budget.run_finished()
    clock.now = 50.0
    budget.run_finished()  # the third run: the step's count
    assert not budget.allows_another()

    slow = StepBudget(lambda: 400_000, step_runs=100, clock=clock)  # a reserve of 120 s
    clock.now = 190.0
    slow.run_finished()  # a 140 s run: 400 s left does not cover the reserve and two more
    assert not slow.allows_another()
    short = StepBudget(lambda: 60_000, step_runs=100, clock=clock)  # a short timeout: the 30 s margin at least
    clock.now = 191.0
    short.run_finished()
    assert short.allows_another()  # 60 s > 30 s + 2 x 1 s


def test_progress_says_which_run_of_how_many():
    cursor = RebuildCursor(rebuild_id="rebuild-1", planned_at="2026-12-02T13:00:00.000+00:00",
                           runs=35_000, transformed=1_400, loaded=1_200, step_runs=200)
    assert progress_text(cursor) == "transformed 1,400 and loaded 1,200 of 35,000 runs (3%)"
    assert cursor.payload()["progress"] == progress_text(cursor)


@pytest.fixture
def machines(aws, monkeypatch):
    # moto's state machines that do not execute: an execution stays RUNNING until stopped (a local cloud started
    # earlier in this process turns execution on for the whole process).
    monkeypatch.setitem(default_user_config, "stepfunctions", {"execute_state_machine": False})
    sfn = boto3.client("stepfunctions")
    definition = json.dumps({"StartAt": "W", "States": {"W": {"Type": "Succeed"}}})
    role = "arn:aws:iam::123456789012:role/onyx-test"
    pipeline = sfn.create_state_machine(name="Onyx-dev-pipeline", definition=definition, roleArn=role)
    rebuild = sfn.create_state_machine(name="Onyx-dev-rebuild", definition=definition, roleArn=role)
    return sfn, pipeline["stateMachineArn"], rebuild["stateMachineArn"]


def test_a_rebuild_starts_alone_beside_its_own_pipeline_execution(machines):
    sfn, pipeline, rebuild = machines
    # moto's default backend keeps executions RUNNING: the parent and the rebuild itself share the rebuild's id.
    sfn.start_execution(stateMachineArn=pipeline, name="rebuild-1")
    sfn.start_execution(stateMachineArn=rebuild, name="rebuild-1")
    check_alone(sfn, pipeline_arn=pipeline, rebuild_arn=rebuild, rebuild_id="rebuild-1")


def test_a_rebuild_refuses_while_a_run_or_another_rebuild_is_going_naming_them(machines):
    sfn, pipeline, rebuild = machines
    sfn.start_execution(stateMachineArn=rebuild, name="rebuild-2")
    sfn.start_execution(stateMachineArn=pipeline, name="run-20261202T130000Z-abcdef")
    sfn.start_execution(stateMachineArn=rebuild, name="rebuild-1")

    with pytest.raises(Busy) as refused:
        check_alone(sfn, pipeline_arn=pipeline, rebuild_arn=rebuild, rebuild_id="rebuild-2")
    assert str(refused.value) == ("cannot rebuild while run run-20261202T130000Z-abcdef, rebuild rebuild-1 are going: "
                                  "start the rebuild again once it has ended (or stop it)")


def test_a_watermark_keys_run_id_is_read_back_by_the_module_that_writes_the_key():
    key = watermark_key("run-20261202T130000Z-abc", {"address": "2026-11-25T09:59:00.000"})
    assert run_id_of(key) == "run-20261202T130000Z-abc"
    assert run_id_of(key.replace("state/watermarks/", "state/other/")) is None
    assert run_id_of("state/watermarks/notdigits123-run-1.json") is None
    assert run_id_of("state/watermarks/0000000000001-run-1.txt") is None
