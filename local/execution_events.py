"""Step Functions' "Execution Status Change" events, which moto does not emit, emitted for the local cloud.

On AWS, every execution that changes status sends an event to the account's default EventBridge bus, and the
run-alert rule (stacks/run_alerts.py) sends the unsuccessful ends to the notifier. Here, when moto's
interpreter ends an execution, the event is built as AWS documents it, matched against the rules deployed in
moto with moto's own pattern matcher, and delivered to their Lambda targets (moto's EventBridge delivers to
SQS and logs, not to Lambda) as an asynchronous invocation: up to three attempts, as Lambda retries twice.
As on AWS, a function is invoked only if its resource policy lets EventBridge invoke it from that rule (the
stack's `AWS::Lambda::Permission`); otherwise the event is not delivered.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final, cast

from moto.awslambda.models import lambda_backends
from moto.events.models import events_backends
from moto.events.utils import EventMessageType
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

from lambdas.shared.constants import EXECUTION_STATUS_CHANGE
from local.moto_cloud_constants import ACCOUNT, REGION

EVENTS: Final = "events.amazonaws.com"
# Lambda's asynchronous invocation: the first attempt and two retries when the function errs.
ASYNC_ATTEMPTS: Final = 3

# (function ARN, event) -> errored; the local cloud runs the function's handler.
Invoke = Callable[[str, dict[str, Any]], bool]
Patch = Callable[[Any, str, Any], None]


def _millis(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def status_change_event(execution: Any) -> dict[str, Any]:
    """The event AWS sends when an execution ends, from moto's execution object."""
    status = execution.exec_status.value
    output = json.dumps(execution.output) if status == "SUCCEEDED" else None
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": _millis(execution.start_date),
            "stopDate": _millis(execution.stop_date),
            "input": json.dumps(execution.input_data),
            "output": output,
            "inputDetails": {"included": True},
            "outputDetails": {"included": True} if output is not None else None,
            "error": execution.error,
            "cause": execution.cause,
        },
    }


class ExecutionEvents:
    """Emits each ended execution's event to the deployed rules; `settle()` waits for the deliveries."""

    def __init__(self, invoke: Invoke, progress: Callable[[str], None] | None = None) -> None:
        self.invoke = invoke
        self.progress = progress
        self.emitted: list[dict[str, Any]] = []
        self.undelivered: list[tuple[str, str]] = []  # (target ARN, why)
        self._pending = 0
        self._settled = threading.Condition()

    def install(self, patch: Patch) -> None:
        events = self
        original = BaseExecutionWorkerCommunication.terminated

        def terminated(communication: BaseExecutionWorkerCommunication) -> None:
            # Counted before the status is visible, so whoever sees the end and calls settle() waits for this.
            with events._settled:
                events._pending += 1
            try:
                original(communication)
                event = status_change_event(communication.execution)
            except BaseException:
                events._done()
                raise
            threading.Thread(target=events._deliver, args=(event,), name="onyx-sfn-event", daemon=True).start()

        patch(BaseExecutionWorkerCommunication, "terminated", terminated)

    def settle(self, timeout: float = 120.0) -> bool:
        """Wait until every emitted event has been delivered (True), or the timeout passed (False)."""
        with self._settled:
            return self._settled.wait_for(lambda: self._pending == 0, timeout)

    def _done(self) -> None:
        with self._settled:
            self._pending -= 1
            self._settled.notify_all()

    def _deliver(self, event: dict[str, Any]) -> None:
        try:
            self.emitted.append(event)
            for rule, target in matching_targets(event):
                if ":lambda:" not in target or ":function:" not in target:
                    self.undelivered.append((target, "only Lambda targets are delivered locally"))
                    continue
                if not events_may_invoke(target, rule):
                    why = f"its resource policy does not let {EVENTS} invoke it from {rule}"
                    self.undelivered.append((target, why))
                    if self.progress is not None:
                        self.progress(f"the run alert for {event['detail']['name']} could not be sent: "
                                      f"{target.rsplit(':', 1)[-1]}: {why}")
                    continue
                for _ in range(ASYNC_ATTEMPTS):
                    if not self.invoke(target, event):
                        break
                else:
                    self.undelivered.append((target, f"the function failed {ASYNC_ATTEMPTS} times"))
                    if self.progress is not None:
                        self.progress(f"the run alert for {event['detail']['name']} could not be sent "
                                      f"({target.rsplit(':', 1)[-1]} failed {ASYNC_ATTEMPTS} times; see its log)")
        finally:
            self._done()


def events_may_invoke(function_arn: str, rule_arn: str) -> bool:
    """Whether the function's resource policy allows lambda:InvokeFunction to EventBridge for this rule."""
    try:
        statements = lambda_backends[ACCOUNT][REGION].get_function(function_arn).policy.statements
    except Exception:  # noqa: BLE001 - no such function: nothing may invoke it
        return False
    for statement in statements:
        principal = statement.get("Principal")
        service = principal.get("Service") if isinstance(principal, dict) else principal
        actions = statement.get("Action")
        source = (statement.get("Condition") or {}).get("ArnLike", {}).get("AWS:SourceArn")
        if (statement.get("Effect") == "Allow" and service in (EVENTS, "*")
                and set(actions if isinstance(actions, list) else [actions]) & {"lambda:InvokeFunction", "lambda:*"}
                and source in (None, rule_arn)):
            return True
    return False


def matching_targets(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(rule ARN, target ARN) for every enabled rule on the default bus whose pattern matches the event. A rule
    without a pattern (a schedule) matches no event on AWS; moto's matcher would say it matches every one."""
    bus = events_backends[ACCOUNT][REGION].describe_event_bus("default")
    message = cast(EventMessageType, event)
    return [(rule.arn, target["Arn"]) for rule in list(bus.rules.values())
            if rule.state == "ENABLED" and rule.event_pattern.get_pattern()
            and rule.event_pattern.matches_event(message)
            for target in rule.targets]
