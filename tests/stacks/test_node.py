"""The CDK runs on the Node.js LTS package.json pins, here, in `make` and on GitHub Actions, never on an end-of-life
one."""

from __future__ import annotations

import json
import os
import re
import subprocess

from stacks.bundling import REPO
from stacks.node import PINNED_NODE, use_pinned_node

# Node's long-term-support lines (even majors) and when each ends (https://nodejs.org/en/about/previous-releases).
LTS_END: dict[int, str] = {22: "2027-04-30", 24: "2028-04-30"}


def _pinned_version() -> str:
    version: str = json.loads((REPO / "package.json").read_text())["devDependencies"]["node"]
    return version


def test_package_json_pins_an_exact_node_of_a_supported_lts_line():
    assert re.fullmatch(r"\d+\.\d+\.\d+", _pinned_version())
    assert int(_pinned_version().split(".")[0]) in LTS_END


def test_the_installed_node_is_the_pinned_one():
    result = subprocess.run([str(PINNED_NODE), "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"v{_pinned_version()}"


def test_jsii_in_this_process_runs_on_the_pinned_node():
    assert os.environ["JSII_NODE"] == str(PINNED_NODE)


def test_a_node_chosen_by_the_user_is_kept():
    environ = {"JSII_NODE": "/opt/node/bin/node"}
    use_pinned_node(environ)
    assert environ == {"JSII_NODE": "/opt/node/bin/node"}
    environ = {}
    use_pinned_node(environ)
    assert environ == {"JSII_NODE": str(PINNED_NODE)}


def test_github_actions_sets_up_the_same_major():
    workflow = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    assert f'node-version: "{_pinned_version().split(".")[0]}"' in workflow
    assert "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION" not in workflow
