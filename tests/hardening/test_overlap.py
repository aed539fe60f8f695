"""Two executions started at once never lose or duplicate data.

The mechanism is idempotent design rather than a lock on the whole run: both extract from the same
watermarks (overlapping windows), the warehouse load serializes on an advisory lock and fact versions
are unique, and the watermark object with the highest `high` wins whatever order the runs finish in.
"""

from __future__ import annotations

import pytest

from tests.hardening.harness import Activity, LateCommit, LateOpen, Overlap, Run


@pytest.mark.slow
def test_two_executions_started_at_once_load_everything_once(campaign):
    campaign.reset()
    campaign.apply(Overlap())  # the full load, twice at once
    campaign.apply(Activity(new_orders=3, amended=4, paid=2, address_changes=1, department_changes=1))
    campaign.apply(Overlap())

    both = campaign.record.executions
    assert [e.outcome.status for e in both] == ["SUCCEEDED"] * 4
    assert len({e.run_id for e in both}) == 4
    assert sorted(campaign.loaded_runs()) == sorted(e.run_id for e in both)
    campaign.finish()  # one more run, then invariants 1-4


@pytest.mark.slow
def test_overlapping_executions_while_a_late_transaction_is_open_lose_nothing(campaign):
    campaign.reset()
    campaign.play([Run(), LateOpen(orders=2), Overlap(), Activity(amended=2), Overlap(), LateCommit()])
