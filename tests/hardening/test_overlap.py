"""Two executions started at once never lose or duplicate data.

The mechanism is idempotent design rather than a lock on the whole run: both extract from the same
watermarks (overlapping windows), the warehouse load serializes on an advisory lock and fact versions
are unique, and the watermark object with the highest `high` wins whatever order the runs finish in.
"""

from __future__ import annotations

import threading
import time

import pytest

from lambdas.shared.constants import TRANSIENT_RETRY
from tests.hardening.harness import Activity, LateCommit, LateOpen, Overlap, Run


@pytest.mark.slow
def test_two_executions_started_at_once_load_everything_once(campaign):
    campaign.reset()
    moto = campaign.cloud.moto
    alerts, throttled = len(moto.alerts), len(moto.concurrency.throttled)
    campaign.apply(Overlap())  # the full load, twice at once
    campaign.apply(Activity(new_orders=3, amended=4, paid=2, address_changes=1, department_changes=1))
    campaign.apply(Overlap())

    both = campaign.record.executions
    assert [e.outcome.status for e in both] == ["SUCCEEDED"] * 4
    assert len({e.run_id for e in both}) == 4
    assert sorted(campaign.loaded_runs()) == sorted(e.run_id for e in both)
    # Normal, not a failure: no e-mail, and nothing throttled (the template reserves no concurrency; the local
    # cloud would enforce a reservation, as the next test shows).
    assert len(moto.alerts) == alerts
    assert len(moto.concurrency.throttled) == throttled
    campaign.finish()  # one more run, then invariants 1-4


@pytest.mark.slow
def test_a_reservation_of_one_would_fail_the_second_of_two_overlapping_runs(campaign):
    """The defect the first template had (Extract and Load reserved 1): on AWS, the second execution's Extract
    is throttled, its retries run out within a minute, and the run FAILS, with an e-mail."""
    campaign.reset()
    cloud = campaign.cloud
    lam = cloud.client("lambda")
    (extract,) = [f["FunctionName"] for f in lam.list_functions()["Functions"] if "Extract" in f["FunctionName"]]
    lam.put_function_concurrency(FunctionName=extract, ReservedConcurrentExecutions=1)
    try:
        alerts = len(cloud.moto.alerts)
        campaign.apply(Overlap())
    finally:
        lam.delete_function_concurrency(FunctionName=extract)

    outcomes = sorted((e.outcome.status, (e.outcome.error or {}).get("error")) for e in campaign.record.executions)
    assert outcomes == [("FAILED", "Lambda.TooManyRequestsException"), ("SUCCEEDED", None)]
    # Every attempt of the throttled run's Extract was refused while the other one ran.
    assert cloud.moto.concurrency.throttled[-(TRANSIENT_RETRY.max_attempts + 1):] == [extract] * (
        TRANSIENT_RETRY.max_attempts + 1)
    (alert,) = cloud.moto.alerts[alerts:]
    assert alert.subject == "Onyx dev: run FAILED in Extract (Lambda.TooManyRequestsException)"


@pytest.mark.slow
def test_overlapping_executions_while_a_late_transaction_is_open_lose_nothing(campaign):
    campaign.reset()
    campaign.play([Run(), LateOpen(orders=2), Overlap(), Activity(amended=2), Overlap(), LateCommit()])


@pytest.mark.slow
def test_scheduled_executions_a_second_apart_both_succeed_without_an_alert(campaign):
    """What EventBridge does when a run outlasts the schedule: it starts the next one anyway (its input is the
    rule's `{"trigger": "schedule"}`). Nothing skips, nothing fails, nothing is loaded twice."""
    campaign.reset()
    moto = campaign.cloud.moto
    alerts = len(moto.alerts)
    campaign.apply(Run())
    campaign.apply(Activity(new_orders=2, amended=3, paid=1))
    snapshot = campaign.source_versions()
    # The first run's Extract waits for the second execution to start: on a quiet machine the first run could
    # otherwise end within the second, and the second find nothing left to load.
    second_started = threading.Event()
    hook = moto.invoker.fault

    def hold_the_first(spec, event):
        if "Extract" in spec.name and event.get("run_id") == "run-scheduled-a":
            assert second_started.wait(60)
        return hook(spec, event)

    moto.invoker.fault = hold_the_first
    try:
        first = campaign._start("run-scheduled-a", payload='{"trigger": "schedule"}')
        time.sleep(1)
        second = campaign._start("run-scheduled-b", payload='{"trigger": "schedule"}')
        second_started.set()
        outcomes = [campaign._finished(run_id, arn, snapshot)
                    for run_id, arn in (("run-scheduled-a", first), ("run-scheduled-b", second))]
    finally:
        moto.invoker.fault = hook

    assert [o.status for o in outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    assert len(moto.alerts) == alerts
    assert {"run-scheduled-a", "run-scheduled-b"} <= set(campaign.loaded_runs())
    campaign.finish()  # one more run, then invariants 1-4: nothing lost, nothing doubled
