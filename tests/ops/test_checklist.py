"""The smoke check's verdicts: what AWS and the probes answered, as OK, TODO or FAIL with the exact thing to do."""

from __future__ import annotations

from typing import Any

import pytest

from ops.checklist import (
    Check,
    Status,
    alert_email_check,
    denied_hint,
    exit_status,
    render,
    rule_check,
    run_check,
    source_checks,
    views_check,
    warehouse_login_check,
)
from ops.deployed_stack import DeployedStack, Rule
from ops.executions import ExecutionOutcome

REGION = "eu-west-2"
TOPIC = "arn:aws:sns:eu-west-2:123456789012:Onyx-dev-AlertsTopic-ABC"
SUBSCRIBE = (f"aws sns subscribe --topic-arn {TOPIC} --protocol email --notification-endpoint ops@example.com "
             f"--region {REGION}")


def _stack(alert_email: str | None = None, name: str = "Onyx-dev") -> DeployedStack:
    return DeployedStack(name=name, state_machine_arn="arn:aws:states:eu-west-2:123456789012:stateMachine:Pipeline-X",
                         alert_topic_arn=TOPIC, functions={"extract": "Onyx-dev-Extract-1", "load": "Onyx-dev-Load-1"},
                         rules=(), alert_email=alert_email)


def _email(endpoint: str, arn: str) -> dict[str, Any]:
    """A subscription as ListSubscriptionsByTopic lists it (AWS writes `PendingConfirmation` in place of the ARN)."""
    return {"SubscriptionArn": arn, "Owner": "123456789012", "Protocol": "email", "Endpoint": endpoint,
            "TopicArn": TOPIC}


# ---- the run --------------------------------------------------------------------------------------------------
def test_a_run_that_succeeded_is_ok_with_what_it_moved():
    outcome = ExecutionOutcome("SUCCEEDED", "run-1", "arn:exec", 9.1, extracted={"staff": 2, "address": 1_000},
                               loaded={"dim_staff": 2, "dim_location": 1_000, "dim_date": 30})

    assert run_check(outcome, "the logs") == Check(Status.OK, "run",
                                                   "run-1: SUCCEEDED, extracted 1,002 rows, loaded 1,032")


def test_a_run_that_failed_names_the_state_the_error_and_where_to_look():
    outcome = ExecutionOutcome("FAILED", "run-2", "arn:exec", 3.0, failed_state="Load",
                               error={"error": "WarehouseUnavailable", "cause": "could not connect"})

    assert run_check(outcome, "the execution: https://console") == Check(
        Status.FAIL, "run", "run-2: FAILED in Load: WarehouseUnavailable: could not connect",
        actions=("why: the execution: https://console",
                 "fix the cause, then run the smoke check again (a new run catches up on everything this one did not "
                 "load)"))


# ---- the warehouse probe --------------------------------------------------------------------------------------
def _warehouse(**changes: Any) -> dict[str, Any]:
    return {"probe": "warehouse", "user": "onyx_load", "database": "dwh", "schema": "sales",
            "views": {"sales_order_current": {"rows": 1_200}, "sales_order_wide": {"rows": 1_200}},
            "temporary_tables": True, "create_in_schema": True, **changes}


def test_views_that_answer_are_listed_with_their_rows():
    # One column as wide as the longest name and two spaces, then the rows right-aligned in ten.
    assert views_check(_warehouse()) == Check(Status.OK, "views", "the 2 analyst views answer (schema sales):", (
        "sales_order_current" + " " * 7 + "1,200",
        "sales_order_wide" + " " * 10 + "1,200"))


def test_a_view_that_fails_fails_the_check_with_postgresqls_message():
    answer = _warehouse(views={"sales_order_current": {"rows": 5},
                               "sales_order_wide": {"error": '42P01 relation "sales.sales_order_wide" does not exist'}})

    check = views_check(answer)

    assert (check.status, check.detail) == (Status.FAIL, "1 of 2 analyst views fail (schema sales):")
    assert check.lines == ("sales_order_current" + " " * 11 + "5",
                           'sales_order_wide     ERROR 42P01 relation "sales.sales_order_wide" does not exist')


def test_a_warehouse_login_with_temporary_tables_and_create_in_the_schema_is_ok():
    assert warehouse_login_check(_warehouse()) == Check(
        Status.OK, "warehouse login", "onyx_load may create in schema sales and use temporary tables")


def test_a_warehouse_login_lacking_its_grants_gets_the_exact_grant_statements():
    without_create = warehouse_login_check(_warehouse(create_in_schema=False))
    without_either = warehouse_login_check(_warehouse(create_in_schema=False, temporary_tables=False))
    no_schema = warehouse_login_check(_warehouse(create_in_schema=None))

    assert without_create == Check(
        Status.TODO, "warehouse login", "onyx_load may not create in schema sales: the next migration will fail",
        actions=('in the warehouse, as its owner: GRANT CREATE ON SCHEMA "sales" TO "onyx_load";',))
    assert without_either.status is Status.FAIL
    assert without_either.actions == (
        'in the warehouse, as its owner: GRANT CREATE ON SCHEMA "sales" TO "onyx_load";',
        'in the warehouse, as its owner: GRANT TEMPORARY ON DATABASE "dwh" TO "onyx_load";')
    assert no_schema == Check(
        Status.FAIL, "warehouse login", "onyx_load schema sales does not exist (the first load creates it)",
        actions=('in the warehouse, as its owner: GRANT CREATE ON DATABASE "dwh" TO "onyx_load";',))


# ---- the source probe -----------------------------------------------------------------------------------------
def _source(**changes: Any) -> dict[str, Any]:
    return {"probe": "source", "user": "totesys_reader", "pg_read_all_stats": True, "server_version": "16.4",
            "server_version_num": 160004, "tables_missing": [], "tables_not_readable": [], **changes}


def test_a_source_login_that_may_read_every_table_and_holds_pg_read_all_stats_is_ok():
    assert source_checks(_source()) == [
        Check(Status.OK, "source", "totesys_reader on PostgreSQL 16.4 may read the 11 Totesys tables"),
        Check(Status.OK, "late commits",
              "totesys_reader holds pg_read_all_stats: extract sees every transaction still in flight"),
    ]


def test_without_pg_read_all_stats_the_grant_is_a_person_s_to_do():
    source, late = source_checks(_source(pg_read_all_stats=False))

    assert source.status is Status.OK
    assert late == Check(
        Status.TODO, "late commits",
        "totesys_reader lacks pg_read_all_stats: only safetyLagSeconds protects a late-committing transaction",
        actions=('in Totesys, as a superuser (Amazon RDS: the master user): GRANT pg_read_all_stats TO '
                 '"totesys_reader";',))


def test_tables_it_may_not_read_a_missing_table_and_an_old_server_fail_with_what_to_do():
    source, _ = source_checks(_source(server_version="13.9", server_version_num=130009, tables_missing=["payment"],
                                      tables_not_readable=["staff", "transaction"]))

    assert source == Check(
        Status.FAIL, "source",
        "PostgreSQL 13.9 is too old: extract reads tables by ranges of heap pages, which needs 14 or later; "
        "Totesys has no table payment; totesys_reader may not read staff, transaction",
        actions=("upgrade the Totesys server to PostgreSQL 14 or later",
                 "check the database the source secret names (its dbname)",
                 "in Totesys, as the tables' owner: GRANT SELECT ON \"staff\", \"transaction\" TO \"totesys_reader\";"))


# ---- the alert e-mail -----------------------------------------------------------------------------------------
def test_a_confirmed_e_mail_subscription_is_ok():
    subscriptions = [_email("ops@example.com", f"{TOPIC}:1a2b"),
                     {"SubscriptionArn": f"{TOPIC}:3c", "Protocol": "lambda", "Endpoint": "arn:aws:lambda:f"}]

    assert alert_email_check(subscriptions, _stack("ops@example.com")) == Check(
        Status.OK, "alert e-mail", "ops@example.com: confirmed")


def test_a_pending_subscription_says_to_confirm_it_and_how_to_have_the_e_mail_sent_again():
    check = alert_email_check([_email("ops@example.com", "PendingConfirmation")], _stack("ops@example.com"))

    assert check == Check(
        Status.TODO, "alert e-mail",
        "ops@example.com: PendingConfirmation: failed runs and alarms are not e-mailed until it is confirmed",
        actions=('open the e-mail "AWS Notification - Subscription Confirmation" sent to ops@example.com and follow '
                 '"Confirm subscription" (AWS deletes the subscription if it is not confirmed within 48 hours)',
                 f"no such e-mail? send it again: {SUBSCRIBE}"))


def test_with_several_subscriptions_each_is_listed_and_only_the_pending_ones_need_doing():
    check = alert_email_check([_email("ops@example.com", "PendingConfirmation"),
                               _email("lead@example.com", f"{TOPIC}:9f")], _stack("ops@example.com"))

    assert (check.status, check.detail) == (Status.TODO, "1 of 2 e-mail subscriptions await confirmation:")
    assert check.lines == ("ops@example.com: PendingConfirmation", "lead@example.com: confirmed")
    assert len(check.actions) == 2


def test_a_subscription_the_template_made_that_is_gone_is_subscribed_again():
    assert alert_email_check([], _stack("ops@example.com")) == Check(
        Status.TODO, "alert e-mail",
        "ops@example.com is no longer subscribed (AWS deletes a subscription left unconfirmed for 48 hours): failed "
        "runs and alarms reach nobody",
        actions=(f"subscribe it again, then confirm the e-mail AWS sends: {SUBSCRIBE}",))


@pytest.mark.parametrize(("stack", "env"), [("Onyx-prod", "prod"), ("Pipeline", "<env>")])
def test_without_alert_email_the_setting_to_make_is_named_for_the_environment(stack, env):
    assert alert_email_check([], _stack(name=stack)) == Check(
        Status.TODO, "alert e-mail",
        "no e-mail subscription (alertEmail was not set): failed runs and alarms reach nobody",
        actions=(f'set "alertEmail" under context.onyx.environments.{env} in cdk.json, then '
                 f"make deploy ONYX_ENV={env}",))


# ---- the rules ------------------------------------------------------------------------------------------------
def test_enabled_rules_are_ok_and_a_disabled_one_says_how_to_enable_it():
    schedule, alerts = Rule("Onyx-dev-Schedule-1", "rate(15 minutes)"), Rule("Onyx-dev-RunAlerts-1", None)

    assert rule_check(schedule, {"State": "ENABLED"}, REGION) == Check(
        Status.OK, "schedule", "rule Onyx-dev-Schedule-1: ENABLED, rate(15 minutes)")
    assert rule_check(alerts, {"State": "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"}, REGION) == Check(
        Status.OK, "run alerts", "rule Onyx-dev-RunAlerts-1: ENABLED")
    assert rule_check(schedule, {"State": "DISABLED"}, REGION) == Check(
        Status.TODO, "schedule", "rule Onyx-dev-Schedule-1: DISABLED: no run starts on its own",
        actions=("aws events enable-rule --name Onyx-dev-Schedule-1 --region eu-west-2",))
    assert rule_check(alerts, {"State": "DISABLED"}, REGION) == Check(
        Status.TODO, "run alerts", "rule Onyx-dev-RunAlerts-1: DISABLED: no failed run is e-mailed",
        actions=("aws events enable-rule --name Onyx-dev-RunAlerts-1 --region eu-west-2",))


def test_access_denied_names_the_permission_and_where_the_whole_policy_is():
    assert denied_hint("AccessDeniedException", "events:DescribeRule", "arn:rule", "Onyx-dev") == (
        "the operator needs events:DescribeRule on arn:rule; python -m ops smoke --stack Onyx-dev --policy prints "
        "the whole policy",)
    assert denied_hint("ResourceNotFoundException", "events:DescribeRule", "arn:rule", "Onyx-dev") == ()


# ---- the report -----------------------------------------------------------------------------------------------
def test_the_report_lists_each_check_what_it_lists_and_what_to_do_and_fails_only_on_a_failure():
    checks = [Check(Status.OK, "views", "the 1 analyst views answer:", ("payment_current   3",)),
              Check(Status.TODO, "alert e-mail", "no e-mail subscription", actions=("set alertEmail",))]

    assert render("Onyx smoke check of stack Onyx-dev (eu-west-2)", checks) == [
        "Onyx smoke check of stack Onyx-dev (eu-west-2)",
        "  OK    views            the 1 analyst views answer:",
        "                           payment_current   3",
        "  TODO  alert e-mail     no e-mail subscription",
        "                         do: set alertEmail",
        "smoke check: 1 OK, 1 to do, 0 failed",
    ]
    assert exit_status(checks) == 0
    assert exit_status([*checks, Check(Status.FAIL, "run", "FAILED")]) == 1
