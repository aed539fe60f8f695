"""A randomized fault campaign on the local cloud: docs/design.md section 4's invariants under chance.

Each example is a random sequence of source activity (new orders with payments, amendments, payments,
address and department changes, a late-committing transaction opened before runs and committed after
them) interleaved with pipeline runs, each run with a random fault at a named point (source or warehouse
unreachable for one attempt or all of them, a crash after extract's files, after transform's files, in
the middle of load, before the watermark moves, a wrong bucket), plus execution reruns, redrives and
two executions started at once. After the sequence, with the faults cleared and one more run, the
warehouse must hold every committed version (1), none twice (2), equal a replay of the committed runs
(3) and reconcile with the source (4).

CI runs four fixed sequences covering every fault and a few derandomized ones (ONYX_CAMPAIGN_EXAMPLES,
default 3); `make soak` runs many more,
randomly seeded. A failing sequence is shrunk and printed as `steps=[Run(fault='load_mid'), ...]`:
paste it into `campaign.reset(); campaign.play([...])` to replay it as a plain test.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given

from tests.hardening.harness import Activity, LateCommit, LateOpen, Overlap, Redrive, Rerun, Run, Step
from tests.hardening.sequences import CAMPAIGN_SETTINGS, play_sequence, steps_strategy


@pytest.mark.slow
@pytest.mark.timeout(0)  # bounded by ONYX_CAMPAIGN_EXAMPLES, not by a clock
def test_random_sequences_of_activity_faults_and_runs_keep_the_four_invariants(campaign):
    # Every fault and kind of step at least once, every time (the design's worst cases); then random sequences.
    @CAMPAIGN_SETTINGS
    @example(steps=[LateOpen(orders=2), Run(), Activity(new_orders=1, amended=2), LateCommit()])
    @example(steps=[Run(fault="commit_before_watermark"), Activity(amended=3, paid=2, address_changes=1),
                    Run(fault="load_mid"), Redrive(), Overlap()])
    @example(steps=[Run(fault="source_blip"), Activity(new_orders=2, department_changes=1),
                    Run(fault="extract_before_manifest"), Rerun(), Activity(amended=2),
                    Run(fault="transform_before_manifest"), Run(fault="warehouse_blip")])
    @example(steps=[Run(fault="transform_bad_bucket"), Activity(amended=2, address_changes=1), Run(fault="source_down"),
                    Run(fault="warehouse_down"), Redrive()])
    @given(steps=steps_strategy)
    def campaign_holds(steps: list[Step]) -> None:
        play_sequence(campaign, steps)

    campaign_holds()
