"""A fault hits the function it names: the AdvanceWatermark crash kills AdvanceWatermark's own function, once."""

from __future__ import annotations

import pytest

from lambdas.shared.constants import States
from tests.hardening.harness import Run


@pytest.mark.slow
def test_the_commit_fault_crashes_the_advance_watermark_function_and_nothing_else(campaign):
    assert campaign.cloud.moto is not None
    assert campaign.cloud.moto.invoker is not None
    invocations = campaign.cloud.moto.invoker.invocations
    campaign.reset()
    before, alerts_before = len(invocations), len(campaign.cloud.moto.alerts)

    campaign.play([Run(fault="commit_before_watermark")])

    failed, final = (execution.outcome for execution in campaign.record.executions)
    assert (failed.status, failed.error["error"] if failed.error else None) == ("FAILED", "Runtime.ExitError")
    (alert,) = campaign.cloud.moto.alerts[alerts_before:]
    assert alert.subject == f"Onyx dev: run FAILED in {States.ADVANCE_WATERMARK} (Runtime.ExitError)"
    assert final.succeeded
    crashed = [i for i in invocations[before:] if not i.ok]
    assert [(i.handler, i.error_type) for i in crashed] == [("lambdas.watermark.handler.handler", "Runtime.ExitError")]
