"""Least privilege: each function may do exactly what its stage needs, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from constructs import IConstruct

from stacks.pipeline import StageFunction
from tests.stacks.conftest import Synthesized

XRAY = {("xray:PutTraceSegments", "*"), ("xray:PutTelemetryRecords", "*")}
SECRET = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")


def _text(value: Any) -> str:
    """A policy resource as one readable string: `<LogicalId>` for a resource's ARN, `${X}` for a Ref."""
    if isinstance(value, str):
        return value
    if "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}>"
    if "Ref" in value:
        return f"${{{value['Ref']}}}"
    separator, parts = value["Fn::Join"]
    return str(separator).join(_text(part) for part in parts)


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def grants(synthesized: Synthesized, role: IConstruct) -> set[tuple[str, str]]:
    """Every (action, resource) the role's policies allow."""
    role_id = synthesized.logical_id(role)
    allowed: set[tuple[str, str]] = set()
    for policy in synthesized.resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in _listify(statement["Action"]):
                for resource in _listify(statement["Resource"]):
                    allowed.add((action, _text(resource)))
    return allowed


def _objects(synthesized: Synthesized, bucket: IConstruct, actions: list[str], keys: str = "*") -> set[tuple[str, str]]:
    return {(action, f"<{synthesized.logical_id(bucket)}>/{keys}") for action in actions}


def _listing(synthesized: Synthesized, bucket: IConstruct) -> set[tuple[str, str]]:
    return {("s3:ListBucket", f"<{synthesized.logical_id(bucket)}>")}


def _secret(name: str) -> set[tuple[str, str]]:
    return {
        (action, f"arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{name}-??????")
        for action in SECRET
    }


def _own_logs(synthesized: Synthesized, stage: StageFunction) -> set[tuple[str, str]]:
    log_group = f"<{synthesized.logical_id(stage.log_group)}>"
    return {("logs:CreateLogStream", log_group), ("logs:PutLogEvents", log_group)}


