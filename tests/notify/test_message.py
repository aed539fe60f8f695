"""The failure e-mail reads as a message to a person, and SNS accepts its subject."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from lambdas.notify.message import RunEnd, body, error_message, log_group_link, subject

ARN = "arn:aws:states:eu-west-2:123456789012:execution:Onyx-dev-Machine:run-1"
TRACE = ["Traceback (most recent call last):\n", '  File "/var/task/lambdas/load/run.py", line 9\n']


def _end(**changes: object) -> RunEnd:
    values: dict[str, object] = {
        "env_name": "dev", "region": "eu-west-2", "execution_arn": ARN, "run_id": "run-1", "status": "FAILED",
        "started": datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC), "stopped": datetime(2026, 12, 1, 10, 3, 12, tzinfo=UTC),
        "error": "WarehouseUnavailable",
        "cause": json.dumps({"errorType": "WarehouseUnavailable", "errorMessage": "connection refused",
                             "stackTrace": TRACE}),
        "state": "Load", "log_group": "/aws/lambda/Onyx-dev-Load",
    }
    values.update(changes)
    return RunEnd(**values)  # type: ignore[arg-type]


def test_a_failure_e_mail_names_environment_state_error_message_run_links_and_advice():
    end = _end()

    assert subject(end) == "Onyx dev: run FAILED in Load (WarehouseUnavailable)"
    assert body(end) == (
        "The Onyx dev pipeline run run-1 FAILED in the Load step.\n"
        "\n"
        "Error:     WarehouseUnavailable\n"
        "Message:   connection refused\n"
        "\n"
        "Run id:    run-1\n"
        "Started:   2026-12-01 10:00:00 UTC\n"
        "Ended:     2026-12-01 10:03:12 UTC (3 min 12 s)\n"
        f"Execution: https://eu-west-2.console.aws.amazon.com/states/home?region=eu-west-2#/v2/executions/details/{ARN}\n"
        "Logs:      https://eu-west-2.console.aws.amazon.com/cloudwatch/home?region=eu-west-2#logsV2:log-groups/"
        "log-group/$252Faws$252Flambda$252FOnyx-dev-Load (search for the run id)\n"
        "\n"
        "What to do: Fix the cause named above (the log has the details), then start a new execution of the state "
        "machine (Step Functions console: Start execution; or `python -m ops execute --stack Onyx-dev`), or let "
        "the next scheduled run do it. Each run extracts everything changed since the last run that reached the "
        "warehouse, so nothing this run did not load is lost, and nothing it loaded is loaded twice.\n"
    )
    assert "Traceback" not in body(end)
    assert "/var/task" not in body(end)


@pytest.mark.parametrize(("cause", "message"), [
    (None, "none given"),
    ("", "none given"),
    ("Rate Exceeded. (Service: AWSLambda; Status Code: 429)", "Rate Exceeded. (Service: AWSLambda; Status Code: 429)"),
    (json.dumps({"errorMessage": "bad row", "stackTrace": TRACE}), "bad row"),
    (json.dumps(["not", "an", "object"]), '["not", "an", "object"]'),
    (json.dumps({"errorType": "X"}), '{"errorType": "X"}'),
])
def test_the_message_is_the_errors_message_never_its_stack_trace(cause, message):
    assert error_message(cause) == message


def test_a_very_long_message_is_cut():
    text = error_message("x" * 5000)
    assert len(text) == 2000
    assert text.endswith("…")


def test_the_subject_is_what_sns_accepts_short_single_line_ascii():
    end = _end(env_name="prod", state="Tränsform", error="E" * 200)

    text = subject(end)

    assert len(text) == 99
    assert text.startswith("Onyx prod: run FAILED in Tr?nsform (EEEE")
    assert text.endswith("...")
    assert all(0x20 <= ord(c) <= 0x7E for c in text)


def test_timed_out_and_stopped_runs_say_so_with_their_own_advice():
    timed_out = _end(status="TIMED_OUT", error="States.Timeout", cause=None)
    stopped = _end(status="ABORTED", error=None, cause=None, state="Extract", log_group=None)

    assert subject(timed_out) == "Onyx dev: run TIMED OUT in Load (States.Timeout)"
    assert body(timed_out).splitlines()[-1].startswith(
        "What to do: The run took longer than the state machine allows. Look at the step named above in the logs")
    assert subject(stopped) == "Onyx dev: run was STOPPED in Extract"
    lines = body(stopped).splitlines()
    assert lines[0] == "The Onyx dev pipeline run run-1 was STOPPED in the Extract step."
    assert "Error:     none given" in lines
    assert not [line for line in lines if line.startswith("Logs:")]
    assert lines[-1].startswith("What to do: If it was stopped on purpose, nothing needs doing. Otherwise start a new")


def test_a_run_that_ended_before_any_state_names_none():
    end = _end(state=None, log_group=None, stopped=None)
    assert subject(end) == "Onyx dev: run FAILED (WarehouseUnavailable)"
    assert body(end).splitlines()[0] == "The Onyx dev pipeline run run-1 FAILED."
    assert not [line for line in body(end).splitlines() if line.startswith("Ended:")]


def test_log_group_link_escapes_as_the_console_does():
    assert log_group_link("us-east-1", "/aws/vendedlogs/states/x") == (
        "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#logsV2:log-groups/log-group/"
        "$252Faws$252Fvendedlogs$252Fstates$252Fx")


REBUILD_ARN = "arn:aws:states:eu-west-2:123456789012:execution:Onyx-dev-rebuild:rebuild-20261202T130000Z-abcdef"


def test_a_failed_rebuild_says_it_is_a_rebuild_that_the_warehouse_is_unchanged_and_how_to_start_it_again():
    end = _end(execution_arn=REBUILD_ARN, run_id="rebuild-20261202T130000Z-abcdef", state="SwapIn",
               error="RebuildRefused", cause="rebuild of schema public refused: …")

    assert subject(end) == "Onyx dev: rebuild FAILED in SwapIn (RebuildRefused)"
    lines = body(end).splitlines()
    assert lines[0] == "The Onyx dev rebuild rebuild-20261202T130000Z-abcdef FAILED in the SwapIn step."
    assert lines[-1] == (
        "What to do: The live warehouse is as it was: a rebuild changes it only in its last step, SwapIn, in one "
        "transaction. Fix the cause named above (the log has the details; docs/operations.md), then start the rebuild "
        "again (`python -m ops execute --rebuild --stack Onyx-dev`, or start an execution of the pipeline state "
        'machine with {"mode": "rebuild"}), or redrive this execution from the step that failed: each step resumes '
        "from where it stopped. Scheduled runs go on again now it has ended.")
    timed_out = body(_end(execution_arn=REBUILD_ARN, status="TIMED_OUT", error="States.Timeout", cause=None))
    assert "The rebuild took longer than rebuildTimeoutHours allows: raise it (deploy), then start" in timed_out
    # The pipeline's own state machine is a run, whatever its name.
    assert subject(_end(execution_arn=ARN.replace("Machine", "pipeline"))).startswith("Onyx dev: run FAILED")
