"""Alerts reach a person: the encrypted SSL-only topic, its e-mail subscription, the alarms and the dashboard."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Annotations, Match, Template

from stacks.application import build_app, stack_of
from tests.stacks.conftest import Synthesized


def _alarm(synthesized: Synthesized, name: str) -> dict[str, Any]:
    return dict(synthesized.resource(synthesized.stack.monitoring.node.find_child(name))["Properties"])


def test_alert_topic_is_encrypted_with_its_own_rotated_key(synthesized):
    alerts = synthesized.stack.alerts
    topic = synthesized.resource(alerts.topic)["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [synthesized.logical_id(alerts.key), "Arn"]}
    assert synthesized.resource(alerts.key)["Properties"]["EnableKeyRotation"] is True


def test_alert_topic_refuses_publishing_without_ssl(synthesized):
    topic_id = synthesized.logical_id(synthesized.stack.alerts.topic)
    (policy,) = synthesized.resources("AWS::SNS::TopicPolicy").values()
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Action"] == "sns:Publish"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


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


def test_only_the_alarms_nothing_else_reports_e_mail(synthesized):
    # An unsuccessful run is e-mailed once by the run alert; its alarms (and the functions' errors and throttles
    # behind it) only show on the dashboard. Freshness (no run at all) and an unsent run alert e-mail.
    topic = {"Ref": synthesized.logical_id(synthesized.stack.alerts.topic)}
    alarms = {_name(synthesized, logical_id): alarm["Properties"]
              for logical_id, alarm in synthesized.resources("AWS::CloudWatch::Alarm").items()}
    assert len(alarms) == 13  # 3 for executions, errors and throttles of 4 functions, freshness, notifier errors
    e_mailing = {name for name, alarm in alarms.items() if alarm.get("AlarmActions")}
    assert e_mailing == {"Freshness", "NotifyErrors"}
    for name in e_mailing:
        assert alarms[name]["AlarmActions"] == [topic]
        assert alarms[name]["OKActions"] == [topic]
    for name in set(alarms) - e_mailing:
        assert "OKActions" not in alarms[name]


def _name(synthesized: Synthesized, logical_id: str) -> str:
    """An alarm's construct id (Monitoring's child) from its logical id."""
    monitoring = synthesized.stack.monitoring
    (name,) = [child.node.id for child in monitoring.node.children
               if child.node.default_child is not None and synthesized.logical_id(child) == logical_id]
    return name


def test_notifier_errors_raise_an_alarm_that_e_mails(synthesized):
    alarm = _alarm(synthesized, "NotifyErrors")
    notifier = synthesized.stack.run_alerts.notifier
    assert alarm["Namespace"] == "AWS/Lambda"
    assert alarm["MetricName"] == "Errors"
    function = {"Ref": synthesized.logical_id(notifier.function)}
    assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": function}]
    assert alarm["Threshold"] == 1


def test_unsuccessful_executions_raise_an_alarm_each(synthesized):
    machine = {"Ref": synthesized.logical_id(synthesized.stack.pipeline.state_machine)}
    for name in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        metric = name
        alarm = _alarm(synthesized, name)
        assert alarm["Namespace"] == "AWS/States"
        assert alarm["MetricName"] == metric
        assert alarm["Dimensions"] == [{"Name": "StateMachineArn", "Value": machine}]
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["Threshold"] == 1


def test_lambda_errors_and_throttles_raise_alarms_per_function(synthesized):
    pipeline = synthesized.stack.pipeline
    for stage in (pipeline.extract, pipeline.transform, pipeline.load, pipeline.advance_watermark):
        for metric in ("Errors", "Throttles"):
            alarm = _alarm(synthesized, f"{stage.node.id}{metric}")
            assert alarm["Namespace"] == "AWS/Lambda"
            assert alarm["MetricName"] == metric
            assert alarm["Dimensions"] == [
                {"Name": "FunctionName", "Value": {"Ref": synthesized.logical_id(stage.function)}}
            ]
            assert alarm["Threshold"] == 1


def test_no_successful_run_for_twice_the_schedule_raises_the_freshness_alarm(synthesized):
    alarm = _alarm(synthesized, "Freshness")
    assert alarm["MetricName"] == "ExecutionsSucceeded"
    assert alarm["Statistic"] == "Sum"
    assert alarm["Period"] == 2 * 15 * 60
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching"


def test_dashboard_shows_executions_durations_and_rows_per_table(synthesized):
    (dashboard,) = synthesized.resources("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == "Onyx-dev"
    body = "".join(
        part if isinstance(part, str) else "?" for part in dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    )
    for title in ("Executions", "Execution duration", "Function duration (p95)", "Alarms"):
        assert f'"title":"{title}"' in body
    for verb, metric in [("extracted", "RowsExtracted"), ("transformed", "RowsTransformed"), ("loaded", "RowsLoaded")]:
        assert f'"title":"Rows {verb} per table"' in body
        # The schema {namespace,dimension} matches exactly the metrics the handlers emit per table.
        assert f"SEARCH('{{Onyx,service,Table}} MetricName=\\\"{metric}\\\"', 'Sum', 900)" in body

