"""What `make lint` feeds the third-party template validators (cfn-lint, checkov, asl-validator).

- the targets to synthesize: every environment of cdk.json, and each variant (an environment in a shape cdk.json does
  not hold but `-c` gives, e.g. in a VPC), each with the `-c` arguments that synthesize it: a lint stand-in for every
  required key that cdk.json leaves to the command line (a real deploy passes it with `-c`);
- each state machine's definition as plain JSON: a template holds it as an `Fn::Join` of text and `Ref`s or
  `Fn::GetAtt`s, which asl-validator cannot read, so each intrinsic becomes a well-formed placeholder.

    python -m stacks.lint_templates environments               one environment name a line
    python -m stacks.lint_templates targets                    what `make lint` synthesizes: environments, variants
    python -m stacks.lint_templates synth-args TARGET          the `-c` arguments for `cdk synth` of TARGET
    python -m stacks.lint_templates definitions TEMPLATE...    writes <stack>.<LogicalId>.asl.json beside each
                                                               template and prints their paths
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from stacks.config import ALERT_EMAIL_REQUIRED, CONTEXT_ROOT, ENV_KEY, cdk_json_context, required_keys

# A stand-in for each key an environment may have to have; checked against stacks.config.required_keys by the tests.
LINT_VALUES: Final = {
    "alertEmail": "lint@example.com",
    "sourceSecretName": "onyx/lint/totesys",  # pragma: allowlist secret
    "warehouseSecretName": "onyx/lint/warehouse",  # pragma: allowlist secret
}
# Variants: an environment of cdk.json with settings a deploy gives on the command line, linted too (their resources
# exist only then). The ids are stand-ins of the shape AWS gives.
VARIANTS: Final = {
    "dev-vpc": ("dev", {
        "vpcId": "vpc-0123456789abcdef0",
        "subnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "routeTableIds": "rtb-0123456789abcdef0",
        "vpcEndpoints": "s3,secretsmanager,sts,xray",
    }),
}
# Every key some environment requires.
REQUIRED_KEYS: Final = tuple(dict.fromkeys(key for env in ("", *ALERT_EMAIL_REQUIRED) for key in required_keys(env)))

STATE_MACHINE: Final = "AWS::StepFunctions::StateMachine"
# asl-validator checks a Task's Resource is an ARN: the placeholders only need to be well formed.
REGION: Final = "eu-west-2"
ACCOUNT: Final = "123456789012"
PSEUDO_PARAMETERS: Final = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


class LintInputError(ValueError):
    """A template or environment the lint cannot prepare; the message says which and why."""


def environments(context: Mapping[str, Any]) -> list[str]:
    """The environments cdk.json defines (`onyx.environments`), sorted."""
    return sorted(context[CONTEXT_ROOT]["environments"])


def targets(context: Mapping[str, Any]) -> list[str]:
    """What `make lint` synthesizes: every environment, and every variant, sorted."""
    return sorted([*environments(context), *VARIANTS])


def synth_arguments(target: str, context: Mapping[str, Any]) -> list[str]:
    """`cdk synth`'s `-c` arguments for an environment or variant: the env, a lint stand-in for each required key it
    leaves out, and the variant's settings."""
    env, settings = VARIANTS.get(target, (target, {}))
    defined: Mapping[str, Any] = context[CONTEXT_ROOT]["environments"]
    if env not in defined:
        raise LintInputError(f"unknown environment {env!r}; cdk.json defines {sorted(defined)}")
    given = set(defined[env] or {}) | set(context)
    arguments = ["-c", f"{ENV_KEY}={env}"]
    for key in required_keys(env):
        if key not in given:
            if key not in LINT_VALUES:
                raise LintInputError(f"environment {env!r} leaves {key!r} to -c; add its stand-in to LINT_VALUES")
            arguments += ["-c", f"{key}={LINT_VALUES[key]}"]
    for key, value in settings.items():
        arguments += ["-c", f"{key}={value}"]
    return arguments


