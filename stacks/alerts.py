"""The alert topic: everything that needs a person (failed runs, alarms) arrives here, and by e-mail."""

from __future__ import annotations

from aws_cdk import Annotations, Stack
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
        if config.alert_email is None:
            # Said at every synth: alerts reach the topic, and nobody, until someone subscribes.
            Annotations.of(self).add_warning_v2(
                "onyx:noAlertEmail",
                f"environment {config.env_name!r} has no alertEmail: failed runs and alarms go to the topic only, "
                "with no e-mail subscription (set -c alertEmail=you@example.com)",
            )
        else:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alert_email))
