"""Alarms to the alert topic and one dashboard: is the pipeline running, succeeding, and moving rows?"""

from __future__ import annotations

import math
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from lambdas.shared.constants import METRICS_NAMESPACE, ROWS_PER_TABLE_DIMENSIONS, RowMetrics
from stacks.config import OnyxConfig
from stacks.pipeline import Pipeline, StageFunction

PERIOD: Final = Duration.minutes(5)
ROWS_PERIOD: Final = Duration.minutes(15)
# The Powertools metrics the handlers emit once per table (lambdas.shared.observability.rows_per_table).
ROW_METRICS: Final = (
    ("extracted", RowMetrics.EXTRACTED),
    ("transformed", RowMetrics.TRANSFORMED),
    ("loaded", RowMetrics.LOADED),
)


def rows_per_table(metric_name: str) -> str:
    """One line per table: a search in the metric's schema (namespace and exactly its dimensions, the table's)."""
    schema = ",".join((METRICS_NAMESPACE, *ROWS_PER_TABLE_DIMENSIONS))
    query = f'{{{schema}}} MetricName="{metric_name}"'
    return f"SEARCH('{query}', 'Sum', {ROWS_PERIOD.to_seconds():.0f})"


def freshness_window(schedule_minutes: int) -> tuple[Duration, int]:
    """(period, evaluation periods) covering twice the schedule; CloudWatch caps one period at a day."""
    window = 2 * schedule_minutes
    if window <= 24 * 60:
        return Duration.minutes(window), 1
    return Duration.hours(1), math.ceil(window / 60)


class Monitoring(Construct):
    """Alarms (unsuccessful runs, Lambda errors and throttles, stale warehouse, unsent run alerts) and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: OnyxConfig,
        pipeline: Pipeline,
        notifier: StageFunction,
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._action = actions.SnsAction(alert_topic)
        self.alarms: list[cloudwatch.Alarm] = []
        machine = pipeline.state_machine
        stages = pipeline.stages
        functions = (*stages, notifier)  # what the dashboard graphs
        prefix = f"Onyx {config.env_name}"

        # Unsuccessful executions and function errors are on the dashboard, without an e-mail of their own: the
        # run alert (stacks/run_alerts.py) e-mails each unsuccessful end once, with more than an alarm can say.
        self._alarm(
            "ExecutionsFailed",
            machine.metric_failed(period=PERIOD, statistic="Sum"),
            f"{prefix}: a pipeline run failed. Its run alert names the step, error and message.",
            notify=False,
        )
        self._alarm(
            "ExecutionsTimedOut",
            machine.metric_timed_out(period=PERIOD, statistic="Sum"),
            f"{prefix}: a pipeline run exceeded {config.execution_timeout_minutes} minutes and was stopped.",
            notify=False,
        )
        self._alarm(
            "ExecutionsAborted",
            machine.metric_aborted(period=PERIOD, statistic="Sum"),
            f"{prefix}: a pipeline run was stopped (by a person, a deployment or a script).",
            notify=False,
        )
        for stage in stages:
            name = stage.node.id
            self._alarm(
                f"{name}Errors",
                stage.function.metric_errors(period=PERIOD, statistic="Sum"),
                f"{prefix}: the {name} function raised errors (retried ones included). See its log group.",
                notify=False,
            )
            self._alarm(
                f"{name}Throttles",
                stage.function.metric_throttles(period=PERIOD, statistic="Sum"),
                f"{prefix}: the {name} function was throttled (the account's concurrency is used up); "
                "its task retries.",
                notify=False,
            )
        # These two e-mail: nothing else would tell anyone.
        self._alarm(
            "NotifyErrors",
            notifier.function.metric_errors(period=PERIOD, statistic="Sum"),
            f"{prefix}: a run alert could not be sent. Look at the notifier's log group, then at the executions "
            "in the Step Functions console.",
        )
        period, periods = freshness_window(config.schedule_minutes)
        self._alarm(
            "Freshness",
            machine.metric_succeeded(period=period, statistic="Sum"),
            f"{prefix}: no run succeeded in {2 * config.schedule_minutes} minutes (twice the schedule), "
            "so the warehouse is going stale. Check the schedule rule and recent executions.",
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            # No data at all means no successful execution: that is exactly what this alarm is for.
            missing=cloudwatch.TreatMissingData.BREACHING,
            evaluation_periods=periods,
        )

        self.dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"Onyx-{config.env_name}", default_interval=Duration.days(1)
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    machine.metric_started(period=PERIOD, statistic="Sum", label="started"),
                    machine.metric_succeeded(period=PERIOD, statistic="Sum", label="succeeded"),
                    machine.metric_failed(period=PERIOD, statistic="Sum", label="failed"),
                    machine.metric_timed_out(period=PERIOD, statistic="Sum", label="timed out"),
                    machine.metric_aborted(period=PERIOD, statistic="Sum", label="aborted"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Execution duration",
                left=[
                    machine.metric_time(period=PERIOD, statistic="Average", label="average"),
                    machine.metric_time(period=PERIOD, statistic="Maximum", label="maximum"),
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function duration (p95)",
                left=[
                    _labelled(stage, stage.function.metric_duration(period=PERIOD, statistic="p95"))
                    for stage in functions
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function errors and throttles",
                left=[
                    _labelled(stage, stage.function.metric_errors(period=PERIOD, statistic="Sum"), "errors")
                    for stage in functions
                ],
                right=[
                    _labelled(stage, stage.function.metric_throttles(period=PERIOD, statistic="Sum"), "throttles")
                    for stage in functions
                ],
                width=12,
            ),
        )
        self.dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"Rows {verb} per table",
                    left=[cloudwatch.MathExpression(expression=rows_per_table(metric), label="", period=ROWS_PERIOD)],
                    width=8,
                    height=8,
                )
                for verb, metric in ROW_METRICS
            )
        )
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=list(self.alarms), width=24),
        )

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.Metric,
        description: str,
        *,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        evaluation_periods: int = 1,
        notify: bool = True,
    ) -> None:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=1,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=evaluation_periods,
            treat_missing_data=missing,
        )
        if notify:
            alarm.add_alarm_action(self._action)
            alarm.add_ok_action(self._action)
        self.alarms.append(alarm)


def _labelled(stage: StageFunction, metric: cloudwatch.Metric, suffix: str = "") -> cloudwatch.Metric:
    label = stage.node.id.lower() if not suffix else f"{stage.node.id.lower()} {suffix}"
    return metric.with_(label=label)
