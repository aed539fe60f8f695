"""`python -m ops smoke`: the first check after `cdk deploy`, and what a person must still do.

With the operator's own credentials and nothing but AWS's APIs, so the same code checks a deployed stack and the
local cloud (whose CloudFormation holds the same template):

1. one run: an execution of the stack's state machine, followed state by state (a real run, like a scheduled
   one: overlapping runs are safe);
2. from inside AWS, where the databases are reachable: the Load function's probe counts each analyst view and
   reads what its warehouse login may do; the Extract function's probe reads what the Totesys login may do
   (lambdas/shared/probe.py: read only, never a state's input);
3. the account: the alert topic's e-mail subscription (confirmed?), the schedule and run-alert rules (enabled?).

Each check is OK, TODO (a person has something to do; the command says what) or FAIL (broken; exit status 1).
`--policy` prints the IAM policy the check needs (ops/deployed_stack.py).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, Final

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lambdas.notify.message import execution_link
from lambdas.shared.probe import PROBE_KEY, SOURCE, WAREHOUSE
from ops.checklist import (
    Check,
    ProbeFailure,
    Status,
    alert_email_check,
    denied_hint,
    probe_failed,
    rule_check,
    run_check,
    source_checks,
    views_check,
    warehouse_login_check,
)
from ops.deployed_stack import DeployedStack
from ops.executions import ExecutionOutcome, start_and_wait
from ops.targets import LocalCloudTarget, Target

Progress = Callable[[str], None]
# A probe may start a cold environment (in a VPC, with its network interface) and count large views: wait for it
# as long as the function may run, and never invoke it twice.
PROBE_CLIENT: Final = Config(connect_timeout=10, read_timeout=900, retries={"total_max_attempts": 1})
STAGE_NAMES: Final = {"extract": "Extract", "load": "Load"}


def _client_error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "error"))
    return code, f"{code}: {error.get('Message', '')}".rstrip(": ")


def _function_log(target: Target, function: str) -> str:
    if isinstance(target, LocalCloudTarget):
        return f"the function's log: {target.directory / 'logs' / function}.log"
    return f"the function's log: Lambda console, function {function}, Monitor, View CloudWatch logs"


def ask_probe(lam: Any, stack: DeployedStack, stage: str, kind: str,
              log: Callable[[str], str]) -> dict[str, Any] | ProbeFailure:
    """Invoke the stage's function with its probe event; its answer, or why there is none (`log`: where the
    function's log is, for a person to look)."""
    function = stack.functions[stage]
    try:
        response = lam.invoke(FunctionName=function, Payload=json.dumps({PROBE_KEY: kind}).encode())
    except ClientError as exc:
        code, reason = _client_error(exc)
        return ProbeFailure(reason, denied_hint(code, "lambda:InvokeFunction", stack.function_arn(stage), stack.name))
    except BotoCoreError as exc:  # no answer in time, no connection
        return ProbeFailure(str(exc))
    try:
        answer = json.loads(response["Payload"].read() or b"null")
    except ValueError:
        answer = None
    if response.get("FunctionError"):
        error = answer if isinstance(answer, dict) else {}
        return ProbeFailure(f"{error.get('errorType', 'error')}: {error.get('errorMessage', '')}".rstrip(": "),
                            (log(function),))
    if not isinstance(answer, dict) or answer.get(PROBE_KEY) != kind:
        return ProbeFailure(f"not a {kind} probe's answer: {str(answer)[:200]}",
                            ("is the function running this version of Onyx? deploy it again",))
    return answer


def _run(target: Target, stack: DeployedStack, run_id: str | None,
         progress: Progress) -> tuple[Check, ExecutionOutcome]:
    outcome = start_and_wait(target.stepfunctions(), stack.state_machine_arn, progress, run_id)
    if isinstance(target, LocalCloudTarget):
        where = f"the functions' logs in {target.directory / 'logs'}"
    else:
        link = execution_link(stack.arn.region, outcome.execution_arn)
        where = f"the execution in the Step Functions console: {link}"
    return run_check(outcome, where), outcome


def _probes(target: Target, stack: DeployedStack, progress: Progress) -> list[Check]:
    lam = target.client("lambda", PROBE_CLIENT)
    log = functools.partial(_function_log, target)
    checks: list[Check] = []
    progress(f"asking the Load function {stack.functions['load']} about the warehouse")
    warehouse = ask_probe(lam, stack, "load", WAREHOUSE, log)
    if isinstance(warehouse, ProbeFailure):
        checks.append(probe_failed("views", STAGE_NAMES["load"], stack.functions["load"], warehouse))
    else:
        checks += [views_check(warehouse), warehouse_login_check(warehouse)]
    progress(f"asking the Extract function {stack.functions['extract']} about the source")
    source = ask_probe(lam, stack, "extract", SOURCE, log)
    if isinstance(source, ProbeFailure):
        checks.append(probe_failed("source", STAGE_NAMES["extract"], stack.functions["extract"], source))
    else:
        checks += source_checks(source)
    return checks


def _account(target: Target, stack: DeployedStack) -> list[Check]:
    checks: list[Check] = []
    try:
        pages = target.client("sns").get_paginator("list_subscriptions_by_topic").paginate(
            TopicArn=stack.alert_topic_arn)
        subscriptions = [s for page in pages for s in page["Subscriptions"]]
        checks.append(alert_email_check(subscriptions, stack))
    except ClientError as exc:
        code, reason = _client_error(exc)
        checks.append(Check(Status.FAIL, "alert e-mail", f"cannot list the alert topic's subscriptions: {reason}",
                            actions=denied_hint(code, "sns:ListSubscriptionsByTopic", stack.alert_topic_arn,
                                                stack.name)))
    events = target.client("events")
    for rule in sorted(stack.rules, key=lambda r: r.schedule is None):  # the schedule first
        try:
            checks.append(rule_check(rule, events.describe_rule(Name=rule.name), stack.arn.region))
        except ClientError as exc:
            code, reason = _client_error(exc)
            checks.append(Check(Status.FAIL, "schedule" if rule.schedule else "run alerts",
                                f"cannot read rule {rule.name}: {reason}",
                                actions=denied_hint(code, "events:DescribeRule", stack.rule_arn(rule), stack.name)))
    return checks


def smoke(target: Target, *, run_id: str | None = None,
          progress: Progress) -> tuple[DeployedStack, list[Check], ExecutionOutcome]:
    """Every check, in the order a person reads them: the run, the views and logins, the account."""
    stack = DeployedStack.read(target.client("cloudformation"), target.stack_name)
    run, outcome = _run(target, stack, run_id, progress)
    return stack, [run, *_probes(target, stack, progress), *_account(target, stack)], outcome
