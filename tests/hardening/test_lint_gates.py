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
