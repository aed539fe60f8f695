"""cdk-nag AwsSolutionsChecks: no unacknowledged finding, and every acknowledgement gives its reason."""

from __future__ import annotations

from typing import Any

from tests.stacks.conftest import Synthesized


def _aws_solutions(synthesized: Synthesized) -> dict[str, Any]:
    (report,) = [r for r in synthesized.validation_report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    return dict(report)


def test_aws_solutions_checks_report_no_unacknowledged_findings(synthesized):
    report = _aws_solutions(synthesized)
    findings = [
        f"{violation['ruleName']} at {[c['constructPath'] for c in violation['violatingConstructs']]}"
        for violation in report["violations"]
    ]
    assert findings == []
    assert report["conclusion"] == "success"


def test_every_acknowledged_finding_carries_a_reason(synthesized):
    suppressed = _aws_solutions(synthesized)["suppressedViolations"]
    assert suppressed
    assert [s["ruleName"] for s in suppressed if len(s.get("reason", "").strip()) < 30] == []
