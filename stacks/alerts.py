"""The alert topic: everything that needs a person (failed runs, alarms) arrives here, and by e-mail."""

from __future__ import annotations

from aws_cdk import Annotations, ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from stacks.config import OnyxConfig


class Alerts(Construct):
    """An SSL-only SNS topic encrypted with its own KMS key, with the team's e-mail subscribed."""

    def __init__(self, scope: Construct, construct_id: str, *, config: OnyxConfig) -> None:
        super().__init__(scope, construct_id)
        # A customer managed key, not alias/aws/sns: CloudWatch alarms cannot publish to a topic
        # encrypted with the AWS managed key, because its key policy cannot be changed.
        self.key = kms.Key(
            self,
            "Key",
            description=f"Encrypts the Onyx {config.env_name} alert topic",
            enable_key_rotation=True,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"Onyx {config.env_name} alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        # The topic's policy (enforce_ssl's) replaces the default one, which let the account's services publish:
        # without this statement every alarm's action fails ("Resource: arn:aws:cloudwatch:...:alarm:... is not
        # authorized to perform: SNS:Publish ... because no resource-based policy allows the SNS:Publish action",
        # in the alarm's history only) and no alarm e-mail is ever sent. Only this stack's alarms, by name.
        stack = Stack.of(self)
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(
                        service="cloudwatch", resource="alarm", resource_name=alarm_name(config, "*"),
                        arn_format=ArnFormat.COLON_RESOURCE_NAME)},
                },
            )
        )
        if config.alert_email is None:
            # Said at every synth: alerts reach the topic, and nobody, until someone subscribes.
            Annotations.of(self).add_warning_v2(
                "onyx:noAlertEmail",
                f"environment {config.env_name!r} has no alertEmail: failed runs and alarms go to the topic only, "
                "with no e-mail subscription (set -c alertEmail=you@example.com)",
            )
        else:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alert_email))


def alarm_name(config: OnyxConfig, name: str) -> str:
    """An alarm's name: the stack's, then the alarm's (`Onyx-prod-StaleWarehouse`). It is the first thing the
    e-mail says (`ALARM: "Onyx-prod-StaleWarehouse" in ...`), and the topic admits this stack's alarms by it."""
    return f"{config.stack_name}-{name}"
