"""The smoke check's verdicts: from what AWS and the probes answered to OK, TODO or FAIL, with what to do.

Pure functions of the answers (AWS's response shapes, the probes' payloads), so each verdict is unit-tested
without a cloud. FAIL: something is broken (the check exits non-zero). TODO: the pipeline works, but a person
still has something to do (confirm an e-mail, grant a role, enable a rule). Every TODO and FAIL says what: an
exact command, or the place in the console.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from pg8000.native import identifier

from lambdas.shared.totesys import TABLE_NAMES
from ops.deployed_stack import DeployedStack, Rule

# Reading by ranges of heap pages (TID range scans) needs PostgreSQL 14 (lambdas/extract/reader.py).
SOURCE_MIN_VERSION_NUM: Final = 140000
EMAIL_PROTOCOLS: Final = ("email", "email-json")
PENDING: Final = "PendingConfirmation"
ACCESS_DENIED: Final = ("AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation")


class Status(StrEnum):
    OK = "OK"
    TODO = "TODO"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    status: Status
    name: str
    detail: str
    lines: tuple[str, ...] = ()  # what the detail lists (a view and its rows)
    actions: tuple[str, ...] = field(default=())  # what a person does about a TODO or FAIL

    def to_json(self) -> dict[str, Any]:
        return {"status": str(self.status), "name": self.name, "detail": self.detail, "lines": list(self.lines),
                "actions": list(self.actions)}


def worst(statuses: Iterable[Status]) -> Status:
    found = set(statuses)
    return next((s for s in (Status.FAIL, Status.TODO) if s in found), Status.OK)


def _quoted(name: str) -> str:
    return str(identifier(name))


# ---- the run --------------------------------------------------------------------------------------------------
def run_check(outcome: Any, where: str) -> Check:
    """One execution's outcome (ops.executions.ExecutionOutcome); `where` says where to look when it failed."""
    if outcome.succeeded:
        return Check(Status.OK, "run", f"{outcome.run_id}: SUCCEEDED, extracted {sum(outcome.extracted.values()):,} "
                                       f"rows, loaded {sum(outcome.loaded.values()):,}")
    error = outcome.error or {}
    reason = ": ".join(part for part in (error.get("error"), error.get("cause")) if part)
    state = f" in {outcome.failed_state}" if outcome.failed_state else ""
    return Check(Status.FAIL, "run", f"{outcome.run_id}: {outcome.status}{state}: {reason or 'no error recorded'}",
                 actions=(f"why: {where}",
                          "fix the cause, then run the smoke check again (a new run catches up on everything "
                          "this one did not load)"))


# ---- the probes -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProbeFailure:
    """Why a probe gave no answer: the invoke was refused, or the function failed."""

    reason: str
    actions: tuple[str, ...] = ()


def probe_failed(name: str, stage: str, function: str, failure: ProbeFailure) -> Check:
    return Check(Status.FAIL, name, f"could not ask the {stage} function {function}: {failure.reason}",
                 actions=failure.actions)


def views_check(answer: dict[str, Any]) -> Check:
    """The warehouse probe's views: each answers with its rows, or names its error."""
    views: dict[str, dict[str, Any]] = answer["views"]
    width = max(len(view) for view in views) + 2
    lines = tuple(f"{view:<{width}}{result['rows']:>10,}" if "rows" in result
                  else f"{view:<{width}}ERROR {result['error']}" for view, result in views.items())
    failed = [view for view, result in views.items() if "rows" not in result]
    schema = answer["schema"]
    if not failed:
        return Check(Status.OK, "views", f"the {len(views)} analyst views answer (schema {schema}):", lines)
    return Check(Status.FAIL, "views", f"{len(failed)} of {len(views)} analyst views fail (schema {schema}):", lines,
                 ("the Load function creates them (lambdas/load/migrations/) before every load: once a run "
                  "succeeds they exist; otherwise PostgreSQL's message above says what is wrong",))


