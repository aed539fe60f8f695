"""`make lint`'s security checks fail on a planted finding (and pass on the same code without it).

Each check is run through its own make target with its paths pointed at a temporary directory, so the
test exercises exactly what `make lint` runs. ONYX_MAKEFILE may name another Makefile (to try a change).
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from detect_secrets.core import baseline as detect_secrets_baseline
from detect_secrets.core.secrets_collection import SecretsCollection
from detect_secrets.settings import default_settings

REPO = Path(__file__).resolve().parents[2]
MAKEFILE = Path(os.environ.get("ONYX_MAKEFILE", REPO / "Makefile"))

CLEAN = 'import subprocess\n\n\ndef run(args: list[str]) -> int:\n    return subprocess.call(args)\n'
# B602 (high): a shell command built from input.
SHELL_INJECTION = ('import subprocess\n\n\ndef run(name: str) -> int:\n'
                   '    return subprocess.call("ls " + name, shell=True)\n')


def _make(target: str, **variables: str) -> subprocess.CompletedProcess[str]:
    if subprocess.run(["make", "-f", str(MAKEFILE), "-n", target], cwd=REPO, capture_output=True,
                      check=False).returncode != 0:
        pytest.skip(f"{MAKEFILE} has no `{target}` target yet")
    return subprocess.run(["make", "-s", "-f", str(MAKEFILE), target, *(f"{k}={v}" for k, v in variables.items())],
                          cwd=REPO, capture_output=True, text=True, check=False, timeout=300)


def test_bandit_fails_on_a_high_severity_finding(tmp_path):
    (tmp_path / "clean.py").write_text(CLEAN)
    assert _make("bandit", BANDIT_PATHS=str(tmp_path)).returncode == 0

    (tmp_path / "planted.py").write_text(SHELL_INJECTION)
    planted = _make("bandit", BANDIT_PATHS=str(tmp_path))

    assert planted.returncode != 0
    assert "B602" in planted.stdout


def test_the_secret_scan_fails_on_a_committed_credential(tmp_path):
    clean = tmp_path / "settings.py"
    clean.write_text('REGION = "eu-west-2"\n')
    assert _make("secret-scan", SECRET_SCAN_FILES=str(clean)).returncode == 0

    planted = tmp_path / "leak.py"
    key = "".join(secrets.choice(string.ascii_uppercase + string.digits[2:8]) for _ in range(16))
    planted.write_text(f'AWS_ACCESS_KEY_ID = "AKIA{key}"\n')
    found = _make("secret-scan", SECRET_SCAN_FILES=f"{clean} {planted}")

    assert found.returncode != 0
    assert "AWS Access Key" in found.stdout + found.stderr


def test_a_listed_secret_that_moves_to_another_line_is_no_finding_and_the_baseline_is_left_alone(tmp_path):
    # An edit above a listed (accepted) secret moves it; that once failed CI on a fresh clone.
    listed = tmp_path / "example.md"
    listed.write_text("Connect with:\n\n"
                      "    postgresql://analyst:s3cr3t-Example@localhost:5432/warehouse\n")  # pragma: allowlist secret
    baseline = tmp_path / "baseline.json"
    with default_settings():
        accepted = SecretsCollection()
        accepted.scan_file(str(listed))
        baseline.write_text(json.dumps(detect_secrets_baseline.format_for_output(accepted)))
    assert [secret.line_number for _, secret in accepted] == [3]
    before = baseline.read_bytes()

    listed.write_text("# Warehouse\n\nA new paragraph.\n\n" + listed.read_text())
    moved = _make("secret-scan", SECRET_BASELINE=str(baseline), SECRET_SCAN_FILES=str(listed))

    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert baseline.read_bytes() == before

    listed.write_text(listed.read_text()
                      + "\nOr: postgresql://admin:An0ther-Secret@db:5432/totesys\n")  # pragma: allowlist secret
    unlisted = _make("secret-scan", SECRET_BASELINE=str(baseline), SECRET_SCAN_FILES=str(listed))

    assert unlisted.returncode != 0
    assert "Basic Auth Credentials" in unlisted.stdout


@pytest.mark.slow
def test_the_repository_passes_its_own_secret_scan_without_touching_its_baseline():
    before = (REPO / ".secrets.baseline").read_bytes()

    assert _make("secret-scan").returncode == 0
    assert (REPO / ".secrets.baseline").read_bytes() == before


def _vulnerability_service_reachable() -> bool:
    """pip-audit asks PyPI's JSON API about each pinned release; an offline mirror does not serve it."""
    try:
        with urllib.request.urlopen("https://pypi.org/pypi/requests/2.19.0/json", timeout=10) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def test_pip_audit_fails_on_a_pin_with_a_known_vulnerability(tmp_path):
    if not _vulnerability_service_reachable():
        pytest.skip("pip-audit's vulnerability service is out of reach from here")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("requests==2.19.0\n")  # CVE-2018-18074, fixed in 2.20.0
    audit = _make("audit", AUDIT_REQUIREMENTS=f"-r {requirements}")

    assert audit.returncode != 0
    assert "requests" in audit.stdout


