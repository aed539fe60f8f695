#!/usr/bin/env python3
"""CDK entry point (`cdk.json` "app"): `npx cdk synth -c env=prod -c alertEmail=team@example.com`."""

from __future__ import annotations

import sys

from stacks.node import use_pinned_node

use_pinned_node()  # before aws_cdk is imported: jsii starts its Node then

from stacks.application import build_app  # noqa: E402
from stacks.config import ConfigError  # noqa: E402

if __name__ == "__main__":
    try:
        app = build_app()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    app.synth()