def warehouse_login_check(answer: dict[str, Any]) -> Check:
    """What every load needs of the warehouse login: TEMP on the database, CREATE in the schema."""
    user, schema, database = answer["user"], answer["schema"], answer["database"]
    grants: list[tuple[Status, str, str]] = []
    if answer["create_in_schema"] is None:
        grants.append((Status.FAIL, f"schema {schema} does not exist (the first load creates it)",
                       f"GRANT CREATE ON DATABASE {_quoted(database)} TO {_quoted(user)};"))
    elif not answer["create_in_schema"]:
        grants.append((Status.TODO, f"may not create in schema {schema}: the next migration will fail",
                       f"GRANT CREATE ON SCHEMA {_quoted(schema)} TO {_quoted(user)};"))
    if not answer["temporary_tables"]:
        grants.append((Status.FAIL, "may not create temporary tables: every load stages its rows in them",
                       f"GRANT TEMPORARY ON DATABASE {_quoted(database)} TO {_quoted(user)};"))
    if not grants:
        return Check(Status.OK, "warehouse login",
                     f"{user} may create in schema {schema} and use temporary tables")
    return Check(worst(s for s, _, _ in grants), "warehouse login", f"{user} " + "; ".join(d for _, d, _ in grants),
                 actions=tuple(f"in the warehouse, as its owner: {grant}" for _, _, grant in grants))


def source_checks(answer: dict[str, Any]) -> list[Check]:
    """The source probe: the login may read the 11 tables on PostgreSQL 14+, and holds pg_read_all_stats."""
    user, version = answer["user"], answer["server_version"]
    problems: list[tuple[str, str]] = []
    if answer["server_version_num"] < SOURCE_MIN_VERSION_NUM:
        problems.append((f"PostgreSQL {version} is too old: extract reads tables by ranges of heap pages, "
                         "which needs 14 or later", "upgrade the Totesys server to PostgreSQL 14 or later"))
    if answer["tables_missing"]:
        problems.append((f"Totesys has no table {', '.join(answer['tables_missing'])}",
                         "check the database the source secret names (its dbname)"))
    if answer["tables_not_readable"]:
        tables = ", ".join(_quoted(t) for t in answer["tables_not_readable"])
        problems.append((f"{user} may not read {', '.join(answer['tables_not_readable'])}",
                         f"in Totesys, as the tables' owner: GRANT SELECT ON {tables} TO {_quoted(user)};"))
    if problems:
        source = Check(Status.FAIL, "source", "; ".join(p for p, _ in problems), actions=tuple(a for _, a in problems))
    else:
        source = Check(Status.OK, "source",
                       f"{user} on PostgreSQL {version} may read the {len(TABLE_NAMES)} Totesys tables")
    if answer["pg_read_all_stats"]:
        late = Check(Status.OK, "late commits",
                     f"{user} holds pg_read_all_stats: extract sees every transaction still in flight")
    else:
        late = Check(Status.TODO, "late commits",
                     f"{user} lacks pg_read_all_stats: only safetyLagSeconds protects a late-committing transaction",
                     actions=(f"in Totesys, as a superuser (Amazon RDS: the master user): "
                              f"GRANT pg_read_all_stats TO {_quoted(user)};",))
    return [source, late]