# The template validators (`make lint-templates`): each runs on a small planted template instead of the synthesized
# app (LINT_SYNTH= skips the synth), with the repository's own settings (.cfnlintrc.yaml, .checkov.yaml).
BUCKET_PROPERTIES = {
    "BucketEncryption": {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
    "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
                                       "RestrictPublicBuckets": True},
    "VersioningConfiguration": {"Status": "Enabled"},
}


def _bucket_template(path: Path, **changes: Any) -> Path:
    properties = {**BUCKET_PROPERTIES, **changes}
    path.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                                "Resources": {"Data": {"Type": "AWS::S3::Bucket", "Properties": properties}}}))
    return path


def _state_machine_template(path: Path, *, work_next: str) -> Path:
    """A state machine as CDK writes one: its definition an Fn::Join around the function's Fn::GetAtt."""
    states = {"Work": {"Type": "Task", "Resource": "@", "Next": work_next}, "Done": {"Type": "Succeed"}}
    before, after = json.dumps({"StartAt": "Work", "States": states}).split('"@"')
    definition = {"Fn::Join": ["", [before + '"', {"Fn::GetAtt": ["Work", "Arn"]}, '"' + after]]}
    path.write_text(json.dumps({"Resources": {
        "Work": {"Type": "AWS::Lambda::Function", "Properties": {}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {"DefinitionString": definition}},
    }}))
    return path


def _lint(target: str, template: Path) -> subprocess.CompletedProcess[str]:
    return _make(target, LINT_TEMPLATES=str(template), LINT_SYNTH="")


def test_cfn_lint_fails_on_an_invalid_property_value(tmp_path):
    assert _lint("cfn-lint", _bucket_template(tmp_path / "clean.json")).returncode == 0

    wrong = {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES257"}}]}
    planted = _lint("cfn-lint", _bucket_template(tmp_path / "planted.json", BucketEncryption=wrong))

    assert planted.returncode != 0
    assert "E3030 'AES257' is not one of" in planted.stdout


@pytest.mark.slow  # checkov takes about 5 s to start, each time
def test_checkov_fails_on_a_bucket_that_allows_public_policies(tmp_path):
    assert _lint("checkov", _bucket_template(tmp_path / "clean.json")).returncode == 0

    public = {**BUCKET_PROPERTIES["PublicAccessBlockConfiguration"], "BlockPublicPolicy": False}
    planted = _lint("checkov", _bucket_template(tmp_path / "planted.json", PublicAccessBlockConfiguration=public))

    assert planted.returncode != 0
    assert "CKV_AWS_54" in planted.stdout
    assert "FAILED for resource: AWS::S3::Bucket.Data" in planted.stdout


@pytest.mark.slow
def test_checkov_fails_on_a_template_it_cannot_parse(tmp_path):
    # checkov itself exits 0 on a parsing error: the gate must not pass on a template nobody checked.
    broken = tmp_path / "broken.json"
    broken.write_text('{"Resources": ')
    unparsed = _lint("checkov", broken)

    assert unparsed.returncode != 0
    assert "Parsing errors: 1" in unparsed.stdout


def test_asl_validator_fails_on_a_next_that_names_no_state(tmp_path):
    clean = _lint("asl-validate", _state_machine_template(tmp_path / "clean.template.json", work_next="Done"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    definition = json.loads((tmp_path / "clean.Machine.asl.json").read_text())
    assert definition["States"]["Work"]["Resource"] == "arn:aws:lambda:eu-west-2:123456789012:function:Work"

    planted = _lint("asl-validate", _state_machine_template(tmp_path / "planted.template.json", work_next="Gone"))

    assert planted.returncode != 0
    assert "Missing 'StartAt'|'Next'|'Default' target: Gone" in planted.stdout + planted.stderr


def test_the_template_validators_fail_when_there_is_no_template(tmp_path):
    missing = tmp_path / "none" / "Onyx-dev.template.json"
    for target in ("cfn-lint", "asl-validate"):
        assert _lint(target, missing).returncode != 0, target
