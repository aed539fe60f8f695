"""What `make lint` synthesizes for the template validators, and the state machine definitions it extracts."""

from __future__ import annotations

import json

import pytest

from stacks.config import cdk_json_context, load_config
from stacks.lint_templates import (
    LINT_VALUES,
    REQUIRED_KEYS,
    LintInputError,
    environments,
    main,
    resolve,
    state_machine_definitions,
    synth_arguments,
    targets,
)

RESOURCES = {
    "Topic": {"Type": "AWS::SNS::Topic"},
    "Extract": {"Type": "AWS::Lambda::Function"},
}


def test_every_environment_of_cdk_json_is_linted():
    assert environments(cdk_json_context()) == ["dev", "prod"]


def test_make_lint_synthesizes_every_environment_and_dev_in_a_vpc():
    assert targets(cdk_json_context()) == ["dev", "dev-vpc", "prod"]


def test_the_vpc_variant_is_dev_with_a_vpc_and_every_endpoint_the_stack_can_create():
    context = cdk_json_context()
    arguments = synth_arguments("dev-vpc", context)

    assert arguments == [
        "-c", "env=dev", "-c", "vpcId=vpc-0123456789abcdef0",
        "-c", "subnetIds=subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "-c", "routeTableIds=rtb-0123456789abcdef0",  # pragma: allowlist secret
        "-c", "vpcEndpoints=s3,secretsmanager,sts,xray",
    ]
    config = load_config({**context, **dict(pair.split("=", 1) for pair in arguments[1::2])})
    assert (config.env_name, config.in_vpc, config.security_group_ids, config.vpc_endpoints) == (
        "dev", True, (), ("s3", "secretsmanager", "sts", "xray"))


def test_an_environment_cdk_json_configures_fully_is_synthesized_as_it_is_deployed():
    assert synth_arguments("dev", cdk_json_context()) == ["-c", "env=dev"]


def test_prod_gets_a_stand_in_alert_address_since_cdk_json_leaves_it_to_the_command_line():
    assert synth_arguments("prod", cdk_json_context()) == ["-c", "env=prod", "-c", "alertEmail=lint@example.com"]


def test_a_required_key_left_to_the_command_line_gets_its_stand_in():
    context = cdk_json_context()
    staging = {key: value for key, value in context["onyx"]["environments"]["dev"].items()
               if key != "warehouseSecretName"}
    context["onyx"]["environments"]["staging"] = staging

    arguments = synth_arguments("staging", context)

    assert arguments == ["-c", "env=staging", "-c", "warehouseSecretName=onyx/lint/warehouse"]
    overrides = dict(pair.split("=", 1) for pair in arguments[1::2])
    config = load_config({**context, **overrides})
    assert config.warehouse_secret_name == "onyx/lint/warehouse"  # pragma: allowlist secret


def test_every_required_key_has_a_stand_in_the_config_accepts():
    assert set(LINT_VALUES) == set(REQUIRED_KEYS) == {"alertEmail", "sourceSecretName", "warehouseSecretName"}
    context = cdk_json_context()
    context["onyx"]["environments"]["bare"] = {}

    config = load_config({**context, "env": "bare", **LINT_VALUES})

    assert (config.alert_email, config.source_secret_name, config.warehouse_secret_name) == (
        "lint@example.com", "onyx/lint/totesys", "onyx/lint/warehouse")  # pragma: allowlist secret


def test_an_unknown_environment_is_refused():
    with pytest.raises(LintInputError, match=r"unknown environment 'qa'; cdk.json defines \['dev', 'prod'\]"):
        synth_arguments("qa", cdk_json_context())


def test_intrinsics_become_placeholders_of_the_right_shape():
    value = {"Fn::Join": ["", [
        '{"Resource":"arn:', {"Ref": "AWS::Partition"}, ':states:::sns:publish","TopicArn":"', {"Ref": "Topic"},
        '","Function":"', {"Fn::GetAtt": ["Extract", "Arn"]}, '","Name":"', {"Fn::GetAtt": "Extract.Name"}, '"}',
    ]]}

    assert json.loads(resolve(value, RESOURCES)) == {
        "Resource": "arn:aws:states:::sns:publish",
        "TopicArn": "arn:aws:sns:eu-west-2:123456789012:topic:Topic",
        "Function": "arn:aws:lambda:eu-west-2:123456789012:function:Extract",
        "Name": "Extract-Name",
    }


@pytest.mark.parametrize(("value", "message"), [
    ({"Fn::Sub": "${Extract.Arn}"}, "Fn::Sub in a state machine definition"),
    ({"Ref": "Gone"}, "refers to 'Gone', which the template does not define"),
    ({"Fn::GetAtt": ["Gone", "Arn"]}, "refers to 'Gone', which the template does not define"),
])
def test_what_has_no_placeholder_is_an_error_not_a_guess(value, message):
    with pytest.raises(LintInputError, match=message):
        resolve(value, RESOURCES)


def test_definitions_are_extracted_from_a_string_or_an_object():
    template = {"Resources": {
        **RESOURCES,
        "FromString": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "DefinitionString": {"Fn::Join": ["", ['{"StartAt":"', {"Ref": "AWS::Region"}, '"}']]}}},
        "FromObject": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "Definition": {"StartAt": "A", "States": {"A": {"Resource": {"Fn::GetAtt": ["Extract", "Arn"]}}}}}},
    }}

    assert state_machine_definitions(template) == {
        "FromString": {"StartAt": "eu-west-2"},
        "FromObject": {"StartAt": "A", "States": {"A": {
            "Resource": "arn:aws:lambda:eu-west-2:123456789012:function:Extract"}}},
    }


def test_definitions_fails_when_no_template_has_a_state_machine(tmp_path, capsys):
    template = tmp_path / "Onyx-dev.template.json"
    template.write_text(json.dumps({"Resources": RESOURCES}))

    assert main(["definitions", str(template)]) == 1
    assert capsys.readouterr().err == f"stacks.lint_templates: no AWS::StepFunctions::StateMachine in {template}\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["Onyx-dev.template.json"]
