"""The Node.js the CDK's jsii runtime runs on: the LTS pinned in package.json, not whatever the machine has.

`npm ci` installs it as node_modules/.bin/node (the `node` package). The CDK CLI finds it first on PATH (npx puts
node_modules/.bin there); a Python process that imports aws_cdk starts jsii's Node with JSII_NODE, which must be
set before that import. This module imports nothing of the CDK for that reason.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path
from typing import Final

PINNED_NODE: Final = Path(__file__).resolve().parent.parent / "node_modules" / ".bin" / "node"


def use_pinned_node(environ: MutableMapping[str, str] = os.environ) -> None:
    """Have jsii start the pinned Node when it is installed and nobody chose another (JSII_NODE)."""
    if PINNED_NODE.exists():
        environ.setdefault("JSII_NODE", str(PINNED_NODE))
