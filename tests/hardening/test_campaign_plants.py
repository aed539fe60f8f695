"""The campaign's checks bite: bugs planted in the pipeline are caught by random sequences and by the invariants.

A module of its own, so its local cloud and the random campaign's (tests/hardening/test_campaign.py) run on the
two workers at once.
"""

from __future__ import annotations

import pytest
from hypothesis import Phase, given, seed, settings

from tests.hardening.harness import LateCommit, LateOpen, Run, Step
from tests.hardening.sequences import CAMPAIGN_SETTINGS, play_sequence, steps_strategy


@pytest.mark.slow
@pytest.mark.timeout(0)
def test_the_campaign_finds_a_watermark_advanced_before_the_load(campaign):
    """A planted bug: extract moves the watermarks as soon as its manifest is written. A run failing after
    that point loses its rows for good, and random sequences find it without being told where to look.

    The seed is one whose second random sequence fails the run after extract (any seed finds it within
    a dozen sequences or so, but CI should not spend minutes on it): without shrinking, it fails on
    `[Run(fault='warehouse_down'), LateOpen(orders=1), Run(fault='source_down')]`.
    """
    campaign.plant = "watermark_at_extract"
    try:
        @seed(4)
        @settings(CAMPAIGN_SETTINGS, max_examples=4, phases=[Phase.generate], derandomize=False)
        @given(steps=steps_strategy)
        def campaign_holds(steps: list[Step]) -> None:
            play_sequence(campaign, steps)

        # Either symptom of the lost rows: missing versions, or a final run whose facts refer to a
        # dimension row that was never loaded.
        with pytest.raises(AssertionError, match=r"invariant 1 \(nothing lost\)|the final run, with no fault, failed"):
            campaign_holds()
    finally:
        campaign.plant = None


@pytest.mark.slow
def test_the_invariants_catch_a_late_commit_skipped_by_an_extract_without_the_in_flight_bound(campaign):
    """The checks themselves bite: an extract whose window ignores open transactions skips the late rows."""
    campaign.plant = "no_in_flight_bound"
    try:
        campaign.reset()
        with pytest.raises(AssertionError, match=r"invariant 1 \(nothing lost\): 2 committed source versions"):
            campaign.play([LateOpen(orders=1), Run(), LateCommit()])
    finally:
        campaign.plant = None
