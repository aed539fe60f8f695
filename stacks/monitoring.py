"""The alarms, and who each tells, and one dashboard per environment.

Who hears what (README "Alarms"):

- A run that ends FAILED, TIMED_OUT or ABORTED: its run alert (stacks/run_alerts.py), one e-mail naming the
  step and the error. The alarms on those ends only colour the dashboard: nothing is said twice.
- Errors a retry fixed tell nobody: each task retries transient errors, and a run that still fails has its run
  alert. The functions' errors are graphed on the dashboard, with no alarm (an alarm in ALARM for an error that
  was retried away would teach people to ignore the alarm list).
- The warehouse going stale (StaleWarehouse, below): an e-mail when it starts and one when it ends. It is what
  catches a failure with no run alert: a schedule that cannot start executions, runs that hang, a notifier
  that cannot send.
- A run alert that was lost (RunAlertsLost): an e-mail, since nothing else would say it.
- A stage or the execution nearing its timeout (NearTimeout): an e-mail on entering ALARM, at most one a day
  for each: the runs still succeed, and someone has days to raise the limit or find what grew before they fail.
  (An invocation or run that did time out counts too, so the first timeout may come with its warning if none
  came before: it says the next runs will fail the same way.)
- Throttling (Step Functions' state transitions, a function's invocations): on the dashboard only. The retries
  absorbed it (a run it failed has its run alert); it says the account's quota is shared and nearly used.

Custom metrics are per environment (lambdas.shared.constants.ENVIRONMENT_DIMENSION): the dashboard searches its
own environment's only. AWS/States, AWS/Lambda and AWS/Events metrics are per resource already.
"""

from __future__ import annotations

import enum
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.shared.constants import (
    ENVIRONMENT_DIMENSION,
    METRICS_NAMESPACE,
    ROWS_PER_TABLE_DIMENSIONS,
    RUN_ALERTS_SENT,
    SERVICE_DIMENSION,
    SERVICE_NAME,
    RebuildMetrics,
    RowMetrics,
)
from stacks.alerts import alarm_name
from stacks.config import OnyxConfig
from stacks.pipeline import Pipeline, StageFunction
from stacks.run_alerts import RunAlerts

PERIOD: Final = Duration.minutes(5)
ROWS_PERIOD: Final = Duration.minutes(15)
# Warnings look back a day: one e-mail (or one red day on the dashboard) per episode, not one per slow run.
WARNING_PERIOD: Final = Duration.days(1)
# "Near the timeout": a stage or execution that took this share of its limit. Data grows slowly, so this is
# typically days before the first run that times out.
NEAR_TIMEOUT_PERCENT: Final = 80
# Freshness: no successful run in the last FRESHNESS_PERIODS schedule intervals, while the schedule triggered
# in at least SCHEDULE_TRIGGERS of them (Monitoring._freshness says why these numbers).
FRESHNESS_PERIODS: Final = 3
SCHEDULE_TRIGGERS: Final = 2
# ScheduleIdle counts the intervals *without* a trigger: idle when more than this many of FRESHNESS_PERIODS are.
IDLE_PERIODS: Final = FRESHNESS_PERIODS - SCHEDULE_TRIGGERS + 1
# The Powertools metrics the handlers emit once per table (lambdas.shared.observability.rows_per_table).
ROW_METRICS: Final = (
    ("extracted", RowMetrics.EXTRACTED),
    ("transformed", RowMetrics.TRANSFORMED),
    ("loaded", RowMetrics.LOADED),
)


class Notice(enum.Enum):
    """Whom an alarm tells: nobody (the dashboard), the alert topic when it fires, or also when it recovers."""

    DASHBOARD = "dashboard only"
    ON_ALARM = "e-mail on ALARM"  # something happened: its recovery is no news
    ON_ALARM_AND_OK = "e-mail on ALARM and on OK"  # a condition that lasts: its end is news