def placeholder_arn(logical_id: str, resources: Mapping[str, Any]) -> str:
    """arn:aws:<service>:<region>:<account>:<kind>:<LogicalId>, from the resource's type AWS::<Service>::<Kind>."""
    resource = resources.get(logical_id)
    if not isinstance(resource, Mapping):
        raise LintInputError(f"the definition refers to {logical_id!r}, which the template does not define")
    parts = str(resource["Type"]).split("::")
    return f"arn:aws:{parts[1].lower()}:{REGION}:{ACCOUNT}:{parts[-1].lower()}:{logical_id}"


def resolve(value: Any, resources: Mapping[str, Any]) -> Any:
    """value with each Ref, Fn::GetAtt and Fn::Join replaced by text; any other intrinsic is an error."""
    if isinstance(value, list):
        return [resolve(item, resources) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref" or key.startswith("Fn::"):
            return _intrinsic(key, argument, resources)
    return {key: resolve(item, resources) for key, item in value.items()}


def _intrinsic(key: str, argument: Any, resources: Mapping[str, Any]) -> str:
    if key == "Ref":
        if argument in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[argument]
        # A Ref gives a name for some types and an ARN for others; in a definition it stands in an ARN.
        return placeholder_arn(argument, resources)
    if key == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        arn = placeholder_arn(logical_id, resources)
        return arn if attribute.endswith("Arn") else f"{logical_id}-{attribute}"
    if key == "Fn::Join":
        separator, parts = argument
        if not isinstance(parts, list):
            raise LintInputError(f"Fn::Join of {parts!r}: only a list of parts has a placeholder")
        return str(separator).join(str(resolve(part, resources)) for part in parts)
    raise LintInputError(f"{key} in a state machine definition: stacks/lint_templates.py has no placeholder")


def state_machine_definitions(template: Mapping[str, Any]) -> dict[str, Any]:
    """Each state machine's definition (logical id -> JSON object) with placeholders for the intrinsic parts."""
    resources: Mapping[str, Any] = template.get("Resources") or {}
    definitions: dict[str, Any] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != STATE_MACHINE:
            continue
        properties: Mapping[str, Any] = resource.get("Properties") or {}
        if "DefinitionString" in properties:
            definitions[logical_id] = json.loads(resolve(properties["DefinitionString"], resources))
        elif "Definition" in properties:
            definitions[logical_id] = resolve(properties["Definition"], resources)
        else:  # DefinitionS3Location: the definition is not in the template
            raise LintInputError(f"state machine {logical_id} has no DefinitionString or Definition in the template")
    return definitions


def write_definitions(templates: Sequence[Path]) -> list[Path]:
    """Write each template's state machine definitions beside it; raises LintInputError if there is none at all,
    so the validator never passes on nothing."""
    written = []
    for template in templates:
        stack = template.name.split(".")[0]
        for logical_id, definition in state_machine_definitions(json.loads(template.read_text())).items():
            path = template.with_name(f"{stack}.{logical_id}.asl.json")
            path.write_text(json.dumps(definition, indent=1) + "\n")
            written.append(path)
    if not written:
        raise LintInputError(f"no {STATE_MACHINE} in {', '.join(map(str, templates)) or 'no template'}")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.lint_templates", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("environments", help="the environments cdk.json defines, one a line")
    commands.add_parser("targets", help="the environments and variants `make lint` synthesizes, one a line")
    synth = commands.add_parser("synth-args", help="the -c arguments that synthesize TARGET for lint")
    synth.add_argument("target")
    definitions = commands.add_parser("definitions", help="write each state machine definition beside its template")
    definitions.add_argument("templates", nargs="*", type=Path)
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "environments":
            print("\n".join(environments(cdk_json_context())))
        elif arguments.command == "targets":
            print("\n".join(targets(cdk_json_context())))
        elif arguments.command == "synth-args":
            # No value has a space (stand-ins, env names): the shell's word splitting gives the arguments back.
            print(" ".join(synth_arguments(arguments.target, cdk_json_context())))
        else:
            print("\n".join(map(str, write_definitions(arguments.templates))))
    except (LintInputError, OSError, json.JSONDecodeError) as error:
        print(f"stacks.lint_templates: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