# ---- the account ----------------------------------------------------------------------------------------------
def alert_email_check(subscriptions: Sequence[dict[str, Any]], stack: DeployedStack) -> Check:
    """The alert topic's e-mail subscriptions (ListSubscriptionsByTopic's `Subscriptions`)."""
    region = stack.arn.region
    emails = [s for s in subscriptions if s.get("Protocol") in EMAIL_PROTOCOLS]

    def subscribe(endpoint: str) -> str:
        return (f"aws sns subscribe --topic-arn {stack.alert_topic_arn} --protocol email "
                f"--notification-endpoint {endpoint} --region {region}")

    if not emails and stack.alert_email:
        return Check(Status.TODO, "alert e-mail",
                     f"{stack.alert_email} is no longer subscribed (AWS deletes a subscription left unconfirmed for "
                     "48 hours): failed runs and alarms reach nobody",
                     actions=("subscribe it again, then confirm the e-mail AWS sends: "
                              f"{subscribe(stack.alert_email)}",))
    if not emails:
        env = stack.env_name or "<env>"
        return Check(Status.TODO, "alert e-mail",
                     "no e-mail subscription (alertEmail was not set): failed runs and alarms reach nobody",
                     actions=(f'set "alertEmail" under context.onyx.environments.{env} in cdk.json, then '
                              f"make deploy ONYX_ENV={env}",))
    pending = [s["Endpoint"] for s in emails if s.get("SubscriptionArn") == PENDING]
    lines = tuple(f"{s['Endpoint']}: {PENDING if s.get('SubscriptionArn') == PENDING else 'confirmed'}"
                  for s in emails)
    if not pending:
        return Check(Status.OK, "alert e-mail", f"{', '.join(s['Endpoint'] for s in emails)}: confirmed")
    actions = tuple(action for endpoint in pending for action in (
        f'open the e-mail "AWS Notification - Subscription Confirmation" sent to {endpoint} and follow '
        '"Confirm subscription" (AWS deletes the subscription if it is not confirmed within 48 hours)',
        f"no such e-mail? send it again: {subscribe(endpoint)}"))
    detail = (f"{pending[0]}: {PENDING}: failed runs and alarms are not e-mailed until it is confirmed"
              if len(emails) == 1 else f"{len(pending)} of {len(emails)} e-mail subscriptions await confirmation:")
    return Check(Status.TODO, "alert e-mail", detail, lines if len(emails) > 1 else (), actions)


def rule_check(rule: Rule, described: dict[str, Any], region: str) -> Check:
    """A rule of the stack (DescribeRule's answer): the schedule that starts runs, or the run-alert rule."""
    name = "schedule" if rule.schedule else "run alerts"
    state = str(described.get("State", "UNKNOWN"))
    if state.startswith("ENABLED"):  # ENABLED, or ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS
        return Check(Status.OK, name, f"rule {rule.name}: ENABLED" + (f", {rule.schedule}" if rule.schedule else ""))
    effect = "no run starts on its own" if rule.schedule else "no failed run is e-mailed"
    return Check(Status.TODO, name, f"rule {rule.name}: {state}: {effect}",
                 actions=(f"aws events enable-rule --name {rule.name} --region {region}",))


def denied_hint(code: str, permission: str, resource: str, stack: str) -> tuple[str, ...]:
    """What to do when AWS refused one of the operator's calls."""
    if code not in ACCESS_DENIED:
        return ()
    return (f"the operator needs {permission} on {resource}; python -m ops smoke --stack {stack} --policy prints "
            "the whole policy",)


# ---- the report -----------------------------------------------------------------------------------------------
NAME_WIDTH: Final = 17
INDENT: Final = " " * (2 + 6 + NAME_WIDTH)


def render(title: str, checks: Sequence[Check]) -> list[str]:
    """The report as a person reads it: a line per check, what it lists under it, then what to do."""
    out = [title]
    for check in checks:
        out.append(f"  {check.status:<5} {check.name:<{NAME_WIDTH}}{check.detail}")
        out.extend(f"{INDENT}  {line}" for line in check.lines)
        out.extend(f"{INDENT}do: {action}" for action in check.actions)
    counts = {status: sum(1 for c in checks if c.status is status) for status in Status}
    out.append(f"smoke check: {counts[Status.OK]} OK, {counts[Status.TODO]} to do, {counts[Status.FAIL]} failed")
    return out


def exit_status(checks: Sequence[Check]) -> int:
    """0 unless a check failed: a TODO is a person's to do, not a broken deployment."""
    return 1 if any(check.status is Status.FAIL for check in checks) else 0