def rows_per_table(metric_name: str, env_name: str) -> str:
    """One line per table: a search in the metric's schema (namespace and exactly its dimensions: the service, the
    environment, the table), of this environment only (a quoted value matches exactly, not as a token)."""
    schema = ",".join((METRICS_NAMESPACE, *ROWS_PER_TABLE_DIMENSIONS))
    query = f'{{{schema}}} {ENVIRONMENT_DIMENSION}="{env_name}" MetricName="{metric_name}"'
    return f"SEARCH('{query}', 'Sum', {ROWS_PERIOD.to_seconds():.0f})"


def custom_metric(metric_name: str, env_name: str, *, period: Duration = PERIOD) -> cloudwatch.Metric:
    """A run-level metric the handlers emit (dimensions: the service and the environment), of this environment."""
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={SERVICE_DIMENSION: SERVICE_NAME, ENVIRONMENT_DIMENSION: env_name},
        statistic="Sum",
        period=period,
    )


def rule_metric(rule: events.IRule, metric_name: str, period: Duration) -> cloudwatch.Metric:
    """An EventBridge metric of one rule of the default bus (its only dimension is then RuleName)."""
    return cloudwatch.Metric(
        namespace="AWS/Events",
        metric_name=metric_name,
        dimensions_map={"RuleName": rule.rule_name},
        statistic="Sum",
        period=period,
    )


