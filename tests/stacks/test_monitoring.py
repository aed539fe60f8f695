"""Alerts reach a person, once, when a person must act: the topic, each alarm's exact definition and whom it tells,
the freshness composite, and the dashboard of one environment. Alarms are placeholders on the local cloud (nothing
evaluates metrics there), so these template tests are what holds them."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Annotations, Match, Template

from stacks.application import build_app, stack_of
from stacks.onyx_stack import OnyxStack
from tests.stacks.conftest import Synthesized

# Whom each alarm tells (stacks/monitoring.py's docstring says why).
DASHBOARD_ONLY = {
    "ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted",  # the run alert already e-mailed each run
    "NoRecentSuccess", "ScheduleIdle",  # the parts of StaleWarehouse
    "ExecutionThrottled", "ExtractThrottles", "TransformThrottles", "LoadThrottles", "AdvanceWatermarkThrottles",
}
ON_ALARM = {
    "RunAlertsLost",
    "ExtractNearTimeout", "TransformNearTimeout", "LoadNearTimeout", "AdvanceWatermarkNearTimeout",
    "ExecutionNearTimeout",
}
ON_ALARM_AND_OK = {"StaleWarehouse"}
STAGES = ("Extract", "Transform", "Load", "AdvanceWatermark")


def _alarms(template: dict[str, Any], stack: OnyxStack) -> dict[str, dict[str, Any]]:
    """Every alarm of the template (metric and composite) by its construct id under Monitoring."""
    monitoring = stack.monitoring
    by_logical_id = {stack.resolve(child.node.default_child.logical_id): child.node.id  # type: ignore[union-attr]
                     for child in monitoring.node.children if child.node.default_child is not None}
    return {by_logical_id[logical_id]: resource["Properties"]
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")}


def _ref(synthesized: Synthesized, construct: Any) -> dict[str, str]:
    return {"Ref": synthesized.logical_id(construct)}


def _metric_alarm(name: str, namespace: str, metric: str, dimensions: dict[str, Any], *, statistic: str, period: int,
                  threshold: float, **overrides: Any) -> dict[str, Any]:
    """An alarm on one metric as CloudFormation has it, with every evaluation setting spelt out."""
    return {
        "AlarmName": f"Onyx-dev-{name}",
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
        "Statistic": statistic,
        "Period": period,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": threshold,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        **overrides,
    }


def _stat(metric_id: str, namespace: str, metric: str, dimensions: dict[str, Any], period: int) -> dict[str, Any]:
    return {"Id": metric_id, "ReturnData": False, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": metric,
                   "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()]},
        "Period": period, "Stat": "Sum"}}


def _without_description_and_tags(properties: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in properties.items() if key not in ("AlarmDescription", "Tags")}


@pytest.fixture(scope="module")
def alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return _alarms(synthesized.template, synthesized.stack)


def test_alert_topic_is_encrypted_with_its_own_rotated_key(synthesized):
    alerts = synthesized.stack.alerts
    topic = synthesized.resource(alerts.topic)["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [synthesized.logical_id(alerts.key), "Arn"]}
    assert synthesized.resource(alerts.key)["Properties"]["EnableKeyRotation"] is True


def _topic_statements(synthesized: Synthesized) -> list[dict[str, Any]]:
    topic_id = synthesized.logical_id(synthesized.stack.alerts.topic)
    (policy,) = synthesized.resources("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    return list(policy["Properties"]["PolicyDocument"]["Statement"])


def test_alert_topic_refuses_publishing_without_ssl(synthesized):
    (deny,) = [s for s in _topic_statements(synthesized) if s["Effect"] == "Deny"]
    assert deny["Action"] == "sns:Publish"
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_alert_topic_lets_this_stacks_alarms_publish_and_nothing_else(synthesized):
    # The topic policy replaces SNS's default one: without an Allow for CloudWatch, every alarm action fails with
    # "... is not authorized to perform: SNS:Publish ... because no resource-based policy allows" (alarm history
    # only) and no alarm e-mail is ever sent. The notifier publishes with its role's identity policy instead.
    topic_id = synthesized.logical_id(synthesized.stack.alerts.topic)
    (allow,) = [s for s in _topic_statements(synthesized) if s["Effect"] == "Allow"]
    assert allow == {
        "Sid": "AllowThisStacksAlarmsToPublish",
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "sns:Publish",
        "Resource": {"Ref": topic_id},
        "Condition": {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
            "ArnLike": {"aws:SourceArn": {"Fn::Join": ["", [
                "arn:", {"Ref": "AWS::Partition"}, ":cloudwatch:", {"Ref": "AWS::Region"}, ":",
                {"Ref": "AWS::AccountId"}, ":alarm:Onyx-dev-*"]]}},
        },
    }


def test_every_alarm_is_named_by_its_stack_so_the_topic_admits_it(alarms):
    assert {props["AlarmName"] for props in alarms.values()} == {f"Onyx-dev-{name}" for name in alarms}


def test_alert_email_from_config_is_subscribed():
    stack = stack_of(build_app({"alertEmail": "ops@example.org"}, nag=False))
    subscriptions = Template.from_stack(stack).find_resources("AWS::SNS::Subscription")
    assert [s["Properties"]["Protocol"] for s in subscriptions.values()] == ["email"]
    assert [s["Properties"]["Endpoint"] for s in subscriptions.values()] == ["ops@example.org"]


def test_without_an_alert_email_nothing_is_subscribed_and_synth_says_so(synthesized):
    assert synthesized.config.alert_email is None
    assert synthesized.resources("AWS::SNS::Subscription") == {}
    warnings = Annotations.from_stack(synthesized.stack).find_warning("*", Match.string_like_regexp("alertEmail"))
    assert [w.entry.data for w in warnings] == [
        "environment 'dev' has no alertEmail: failed runs and alarms go to the topic only, with no e-mail "
        "subscription (set -c alertEmail=you@example.com) [ack: onyx:noAlertEmail]"]


def test_each_alarm_tells_the_topic_exactly_as_its_notice_says(synthesized, alarms):
    # A failed run reaches a person once, by its run alert: no alarm on unsuccessful ends, function errors or
    # throttles e-mails. Warnings e-mail when they fire; only the stale warehouse (a lasting condition) also
    # e-mails its end.
    topic = _ref(synthesized, synthesized.stack.alerts.topic)
    assert set(alarms) == DASHBOARD_ONLY | ON_ALARM | ON_ALARM_AND_OK
    assert len(alarms) == 17
    told = {name: (props.get("AlarmActions"), props.get("OKActions"), props.get("InsufficientDataActions"))
            for name, props in alarms.items()}
    assert told == {
        **dict.fromkeys(DASHBOARD_ONLY, (None, None, None)),
        **{name: ([topic], None, None) for name in ON_ALARM},
        **{name: ([topic], [topic], None) for name in ON_ALARM_AND_OK},
    }
    notices = synthesized.stack.monitoring.notices
    assert {name for name, notice in notices.items() if notice.name == "DASHBOARD"} == DASHBOARD_ONLY
    assert {name for name, notice in notices.items() if notice.name == "ON_ALARM"} == ON_ALARM
    assert {name for name, notice in notices.items() if notice.name == "ON_ALARM_AND_OK"} == ON_ALARM_AND_OK


def test_there_is_no_alarm_on_function_errors(alarms):
    # An error a retry fixed needs nobody; one it did not fails the run, which has its run alert. Errors are
    # graphed on the dashboard instead.
    assert [name for name, props in alarms.items() if props.get("MetricName") == "Errors"] == []


def test_unsuccessful_ends_are_on_the_dashboard_only(synthesized, alarms):
    machine = {"StateMachineArn": _ref(synthesized, synthesized.stack.pipeline.state_machine)}
    for name in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        assert _without_description_and_tags(alarms[name]) == _metric_alarm(
            name, "AWS/States", name, machine, statistic="Sum", period=300, threshold=1)


def test_throttling_is_on_the_dashboard_for_a_day(synthesized, alarms):
    pipeline = synthesized.stack.pipeline
    machine = {"StateMachineArn": _ref(synthesized, pipeline.state_machine)}
    assert _without_description_and_tags(alarms["ExecutionThrottled"]) == _metric_alarm(
        "ExecutionThrottled", "AWS/States", "ExecutionThrottled", machine, statistic="Sum", period=86400, threshold=1)
    for stage in pipeline.stages:
        name = f"{stage.node.id}Throttles"
        assert _without_description_and_tags(alarms[name]) == _metric_alarm(
            name, "AWS/Lambda", "Throttles", {"FunctionName": _ref(synthesized, stage.function)},
            statistic="Sum", period=86400, threshold=1)


@pytest.mark.parametrize(("stage", "threshold_ms"), [
    ("Extract", 720_000), ("Transform", 720_000), ("Load", 720_000), ("AdvanceWatermark", 48_000)])
def test_a_stage_taking_80_percent_of_its_timeout_warns_once_a_day(synthesized, alarms, stage, threshold_ms):
    function = next(s.function for s in synthesized.stack.pipeline.stages if s.node.id == stage)
    name = f"{stage}NearTimeout"
    assert _without_description_and_tags(alarms[name]) == _metric_alarm(
        name, "AWS/Lambda", "Duration", {"FunctionName": _ref(synthesized, function)}, statistic="Maximum",
        period=86400, threshold=threshold_ms, AlarmActions=[_ref(synthesized, synthesized.stack.alerts.topic)])


def test_a_run_taking_80_percent_of_the_execution_timeout_warns_once_a_day(synthesized, alarms):
    machine = {"StateMachineArn": _ref(synthesized, synthesized.stack.pipeline.state_machine)}
    assert _without_description_and_tags(alarms["ExecutionNearTimeout"]) == _metric_alarm(
        "ExecutionNearTimeout", "AWS/States", "ExecutionTime", machine, statistic="Maximum", period=86400,
        threshold=120 * 60_000 * 80 // 100, AlarmActions=[_ref(synthesized, synthesized.stack.alerts.topic)])


def test_a_lost_run_alert_is_e_mailed_not_a_notifier_error(synthesized, alarms):
    # The notifier's errors are retried (twice by Lambda, its delivery 8 times by EventBridge): only an alert
    # that was dropped after all of them, or never delivered, is lost.
    run_alerts = synthesized.stack.run_alerts
    assert _without_description_and_tags(alarms["RunAlertsLost"]) == {
        "AlarmName": "Onyx-dev-RunAlertsLost",
        "Metrics": [
            {"Id": "expr_1", "Expression": "dropped + failed", "Label": "run alerts lost", "ReturnData": True},
            _stat("dropped", "AWS/Lambda", "AsyncEventsDropped",
                  {"FunctionName": _ref(synthesized, run_alerts.notifier.function)}, 300),
            _stat("failed", "AWS/Events", "FailedInvocations", {"RuleName": _ref(synthesized, run_alerts.rule)}, 300),
        ],
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [_ref(synthesized, synthesized.stack.alerts.topic)],
    }


def test_no_recent_success_is_three_schedule_intervals_without_a_successful_run(synthesized, alarms):
    machine = _ref(synthesized, synthesized.stack.pipeline.state_machine)
    assert _without_description_and_tags(alarms["NoRecentSuccess"]) == {
        "AlarmName": "Onyx-dev-NoRecentSuccess",
        "Metrics": [
            {"Id": "expr_1", "Expression": "FILL(succeeded, 0)", "Label": "successful runs", "ReturnData": True},
            _stat("succeeded", "AWS/States", "ExecutionsSucceeded", {"StateMachineArn": machine}, 900),
        ],
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 3,
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",  # no data at all: no success
    }


def test_schedule_idle_is_fewer_than_two_triggers_in_three_schedule_intervals(synthesized, alarms):
    schedule = _ref(synthesized, synthesized.stack.pipeline.schedule)
    assert _without_description_and_tags(alarms["ScheduleIdle"]) == {
        "AlarmName": "Onyx-dev-ScheduleIdle",
        "Metrics": [
            {"Id": "expr_1", "Expression": "FILL(triggered, 0)", "Label": "schedule triggered", "ReturnData": True},
            _stat("triggered", "AWS/Events", "TriggeredRules", {"RuleName": schedule}, 900),
        ],
        "EvaluationPeriods": 3,
        "DatapointsToAlarm": 2,  # 2 of 3 intervals without a trigger: fewer than 2 with one
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",  # no data at all: no trigger
    }


def test_the_stale_warehouse_e_mails_only_when_no_run_succeeds_while_the_schedule_runs(synthesized, alarms):
    monitoring = synthesized.stack.monitoring
    no_success, idle = (synthesized.logical_id(monitoring.node.find_child(name))
                        for name in ("NoRecentSuccess", "ScheduleIdle"))
    stale = alarms["StaleWarehouse"]
    parts = stale["AlarmRule"]["Fn::Join"][1]
    rule = "".join(part if isinstance(part, str) else f"<{part['Fn::GetAtt'][0]}.{part['Fn::GetAtt'][1]}>"
                   for part in parts)
    assert rule == f'(ALARM("<{no_success}.Arn>") AND OK("<{idle}.Arn>"))'
    assert stale["AlarmName"] == "Onyx-dev-StaleWarehouse"
    assert set(stale) == {"AlarmName", "AlarmDescription", "AlarmRule", "AlarmActions", "OKActions", "Tags"}


@pytest.mark.parametrize(("schedule_minutes", "period"), [(1, 60), (60, 3600), (1440, 86400)])
def test_freshness_follows_the_schedule_and_every_alarm_stays_within_cloudwatch_limits(schedule_minutes, period):
    stack = stack_of(build_app({"scheduleMinutes": schedule_minutes, "executionTimeoutMinutes": 30,
                                "extractTimeoutSeconds": 300}, nag=False))
    template = Template.from_stack(stack).to_json()
    alarms = _alarms(template, stack)
    for name in ("NoRecentSuccess", "ScheduleIdle"):
        assert [m["MetricStat"]["Period"] for m in alarms[name]["Metrics"] if "MetricStat" in m] == [period]
        assert alarms[name]["EvaluationPeriods"] == 3
    assert alarms["ExecutionNearTimeout"]["Threshold"] == 30 * 60_000 * 80 // 100
    assert alarms["ExtractNearTimeout"]["Threshold"] == 240_000
    # What PutMetricAlarm refuses: a period that is not 10, 20, 30 or a multiple of 60 s; an evaluation range
    # (period x evaluation periods) over 7 days, or over 1 day for periods under an hour.
    for name, props in alarms.items():
        if "AlarmRule" in props:
            continue
        periods = [props["Period"]] if "Period" in props else [
            m["MetricStat"]["Period"] for m in props["Metrics"] if "MetricStat" in m]
        for seconds in periods:
            assert seconds % 60 == 0, name
            assert seconds * props["EvaluationPeriods"] <= (604_800 if seconds >= 3600 else 86_400), name
        assert 1 <= props["DatapointsToAlarm"] <= props["EvaluationPeriods"], name


def _dashboard_body(template: dict[str, Any]) -> str:
    (dashboard,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    return "".join(part if isinstance(part, str) else "?"
                   for part in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1])


def test_dashboard_shows_executions_durations_rows_per_table_run_alerts_and_alarms(synthesized):
    (dashboard,) = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "Onyx-dev"
    body = _dashboard_body(synthesized.template)
    for title in ("Executions", "Execution duration", "Function duration (p95)",
                  "Function errors (retried ones included) and throttles", "Run alerts", "Rebuilds",
                  "Rebuild progress (runs)", "Alarms"):
        assert f'"title":"{title}"' in body
    # A rebuild's progress, from the metrics its LoadRuns steps emit (lambdas/load/handler.py).
    assert '["Onyx","RebuildRunsLoaded","environment","dev","service","onyx",{"label":"loaded","stat":"Sum"}]' in body
    assert ('["Onyx","RebuildRunsRemaining","environment","dev","service","onyx",{"label":"left to load",'
            '"stat":"Minimum","yAxis":"right"}]') in body
    assert '["AWS/Events","TriggeredRules","RuleName","?",{"label":"schedule triggered","stat":"Sum"}]' in body


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_dashboard_searches_its_own_environments_metrics_only(env):
    stack = stack_of(build_app({"env": env, "alertEmail": "ops@example.org"}, nag=False))
    body = _dashboard_body(Template.from_stack(stack).to_json())
    for verb, metric in [("extracted", "RowsExtracted"), ("transformed", "RowsTransformed"), ("loaded", "RowsLoaded")]:
        assert f'"title":"Rows {verb} per table"' in body
        # The schema {namespace,dimensions} matches exactly the metrics the handlers emit per table, and the
        # quoted value exactly this environment's.
        assert (f"SEARCH('{{Onyx,service,environment,Table}} environment=\\\"{env}\\\" "
                f"MetricName=\\\"{metric}\\\"', 'Sum', 900)") in body
    assert f'["Onyx","RunAlertsSent","environment","{env}","service","onyx",{{"label":"sent","stat":"Sum"}}]' in body
    other = {"dev": "prod", "prod": "dev"}[env]
    assert f'environment=\\"{other}\\"' not in body
    assert f'"environment","{other}"' not in body
