"""What the campaign tests share: the random steps, the settings, and how one sequence is played."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st

from tests.hardening.harness import (
    FAULTS,
    Activity,
    Campaign,
    LateCommit,
    LateOpen,
    Overlap,
    Redrive,
    Rerun,
    Run,
    Step,
)

EXAMPLES = int(os.environ.get("ONYX_CAMPAIGN_EXAMPLES", "3"))
SOAK = EXAMPLES > 20  # a long run explores with a fresh seed each time; CI's short one is reproducible
MAX_STEPS = int(os.environ.get("ONYX_CAMPAIGN_MAX_STEPS", "6"))

activities = st.builds(Activity, new_orders=st.integers(0, 4), amended=st.integers(0, 4), paid=st.integers(0, 3),
                       address_changes=st.integers(0, 1), department_changes=st.integers(0, 1))
runs = st.builds(Run, fault=st.sampled_from(list(FAULTS)))
# Runs weigh more than the other kinds of step: they are where the faults are.
steps_strategy = st.lists(st.one_of(activities, runs, runs, runs, st.just(Redrive()), st.just(Rerun()),
                                    st.just(Overlap()), st.builds(LateOpen, orders=st.integers(1, 3)),
                                    st.just(LateCommit())),
                          min_size=2, max_size=MAX_STEPS)

CAMPAIGN_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=not SOAK, database=None,
                             print_blob=False, suppress_health_check=list(HealthCheck))


def play_sequence(campaign: Campaign, steps: list[Step]) -> None:
    """One sequence on a fresh world; its steps are noted, so a failure prints them."""
    note(f"steps={steps!r}")
    campaign.reset()
    campaign.play(steps)