class Monitoring(Construct):
    """The alarms (module docstring: who each tells) and the `Onyx-<env>` dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: OnyxConfig,
        pipeline: Pipeline,
        run_alerts: RunAlerts,
        alert_topic: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._action = actions.SnsAction(alert_topic)
        self.alarms: list[cloudwatch.Alarm] = []
        self.notices: dict[str, Notice] = {}
        machine = pipeline.state_machine
        stages = pipeline.stages
        notifier = run_alerts.notifier
        functions = (*stages, notifier)  # what the dashboard graphs
        prefix = f"Onyx {config.env_name}"

        for name, metric, what in (
            ("ExecutionsFailed", machine.metric_failed, "failed"),
            ("ExecutionsTimedOut", machine.metric_timed_out,
             f"exceeded the execution timeout ({config.execution_timeout_minutes} minutes) and was stopped"),
            ("ExecutionsAborted", machine.metric_aborted, "was stopped (by a person, a deployment or a script)"),
        ):
            self._alarm(
                name,
                metric(period=PERIOD, statistic="Sum"),
                f"{prefix}: a run {what}. Its run alert e-mail names the step, the error and what to do.",
                notice=Notice.DASHBOARD,
            )

        self.stale_warehouse = self._freshness(pipeline, prefix)

        lost = cloudwatch.MathExpression(
            expression="dropped + failed",
            using_metrics={
                "dropped": notifier.function.metric("AsyncEventsDropped", period=PERIOD, statistic="Sum"),
                "failed": rule_metric(run_alerts.rule, "FailedInvocations", PERIOD),
            },
            label="run alerts lost",
            period=PERIOD,
        )
        self._alarm(
            "RunAlertsLost",
            lost,
            f"{prefix}: a run ended unsuccessfully and its e-mail was not sent (the notifier failed on every retry, "
            "or EventBridge could not invoke it). Look at the notifier's log group, then at the recent executions "
            "in the Step Functions console.",
            notice=Notice.ON_ALARM,
        )

        near = f"{NEAR_TIMEOUT_PERCENT}%"
        for stage in stages:
            name = stage.node.id
            timeout = _timeout(stage)
            self._alarm(
                f"{name}NearTimeout",
                stage.function.metric_duration(period=WARNING_PERIOD, statistic="Maximum"),
                f"{prefix}: an invocation of {name} took at least {near} of its {timeout.to_seconds():.0f} s timeout "
                "in the last day. Runs still succeed; before one times out, raise the timeout (and memory) in "
                "cdk.json, or find what grew (the dashboard's rows per table).",
                threshold=timeout.to_milliseconds() * NEAR_TIMEOUT_PERCENT // 100,
                notice=Notice.ON_ALARM,
            )
        execution_timeout = Duration.minutes(config.execution_timeout_minutes)
        self._alarm(
            "ExecutionNearTimeout",
            machine.metric_time(period=WARNING_PERIOD, statistic="Maximum"),
            f"{prefix}: a run took at least {near} of the execution timeout ({config.execution_timeout_minutes} "
            "minutes) in the last day. Before runs time out, raise executionTimeoutMinutes or find the slow step "
            "(the dashboard's function durations).",
            threshold=execution_timeout.to_milliseconds() * NEAR_TIMEOUT_PERCENT // 100,
            notice=Notice.ON_ALARM,
        )

        self._alarm(
            "ExecutionThrottled",
            machine.metric_throttled(period=WARNING_PERIOD, statistic="Sum"),
            f"{prefix}: Step Functions throttled state transitions of a run in the last day (the account's "
            "StateTransition quota, shared with other workloads in the region); the run retried.",
            notice=Notice.DASHBOARD,
        )
        for stage in stages:
            name = stage.node.id
            self._alarm(
                f"{name}Throttles",
                stage.function.metric_throttles(period=WARNING_PERIOD, statistic="Sum"),
                f"{prefix}: the {name} function was throttled in the last day (the account's Lambda concurrency, "
                "shared with other functions, was used up); its task retried. Consider a quota increase.",
                notice=Notice.DASHBOARD,
            )

        self.dashboard = self._dashboard(config, pipeline, functions, run_alerts)

    def _freshness(self, pipeline: Pipeline, prefix: str) -> cloudwatch.CompositeAlarm:
        """StaleWarehouse: no run succeeded in the last 3 schedule intervals, although the schedule triggered in at
        least 2 of them. A composite, ALARM("NoRecentSuccess") AND OK("ScheduleIdle"), of two metric alarms whose
        period is one schedule interval S:

        - NoRecentSuccess: FILL(ExecutionsSucceeded, 0) < 1 in 3 of the last 3 periods; missing data breaching.
        - ScheduleIdle: FILL(TriggeredRules of the schedule rule, 0) < 1 in 2 of the last 3 periods (the schedule
          triggered in fewer than 2 of them); missing data breaching.

        Why two. ExecutionsSucceeded has data only for periods with a success: NoRecentSuccess alone (missing =
        breaching) is in ALARM the moment it is created, before the first run even started, and stays there until
        one succeeds; that is what the alarm this replaces did after every first deploy. ScheduleIdle holds it back
        until the schedule has had its chance to produce a success, and while the schedule is off.

        Why FILL. With it, a period without data is 0 whenever the metric has any data in the range CloudWatch
        reads. Without it, CloudWatch evaluates the most recent *existing* datapoints of that range (longer than 3
        periods) and fills missing ones only as few times as possible, so an old success or trigger would stand in
        for the recent periods: NoRecentSuccess late, ScheduleIdle late to see a stopped schedule. With no data at
        all in that range (a new stack, a schedule off for hours) FILL may return nothing; then the missing data
        treatment decides, and it says what 0 says for both (no success: breaching; no trigger: breaching), so the
        state is the same whichever FILL does.

        Timeline (S = scheduleMinutes, D = a run's duration, t0 = the deploy that creates the alarms and the rule):

        - t0: both in ALARM (no success, no trigger yet); OK("ScheduleIdle") is false: the composite is OK. No
          e-mail. (A composite is set to INSUFFICIENT_DATA when created, then evaluated.)
        - t0+S: first trigger, first run; 2 of 3 periods still without a trigger: ScheduleIdle stays in ALARM.
        - t0+S+D: the first run succeeds; NoRecentSuccess goes OK.
        - t0+2S: second trigger; ScheduleIdle goes OK. NoRecentSuccess is OK if the first run took less than S:
          the composite stays OK. No e-mail in the first interval, nor at all. (If EventBridge first fires at t0
          rather than t0+S, everything happens one S earlier, in the same order.)
        - A first run longer than S (a big first load): at t0+2S the composite goes to ALARM: the e-mail says the
          warehouse is stale, which it is (nothing is loaded yet); the OK e-mail follows the run's success.
        - Runs stop succeeding (every run fails, runs hang, the schedule cannot start executions), the last success
          at ts, the schedule still triggering: NoRecentSuccess and the composite go to ALARM at ts+3S, one e-mail,
          and one (OK) after the next success. Failed runs have had their run alerts meanwhile; runs that never
          start or never end have not, so this is the only word about those.
        - Runs longer than S in steady state: they overlap (every trigger starts one, and overlapping is safe), so
          successes still come once per S, each D after its trigger; nothing fires. A run longer than the
          execution timeout is stopped (its run alert), and if all are, successes stop (this alarm, as above).
        - The schedule disabled or deleted, on purpose or not: no more triggers; 2S after the last one, 2 of the
          last 3 periods are without a trigger and ScheduleIdle goes to ALARM, before NoRecentSuccess can (3S
          after the last success, which came after the last trigger). The warehouse goes stale and NOBODY IS TOLD
          (a paused pipeline is not an incident); the dashboard shows ScheduleIdle and NoRecentSuccess red and the
          Executions graph's "schedule triggered" flat. A composite already in ALARM goes OK when the schedule
          stops (an OK e-mail that only means the schedule stopped). Enabling the rule again resumes everything.
        - Best-effort metrics (EventBridge and Step Functions may deliver a datapoint late or never): a lost trigger
          datapoint, or a trigger counted in the neighbouring period, leaves at most 1 of 3 periods without one;
          ScheduleIdle does not flap, nor the composite with it, while the schedule runs.
        """
        config = self._config
        period = Duration.minutes(config.schedule_minutes)
        machine = pipeline.state_machine
        stale_after = FRESHNESS_PERIODS * config.schedule_minutes
        no_success = self._alarm(
            "NoRecentSuccess",
            cloudwatch.MathExpression(
                expression="FILL(succeeded, 0)",
                using_metrics={"succeeded": machine.metric_succeeded(period=period, statistic="Sum")},
                label="successful runs",
                period=period,
            ),
            f"{prefix}: no run succeeded in the last {stale_after} minutes. StaleWarehouse e-mails about it when the "
            "schedule is running (ScheduleIdle OK); in ALARM right after a deploy until the first run succeeds.",
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            evaluation_periods=FRESHNESS_PERIODS,
            notice=Notice.DASHBOARD,
        )
        idle = self._alarm(
            "ScheduleIdle",
            cloudwatch.MathExpression(
                expression="FILL(triggered, 0)",
                using_metrics={"triggered": rule_metric(pipeline.schedule, "TriggeredRules", period)},
                label="schedule triggered",
                period=period,
            ),
            f"{prefix}: the schedule rule triggered in fewer than {SCHEDULE_TRIGGERS} of the last "
            f"{FRESHNESS_PERIODS} intervals of {config.schedule_minutes} minutes: it is disabled or deleted, or the "
            "stack was just deployed. No run starts by itself and StaleWarehouse stays silent until it is OK.",
            comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            missing=cloudwatch.TreatMissingData.BREACHING,
            evaluation_periods=FRESHNESS_PERIODS,
            datapoints=IDLE_PERIODS,
            notice=Notice.DASHBOARD,
        )
        stale = cloudwatch.CompositeAlarm(
            self,
            "StaleWarehouse",
            composite_alarm_name=alarm_name(config, "StaleWarehouse"),
            alarm_description=(
                f"{prefix}: no run succeeded in the last {stale_after} minutes ({FRESHNESS_PERIODS} schedule "
                "intervals) although the schedule kept starting runs: the warehouse is going stale. Look at the "
                "recent executions (Step Functions console, or python -m ops): failing (their run alerts say why), "
                "still running (hung), or none started (the schedule rule's FailedInvocations; the state machine's "
                "role). An OK e-mail follows the next successful run."
            ),
            alarm_rule=cloudwatch.AlarmRule.all_of(
                cloudwatch.AlarmRule.from_alarm(no_success, cloudwatch.AlarmState.ALARM),
                cloudwatch.AlarmRule.from_alarm(idle, cloudwatch.AlarmState.OK),
            ),
        )
        stale.add_alarm_action(self._action)
        stale.add_ok_action(self._action)
        self.notices["StaleWarehouse"] = Notice.ON_ALARM_AND_OK
        return stale

    def _alarm(
        self,
        construct_id: str,
        metric: cloudwatch.IMetric,
        description: str,
        *,
        notice: Notice,
        threshold: float = 1,
        comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        missing: cloudwatch.TreatMissingData = cloudwatch.TreatMissingData.NOT_BREACHING,
        evaluation_periods: int = 1,
        datapoints: int | None = None,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=alarm_name(self._config, construct_id),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints or evaluation_periods,
            treat_missing_data=missing,
        )
        if notice is not Notice.DASHBOARD:
            alarm.add_alarm_action(self._action)
        if notice is Notice.ON_ALARM_AND_OK:
            alarm.add_ok_action(self._action)
        self.alarms.append(alarm)
        self.notices[construct_id] = notice
        return alarm

    def _dashboard(
        self,
        config: OnyxConfig,
        pipeline: Pipeline,
        functions: tuple[StageFunction, ...],
        run_alerts: RunAlerts,
    ) -> cloudwatch.Dashboard:
        machine = pipeline.state_machine
        dashboard = cloudwatch.Dashboard(
            self, "Dashboard", dashboard_name=f"Onyx-{config.env_name}", default_interval=Duration.days(1)
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    rule_metric(pipeline.schedule, "TriggeredRules", PERIOD).with_(label="schedule triggered"),
                    *_executions(machine),
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
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function duration (p95)",
                left=[
                    _labelled(stage, stage.function.metric_duration(period=PERIOD, statistic="p95"))
                    for stage in functions
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Function errors (retried ones included) and throttles",
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
        dashboard.add_widgets(
            *(
                cloudwatch.GraphWidget(
                    title=f"Rows {verb} per table",
                    left=[cloudwatch.MathExpression(expression=rows_per_table(metric, config.env_name), label="",
                                                    period=ROWS_PERIOD)],
                    width=6,
                    height=8,
                )
                for verb, metric in ROW_METRICS
            ),
            cloudwatch.GraphWidget(
                title="Run alerts",
                left=[
                    custom_metric(RUN_ALERTS_SENT, config.env_name).with_(label="sent"),
                    run_alerts.notifier.function.metric("AsyncEventsDropped", period=PERIOD, statistic="Sum",
                                                        label="lost: notifier failed"),
                    rule_metric(run_alerts.rule, "FailedInvocations", PERIOD).with_(label="lost: not delivered"),
                ],
                width=6,
                height=8,
            ),
        )
        rebuild = pipeline.rebuild_state_machine
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Rebuilds",
                left=_executions(rebuild),
                width=12,
            ),
            # A rebuild's progress: the runs of its plan loaded, and those left (each LoadRuns step reports both).
            cloudwatch.GraphWidget(
                title="Rebuild progress (runs)",
                left=[custom_metric(RebuildMetrics.LOADED, config.env_name).with_(label="loaded")],
                right=[custom_metric(RebuildMetrics.REMAINING, config.env_name).with_(statistic="Minimum",
                                                                                   label="left to load")],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=[self.stale_warehouse, *self.alarms], width=24),
        )
        return dashboard


def _executions(machine: sfn.StateMachine) -> list[cloudwatch.IMetric]:
    """A state machine's executions by how they ended, each labelled."""
    return [
        machine.metric_started(period=PERIOD, statistic="Sum", label="started"),
        machine.metric_succeeded(period=PERIOD, statistic="Sum", label="succeeded"),
        machine.metric_failed(period=PERIOD, statistic="Sum", label="failed"),
        machine.metric_timed_out(period=PERIOD, statistic="Sum", label="timed out"),
        machine.metric_aborted(period=PERIOD, statistic="Sum", label="aborted"),
    ]


def _timeout(stage: StageFunction) -> Duration:
    timeout = stage.function.timeout
    if timeout is None:  # the stack sets every function's timeout (FunctionSpec.timeout_seconds)
        raise ValueError(f"{stage.node.path} has no timeout")
    return timeout


def _labelled(stage: StageFunction, metric: cloudwatch.Metric, suffix: str = "") -> cloudwatch.Metric:
    label = stage.node.id.lower() if not suffix else f"{stage.node.id.lower()} {suffix}"
    return metric.with_(label=label)
