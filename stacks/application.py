"""Build the CDK app from context: what `app.py` (the CDK CLI), the tests and the local cloud all synthesize."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment

from stacks.config import CONTEXT_ROOT, ENV_KEY, KEYS, cdk_json_context, check_keys, load_config
from stacks.nag import check_with_cdk_nag
from stacks.onyx_stack import OnyxStack


def build_app(context: Mapping[str, Any] | None = None, *, outdir: str | None = None, nag: bool = True) -> App:
    """The app with one OnyxStack; `context=None` takes what the CDK CLI passes (cdk.json plus `-c`).

    Given a context (tests, the local cloud), cdk.json's context is read and `context` overrides it, as `-c` does.
    Raises stacks.config.ConfigError naming the key when the configuration is invalid.
    """
    app = App(context=None if context is None else {**cdk_json_context(), **context}, outdir=outdir)
    check_keys(app.node.get_all_context())
    config = load_config(_context_values(app))
    account = config.account or os.environ.get("CDK_DEFAULT_ACCOUNT")
    region = config.region or os.environ.get("CDK_DEFAULT_REGION")
    OnyxStack(app, config=config, env=Environment(account=account, region=region) if account or region else None)
    if nag:
        check_with_cdk_nag(app)
    return app


def stack_of(app: App) -> OnyxStack:
    """The app's one Onyx stack."""
    return next(child for child in app.node.children if isinstance(child, OnyxStack))


def _context_values(app: App) -> dict[str, Any]:
    keys = (ENV_KEY, CONTEXT_ROOT, *KEYS)
    return {key: value for key in keys if (value := app.node.try_get_context(key)) is not None}
