"""Alerts reach a person: the encrypted SSL-only topic, its e-mail subscription, the alarms and the dashboard."""

from __future__ import annotations

from typing import Any

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


def test_alert_email_from_config_is_subscribed(synthesized):
    (subscription,) = synthesized.resources("AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == "data-team@example.com"


def test_every_alarm_notifies_the_alert_topic(synthesized):
    topic = {"Ref": synthesized.logical_id(synthesized.stack.alerts.topic)}
    alarms = synthesized.resources("AWS::CloudWatch::Alarm").values()
    assert len(alarms) == 11  # 2 for executions, errors and throttles of 4 functions, freshness
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [topic]
        assert alarm["Properties"]["OKActions"] == [topic]


def test_failed_or_timed_out_execution_raises_an_alarm(synthesized):
    machine = {"Ref": synthesized.logical_id(synthesized.stack.pipeline.state_machine)}
    for name, metric in [("ExecutionsFailed", "ExecutionsFailed"), ("ExecutionsTimedOut", "ExecutionsTimedOut")]:
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

