"""The suite's own scheduling: with `--dist loadgroup` (what `make test` runs), tests marked `xdist_group` really
run grouped on one worker.

pytest-xdist groups a test by appending `@<group>` to its node id on the worker. pytest 9.2 keeps node ids in an
attribute that pytest-xdist 3.8 does not write, and the groups were then silently ignored: each module's local
cloud and the analytics warehouse were built on both workers, costing minutes per run. This test fails on such
a pair of versions instead.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.xdist_group("grouping-check")


def test_a_grouped_test_carries_its_group_exactly_when_the_run_groups(request):
    grouping = bool(getattr(request.config.option, "loadgroup", False))  # set on xdist workers by --dist loadgroup

    assert request.node.nodeid.endswith("@grouping-check") is grouping, (
        "pytest-xdist did not group a test marked xdist_group: check the pytest and pytest-xdist pins in "
        "requirements-dev.txt")
