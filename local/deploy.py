"""Synthesize the CDK app and deploy its template into moto through CloudFormation.

What runs locally is therefore what `cdk deploy` would create: the same template, the same state
machine definition, the same function environments. Only what moto needs in place of the CDK
bootstrap stack (the bootstrap version parameter, the asset bucket and its objects), and of the
account's own VPC when the configuration names one (local/moto_network.py), is prepared here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.stepfunctions.models import stepfunctions_backends

from local import synth_cache
from local.moto_cloud import ACCOUNT, REGION
from local.moto_network import create_network
from stacks.config import OnyxConfig, cdk_json_context, check_keys, load_config

REPO = Path(__file__).resolve().parent.parent
# For runs whose source activity is committed before the run starts (`run`, tests, `make bench`): no
# safety lag, so the changes move in the very next run. In-flight transactions still bound the window.
NO_SAFETY_LAG = {"safetyLagSeconds": "0"}
BOOTSTRAP_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION = "21"


class DeployError(RuntimeError):
    """Synthesis or the local deployment failed; the message says which and why."""


@dataclass
class Deployment:
    stack_name: str
    template: dict[str, Any]
    state_machine_arn: str
    state_machine_role_arn: str
    schedule_expression: str | None
    schedule_rule_name: str | None
    outputs: dict[str, str]
    context: dict[str, Any]


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """`-c KEY=VALUE` pairs, as `cdk -c` takes them, checked as app.py would check them (unknown keys, bad
    values: stacks.config.ConfigError naming the key) before anything is started."""
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise DeployError(f"-c expects KEY=VALUE, got {pair!r}")
        overrides[key] = value
    check_keys(overrides)
    load_config({**cdk_json_context(), **overrides})
    return overrides


def synthesize(outdir: Path, overrides: dict[str, str],
               progress: Callable[[str], None] | None = None) -> tuple[Path, dict[str, Any]]:
    """Run app.py as the CDK CLI would (cdk.json context + overrides), without bundling the Lambda asset.

    Returns where the app is: `outdir`, or the copy kept from an earlier synth of the very same sources and
    context (local/synth_cache.py).
    """
    context: dict[str, Any] = {**cdk_json_context(), **overrides}
    # Skip bundling: the local cloud runs the handlers from this checkout, not from the zip.
    context["aws:cdk:bundling-stacks"] = []
    cache_key = synth_cache.key(context) if synth_cache.enabled() else None
    if cache_key is None:
        return _synthesize(outdir, context, None, progress)
    with synth_cache.exclusive(cache_key):  # a second process synthesizing the same app waits, then reuses it
        cached = synth_cache.lookup(cache_key)
        if cached is not None:
            if progress is not None:
                progress(f"the app is unchanged since it was last synthesized: reusing {cached.relative_to(REPO)}")
            return cached, context
        return _synthesize(outdir, context, cache_key, progress)


def _synthesize(outdir: Path, context: dict[str, Any], cache_key: str | None,
                progress: Callable[[str], None] | None) -> tuple[Path, dict[str, Any]]:
    if progress is not None:
        progress("synthesizing the CDK app")
    env = {**os.environ, "CDK_OUTDIR": str(outdir), "CDK_CONTEXT_JSON": json.dumps(context),
           "CDK_DEFAULT_ACCOUNT": ACCOUNT, "CDK_DEFAULT_REGION": REGION}
    result = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        lines = [ln for ln in (result.stderr or result.stdout).strip().splitlines() if ln.strip()]
        raise DeployError("cdk synth failed: " + ("\n".join(lines[-8:]) or f"exit {result.returncode}"))
    if cache_key:
        synth_cache.store(cache_key, outdir)
    return outdir, context


def _templates(outdir: Path) -> list[tuple[str, dict[str, Any]]]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    stacks = []
    for artifact in manifest["artifacts"].values():
        if artifact.get("type") == "aws:cloudformation:stack":
            stack_name = artifact.get("properties", {}).get("stackName") or artifact["displayName"]
            template = json.loads((outdir / artifact["properties"]["templateFile"]).read_text())
            stacks.append((stack_name, template))
    if not stacks:
        raise DeployError(f"no stack in {outdir}/manifest.json")
    return stacks


def _prepare_bootstrap(clients: dict[str, Any], template: dict[str, Any]) -> None:
    """Stand in for `cdk bootstrap`: the version parameter and the asset bucket with each Lambda zip."""
    ssm, s3 = clients["ssm"], clients["s3"]
    ssm.put_parameter(Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value=BOOTSTRAP_VERSION,
                      Type="String", Overwrite=True)
    bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{ACCOUNT}-{REGION}"
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("README.txt", "The local cloud runs the handlers from the checkout.\n")
    for resource in template.get("Resources", {}).values():
        code = resource.get("Properties", {}).get("Code", {}) if resource.get("Type") == "AWS::Lambda::Function" \
            else {}
        if isinstance(code.get("S3Key"), str):
            s3.put_object(Bucket=bucket, Key=code["S3Key"], Body=archive.getvalue())


def deploy(clients: dict[str, Any], outdir: Path, context: dict[str, Any]) -> Deployment:
    """Create the synthesized stack in moto and make its state machine executable."""
    stacks = _templates(outdir)
    if len(stacks) != 1:
        raise DeployError(f"expected one stack, found {[name for name, _ in stacks]}")
    stack_name, template = stacks[0]
    _prepare_bootstrap(clients, template)
    create_network(load_config(context))  # with vpcId: the account's VPC, which the stack runs functions in
    cfn = clients["cloudformation"]
    cfn.create_stack(StackName=stack_name, TemplateBody=json.dumps(template),
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])
    deadline = time.monotonic() + 120
    while (stack := cfn.describe_stacks(StackName=stack_name)["Stacks"][0])["StackStatus"].endswith("IN_PROGRESS"):
        if time.monotonic() > deadline:
            raise DeployError(f"stack {stack_name} still {stack['StackStatus']} after 120s")
        time.sleep(0.2)
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise DeployError(f"stack {stack_name}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    resources = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
    config = load_config(context)
    machines = _make_state_machines_executable(clients["stepfunctions"], resources, config)
    rules = [clients["events"].describe_rule(Name=r["PhysicalResourceId"].split("|")[-1])
             for r in resources if r["ResourceType"] == "AWS::Events::Rule"]
    scheduled = next((rule for rule in rules if rule.get("ScheduleExpression")), None)
    # The rebuild's machine is made executable too; the pipeline starts it, and each execution signs with its own role.
    machine_arn, role_arn = machines[config.pipeline_state_machine_name]
    return Deployment(stack_name=stack_name, template=template, state_machine_arn=machine_arn,
                      state_machine_role_arn=role_arn,
                      schedule_expression=scheduled["ScheduleExpression"] if scheduled else None,
                      schedule_rule_name=scheduled["Name"] if scheduled else None, outputs=outputs, context=context)


def _make_state_machines_executable(sfn: Any, resources: list[dict[str, Any]],
                                    config: OnyxConfig) -> dict[str, tuple[str, str]]:
    """The stack's two state machines (named by the configuration) made executable: {name: (arn, role arn)}."""
    names = (config.pipeline_state_machine_name, config.rebuild_state_machine_name)
    arns = {r["PhysicalResourceId"].rsplit(":", 1)[-1]: r["PhysicalResourceId"] for r in resources
            if r["ResourceType"] == "AWS::StepFunctions::StateMachine"}
    if sorted(arns) != sorted(names):
        raise DeployError(f"expected the state machines {', '.join(names)}, found {', '.join(arns) or 'none'}")
    return {name: _make_state_machine_executable(sfn, arns[name]) for name in names}


def _make_state_machine_executable(sfn: Any, arn: str) -> tuple[str, str]:
    """moto's CloudFormation puts state machines in its non-executing backend: copy ours, definition
    untouched (references already resolved by CloudFormation), into the backend that executes."""
    created = stepfunctions_backends[ACCOUNT][REGION].describe_state_machine(arn)
    kwargs: dict[str, Any] = {"name": created.name, "definition": created.definition, "roleArn": created.roleArn,
                              "type": getattr(created, "type", None) or "STANDARD"}
    if getattr(created, "loggingConfiguration", None):
        kwargs["loggingConfiguration"] = created.loggingConfiguration
    if getattr(created, "tracingConfiguration", None):
        kwargs["tracingConfiguration"] = created.tracingConfiguration
    return str(sfn.create_state_machine(**kwargs)["stateMachineArn"]), str(created.roleArn)
