"""The Onyx stack: data lake, alerts, pipeline, run alerts and monitoring for one environment."""

from __future__ import annotations

from aws_cdk import CfnOutput, Environment, Stack, Tags
from constructs import Construct

from stacks.alerts import Alerts
from stacks.config import OnyxConfig
from stacks.data_lake import DataLake
from stacks.monitoring import Monitoring
from stacks.network import FunctionNetwork
from stacks.pipeline import Pipeline
from stacks.run_alerts import RunAlerts


class OnyxStack(Stack):
    """Everything `cdk deploy` creates for one environment (docs/design.md section 1)."""

    def __init__(self, scope: Construct, *, config: OnyxConfig, env: Environment | None = None) -> None:
        super().__init__(
            scope,
            config.stack_name,
            env=env,
            description=f"Onyx ({config.env_name}): Totesys OLTP -> star-schema warehouse pipeline",
        )
        self.config = config
        self.data_lake = DataLake(self, "DataLake", config=config)
        self.alerts = Alerts(self, "Alerts", config=config)
        self.network = FunctionNetwork(self, "Network", config=config) if config.in_vpc else None
        self.pipeline = Pipeline(self, "Pipeline", config=config, data_lake=self.data_lake, network=self.network)
        self.run_alerts = RunAlerts(
            self,
            "RunAlerts",
            config=config,
            pipeline=self.pipeline,
            code=self.pipeline.code,
            topic=self.alerts.topic,
            key=self.alerts.key,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            pipeline=self.pipeline,
            run_alerts=self.run_alerts,
            alert_topic=self.alerts.topic,
        )

        for key, value in {"project": "onyx", "environment": config.env_name, **config.tags}.items():
            Tags.of(self).add(key, value)
        outputs = {
            "IngestionBucketName": self.data_lake.ingestion.bucket_name,
            "ProcessedBucketName": self.data_lake.processed.bucket_name,
            "StateMachineArn": self.pipeline.state_machine.state_machine_arn,
            "AlertTopicArn": self.alerts.topic.topic_arn,
            "DashboardName": self.monitoring.dashboard.dashboard_name,
        }
        if self.network is not None and self.network.security_group is not None:
            # What the databases' security groups admit on 5432 (README, "Running in a VPC").
            outputs["FunctionSecurityGroupId"] = self.network.security_group.attr_group_id
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