def test_extract_reads_its_secret_and_reads_writes_only_the_ingestion_bucket(synthesized):
    pipeline, lake = synthesized.stack.pipeline, synthesized.stack.data_lake
    assert grants(synthesized, pipeline.extract.role) == (
        _secret("onyx/dev/totesys")
        | _objects(synthesized, lake.ingestion, ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"])
        | _listing(synthesized, lake.ingestion)
        | _own_logs(synthesized, pipeline.extract)
        | XRAY
    )


def test_transform_reads_ingestion_and_reads_writes_processed(synthesized):
    pipeline, lake = synthesized.stack.pipeline, synthesized.stack.data_lake
    assert grants(synthesized, pipeline.transform.role) == (
        _objects(synthesized, lake.ingestion, ["s3:GetObject"])
        | _listing(synthesized, lake.ingestion)
        | _objects(synthesized, lake.processed, ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"])
        | _listing(synthesized, lake.processed)
        | _own_logs(synthesized, pipeline.transform)
        | XRAY
    )


def test_load_reads_processed_and_its_secret(synthesized):
    pipeline, lake = synthesized.stack.pipeline, synthesized.stack.data_lake
    assert grants(synthesized, pipeline.load.role) == (
        _secret("onyx/dev/warehouse")
        | _objects(synthesized, lake.processed, ["s3:GetObject"])
        | _listing(synthesized, lake.processed)
        | _own_logs(synthesized, pipeline.load)
        | XRAY
    )


def test_advance_watermark_reads_extract_manifests_and_adds_watermarks_only(synthesized):
    pipeline, lake = synthesized.stack.pipeline, synthesized.stack.data_lake
    assert grants(synthesized, pipeline.advance_watermark.role) == (
        _objects(synthesized, lake.ingestion, ["s3:GetObject"], "runs/*/extract.json")
        | _objects(synthesized, lake.ingestion, ["s3:PutObject"], "state/watermarks/*")
        | _listing(synthesized, lake.ingestion)
        | _own_logs(synthesized, pipeline.advance_watermark)
        | XRAY
    )


def test_rebuild_lists_running_executions_reads_extract_manifests_and_writes_its_plans_only(synthesized):
    pipeline, lake = synthesized.stack.pipeline, synthesized.stack.data_lake
    machines = {f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:stateMachine:Onyx-dev-{name}"
                for name in ("pipeline", "rebuild")}
    assert grants(synthesized, pipeline.rebuild.role) == (
        {("states:ListExecutions", machine) for machine in machines}
        | _objects(synthesized, lake.ingestion, ["s3:GetObject"], "runs/*/extract.json")
        | _listing(synthesized, lake.ingestion)
        | _objects(synthesized, lake.processed, ["s3:PutObject"], "rebuilds/*/*")
        | _own_logs(synthesized, pipeline.rebuild)
        | XRAY
    )


def test_the_rebuild_functions_state_machine_arns_are_those_of_the_named_state_machines(synthesized):
    pipeline = synthesized.stack.pipeline
    variables = synthesized.resource(pipeline.rebuild.function)["Properties"]["Environment"]["Variables"]
    for variable, machine in (("ONYX_PIPELINE_STATE_MACHINE_ARN", pipeline.state_machine),
                              ("ONYX_REBUILD_STATE_MACHINE_ARN", pipeline.rebuild_state_machine)):
        name = synthesized.resource(machine)["Properties"]["StateMachineName"]
        assert _text(variables[variable]).endswith(f":stateMachine:{name}")


@pytest.mark.parametrize(("stage", "bucket"), [("extract", "processed"), ("load", "ingestion"),
                                               ("advance_watermark", "processed")])
def test_function_has_no_access_to_the_other_stages_bucket(synthesized, stage, bucket):
    role = getattr(synthesized.stack.pipeline, stage).role
    other = f"<{synthesized.logical_id(getattr(synthesized.stack.data_lake, bucket))}>"
    assert not [grant for grant in grants(synthesized, role) if grant[1].startswith(other)]


def test_no_function_may_delete_objects(synthesized):
    pipeline = synthesized.stack.pipeline
    for stage in pipeline.functions:
        assert not [action for action, _ in grants(synthesized, stage.role) if "Delete" in action]


@pytest.mark.parametrize("stage", ["extract", "transform", "load", "advance_watermark", "rebuild"])
def test_function_role_has_no_managed_policies(synthesized, stage):
    role = synthesized.resource(getattr(synthesized.stack.pipeline, stage).role)
    assert "ManagedPolicyArns" not in role["Properties"]


def test_secrets_are_referenced_by_name_never_created(synthesized):
    assert synthesized.resources("AWS::SecretsManager::Secret") == {}


# What Step Functions needs for tracing and log delivery (no resource-level scoping exists for these).
MACHINE_SERVICES = {
    "xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets",
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}


def _invocations(synthesized: Synthesized, stages: tuple[StageFunction, ...]) -> set[tuple[str, str]]:
    functions = [f"<{synthesized.logical_id(stage.function)}>" for stage in stages]
    return {("lambda:InvokeFunction", arn) for function in functions for arn in (function, f"{function}:*")}


def test_state_machine_may_invoke_the_four_functions_and_look_for_or_start_a_rebuild_only(synthesized):
    pipeline = synthesized.stack.pipeline
    allowed = grants(synthesized, pipeline.state_machine.role)
    rebuild_machine = f"${{{synthesized.logical_id(pipeline.rebuild_state_machine)}}}"
    assert {grant for grant in allowed if grant[0] not in MACHINE_SERVICES} == (
        _invocations(synthesized, (pipeline.extract, pipeline.transform, pipeline.load, pipeline.advance_watermark))
        | {("states:ListExecutions", rebuild_machine), ("states:StartExecution", rebuild_machine)}
    )
    assert {action for action, _ in allowed if action in MACHINE_SERVICES} == MACHINE_SERVICES


def test_rebuild_state_machine_may_invoke_the_rebuild_transform_and_load_functions_only(synthesized):
    pipeline = synthesized.stack.pipeline
    allowed = grants(synthesized, pipeline.rebuild_state_machine.role)
    assert {grant for grant in allowed if grant[0] not in MACHINE_SERVICES} == _invocations(
        synthesized, (pipeline.rebuild, pipeline.transform, pipeline.load))


def test_notifier_reads_the_executions_history_and_publishes_to_the_alert_topic_with_its_key(synthesized):
    notifier, alerts = synthesized.stack.run_alerts.notifier, synthesized.stack.alerts
    machines = [synthesized.logical_id(machine) for machine in (synthesized.stack.pipeline.state_machine,
                                                                synthesized.stack.pipeline.rebuild_state_machine)]
    assert grants(synthesized, notifier.role) == (
        {("sns:Publish", f"${{{synthesized.logical_id(alerts.topic)}}}")}
        | {(action, f"<{synthesized.logical_id(alerts.key)}>") for action in ("kms:GenerateDataKey*", "kms:Decrypt")}
        | {("states:GetExecutionHistory",
            f"arn:${{AWS::Partition}}:states:${{AWS::Region}}:${{AWS::AccountId}}:execution:<{machine}>:*")
           for machine in machines}
        | _own_logs(synthesized, notifier)
        | XRAY
    )


def test_the_schedules_role_may_start_this_state_machine_and_nothing_else(synthesized):
    pipeline = synthesized.stack.pipeline
    (target,) = synthesized.resource(pipeline.schedule)["Properties"]["Targets"]
    role_id = target["RoleArn"]["Fn::GetAtt"][0]
    role = synthesized.resources("AWS::IAM::Role")[role_id]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    policies = [p for p in synthesized.resources("AWS::IAM::Policy").values()
                if {"Ref": role_id} in p["Properties"]["Roles"]]
    statements = [s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert statements == [{"Action": "states:StartExecution", "Effect": "Allow",
                           "Resource": {"Ref": synthesized.logical_id(pipeline.state_machine)}}]
