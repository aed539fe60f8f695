"""Run alerts: every execution that ends FAILED, TIMED_OUT or ABORTED sends one e-mail, through the notifier.

An EventBridge rule on Step Functions' own "Execution Status Change" events, not a `Catch` in the workflow:
a Catch never sees an execution that timed out or was stopped, and would make every failure end in a
notify state, hiding from the console's graph (and from a redrive) the task that really failed.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.shared.constants import EXECUTION_STATUS_CHANGE, UNSUCCESSFUL_ENDS, Env, RebuildStates, States
from stacks.config import OnyxConfig
from stacks.pipeline import FunctionSpec, Pipeline, StageFunction

# Reads one execution's history and publishes one message: small and quick.
NOTIFY_MEMORY_MB: Final = 256
NOTIFY_TIMEOUT_SECONDS: Final = 60
# What a publisher needs of the topic's key (SNS encrypts the message with a data key it asks KMS for).
KMS_PUBLISH: Final = ("kms:GenerateDataKey*", "kms:Decrypt")


class RunAlerts(Construct):
    """The rule on the state machine's unsuccessful ends and the function that e-mails each one."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: OnyxConfig,
        pipeline: Pipeline,
        code: lambda_.Code,
        topic: sns.ITopic,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        # A rebuild is an execution of its own state machine: its failure e-mails too.
        machines = (pipeline.state_machine, pipeline.rebuild_state_machine)
        log_groups = {
            States.EXTRACT: pipeline.extract.log_group.log_group_name,
            States.TRANSFORM: pipeline.transform.log_group.log_group_name,
            States.LOAD: pipeline.load.log_group.log_group_name,
            States.ADVANCE_WATERMARK: pipeline.advance_watermark.log_group.log_group_name,
            RebuildStates.PLAN: pipeline.rebuild.log_group.log_group_name,
            RebuildStates.PREPARE_SCHEMA: pipeline.load.log_group.log_group_name,
            RebuildStates.TRANSFORM_RUNS: pipeline.transform.log_group.log_group_name,
            RebuildStates.LOAD_RUNS: pipeline.load.log_group.log_group_name,
            RebuildStates.SWAP_IN: pipeline.load.log_group.log_group_name,
        }
        self.notifier = StageFunction(
            self,
            "Notify",
            code=code,
            config=config,
            spec=FunctionSpec(
                stage="notify",
                memory_mb=NOTIFY_MEMORY_MB,
                timeout_seconds=NOTIFY_TIMEOUT_SECONDS,
                environment={
                    Env.ALERT_TOPIC_ARN: topic.topic_arn,
                    Env.STATE_LOG_GROUPS: Stack.of(self).to_json_string(log_groups),
                },
            ),
        )
        role = self.notifier.role
        role.add_to_policy(iam.PolicyStatement(sid="PublishAlerts", actions=["sns:Publish"],
                                               resources=[topic.topic_arn]))
        # The topic is encrypted with its own key: without these, Publish fails with KMS.AccessDeniedException.
        role.add_to_policy(iam.PolicyStatement(sid="EncryptAlerts", actions=list(KMS_PUBLISH),
                                               resources=[key.key_arn]))
        role.add_to_policy(iam.PolicyStatement(
            sid="ReadExecutionHistory",
            actions=["states:GetExecutionHistory"],
            resources=[execution_arns(self, machine) for machine in machines],
        ))
        self.rule = events.Rule(
            self,
            "UnsuccessfulEnds",
            description=f"Onyx {config.env_name}: an execution ended {', '.join(UNSUCCESSFUL_ENDS)} -> one e-mail",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[EXECUTION_STATUS_CHANGE],
                detail={"status": list(UNSUCCESSFUL_ENDS),
                        "stateMachineArn": [machine.state_machine_arn for machine in machines]},
            ),
            targets=[
                targets.LambdaFunction(
                    self.notifier.function,
                    # EventBridge retries a delivery Lambda refuses (throttled) for up to a day by default;
                    # an e-mail about a run older than a few hours helps nobody who has had the next runs' news.
                    retry_attempts=8,
                    max_event_age=Duration.hours(6),
                )
            ],
        )


def execution_arns(scope: Construct, machine: sfn.StateMachine) -> str:
    """Every execution of this state machine: arn:...:execution:<state machine name>:*."""
    return Stack.of(scope).format_arn(
        service="states",
        resource="execution",
        resource_name=f"{machine.state_machine_name}:*",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )
