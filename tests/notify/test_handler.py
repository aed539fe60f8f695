"""The notify handler: its environment and event models, and what it does with an event it should not get."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lambdas.notify import handler as notify
from lambdas.shared.constants import EXECUTION_STATUS_CHANGE, Env


def _event(status: str, detail_type: str = EXECUTION_STATUS_CHANGE) -> dict:
    return {
        "version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.states",
        "account": "123456789012", "time": "2026-12-01T10:03:12Z", "region": "eu-west-2",
        "resources": ["arn:aws:states:eu-west-2:123456789012:execution:m:run-1"],
        "detail": {"executionArn": "arn:aws:states:eu-west-2:123456789012:execution:m:run-1", "name": "run-1",
                   "status": status, "startDate": 1796119200000, "stopDate": 1796119392000,
                   "error": "InvalidData", "cause": "{}"},
    }


@pytest.fixture
def environment(monkeypatch):
    monkeypatch.setenv(Env.ALERT_TOPIC_ARN, "arn:aws:sns:eu-west-2:123456789012:alerts")
    monkeypatch.setenv(Env.ENV_NAME, "dev")
    monkeypatch.setenv("AWS_REGION", "eu-west-2")
    monkeypatch.setenv(Env.STATE_LOG_GROUPS, '{"Load": "/aws/lambda/load"}')


def test_the_event_model_reads_aws_epoch_milliseconds():
    event = notify.NotifyEvent.model_validate(_event("FAILED"))
    assert event.detail.start_date == datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
    assert event.detail.stop_date == datetime(2026, 12, 1, 10, 3, 12, tzinfo=UTC)
    assert event.detail_type == EXECUTION_STATUS_CHANGE


def test_the_environment_model_reads_the_log_groups_json(environment):
    env = notify.NotifyEnvironment.from_environ()
    assert env.state_log_groups == {"Load": "/aws/lambda/load"}
    assert env.env_name == "dev"


def test_a_missing_topic_is_a_clear_error(environment, monkeypatch):
    monkeypatch.delenv(Env.ALERT_TOPIC_ARN)
    with pytest.raises(ValidationError, match=Env.ALERT_TOPIC_ARN):
        notify.NotifyEnvironment.from_environ()


@pytest.mark.parametrize(("status", "detail_type"), [("SUCCEEDED", EXECUTION_STATUS_CHANGE),
                                                     ("RUNNING", EXECUTION_STATUS_CHANGE),
                                                     ("FAILED", "Scheduled Event")])
def test_an_event_that_is_not_an_unsuccessful_end_e_mails_nobody(environment, lambda_context, status, detail_type):
    # No AWS call is made: no endpoint or credentials are needed for the answer.
    assert notify.handler(_event(status, detail_type), lambda_context) == {"notified": False}
