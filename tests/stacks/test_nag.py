"""cdk-nag AwsSolutionsChecks: no unacknowledged finding, and every acknowledgement gives its reason, in every shape the
stack takes (the default; in a VPC with its own security group and every endpoint; in a VPC with given groups)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.stacks.conftest import Synthesized

SYNTHS = ("synthesized", "synthesized_in_vpc", "synthesized_in_vpc_with_groups")
# Each test takes its synth by name (request.getfixturevalue), which tests/conftest.py cannot see: marked here as it
# marks the tests naming one, so they run with the other template tests, where the synths are made once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stacks")]


def _aws_solutions(synthesized: Synthesized) -> dict[str, Any]:
    (report,) = [r for r in synthesized.validation_report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    return dict(report)


@pytest.mark.parametrize("synth", SYNTHS)
def test_aws_solutions_checks_report_no_unacknowledged_findings(request, synth):
    report = _aws_solutions(request.getfixturevalue(synth))
    findings = [
        f"{violation['ruleName']} at {[c['constructPath'] for c in violation['violatingConstructs']]}"
        for violation in report["violations"]
    ]
    assert findings == []
    assert report["conclusion"] == "success"


@pytest.mark.parametrize("synth", SYNTHS)
def test_every_acknowledged_finding_carries_a_reason(request, synth):
    suppressed = _aws_solutions(request.getfixturevalue(synth))["suppressedViolations"]
    assert suppressed
    assert [s["ruleName"] for s in suppressed if len(s.get("reason", "").strip()) < 30] == []
