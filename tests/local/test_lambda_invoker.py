"""The local cloud's Lambda execution environments: reused while warm as on Lambda, fresh when a fault
asks for its own environment or the process died or timed out, and always left with nothing running."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from local.lambda_invoker import FunctionSpec, LambdaInvoker

HANDLERS = "tests.local_cloud.fixture_handlers"


def spec(handler: str, name: str = "Remember", timeout: int = 60, **environment: str) -> FunctionSpec:
    return FunctionSpec(name=name, handler=f"{HANDLERS}.{handler}", environment={"STAGE": name, **environment},
                        timeout_seconds=timeout, memory_mb=1024, arn=f"arn:aws:lambda:eu-west-2:1:function:{name}")


@pytest.fixture
def invoker(tmp_path: Path):
    invoker = LambdaInvoker("http://127.0.0.1:1", "eu-west-2", tmp_path / "logs")
    yield invoker
    invoker.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/status").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()


def test_a_warm_environment_serves_the_next_invocations_of_its_function(invoker):
    first, errored = invoker.invoke(spec("remember"), {"n": 1})
    second, _ = invoker.invoke(spec("remember"), {"n": 2})

    assert not errored
    assert (first["calls"], second["calls"]) == (1, 2)  # module state kept: the handler was imported once
    assert first["pid"] == second["pid"]
    assert [i.cold_start for i in invoker.invocations] == [True, False]
    assert invoker.invocations[0].init_seconds > 0
    assert invoker.invocations[1].init_seconds == 0.0
    assert 59_000 < second["remaining_ms"] <= 60_000  # a fresh deadline per invocation


def test_each_function_has_its_own_environment_holding_only_its_settings(invoker):
    extract, _ = invoker.invoke(spec("remember", name="Extract", ONLY_EXTRACT="1"), {})
    load, _ = invoker.invoke(spec("remember", name="Load"), {})

    assert extract["pid"] != load["pid"]
    assert load["calls"] == 1
    assert (extract["env"]["STAGE"], extract["env"]["ONLY_EXTRACT"]) == ("Extract", "1")
    assert "ONLY_EXTRACT" not in load["env"]
    assert load["env"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert load["env"]["AWS_LAMBDA_FUNCTION_NAME"] == "Load"
    assert not set(load["env"]) - set(invoker.environment_for(spec("remember", name="Load"))) - {"LC_CTYPE"}


def test_an_invocation_given_fault_environment_runs_in_a_fresh_environment_and_leaves_the_warm_one(invoker):
    warm, _ = invoker.invoke(spec("remember"), {})
    invoker.fault = lambda function, event: {"INJECTED": "yes"} if event.get("fault") else None

    faulted, _ = invoker.invoke(spec("remember"), {"fault": True})
    after, _ = invoker.invoke(spec("remember"), {})

    assert faulted["env"]["INJECTED"] == "yes"
    assert faulted["pid"] != warm["pid"]
    assert faulted["calls"] == 1
    assert not alive(faulted["pid"])  # retired after its one invocation
    assert (after["pid"], after["calls"], "INJECTED" in after["env"]) == (warm["pid"], 2, False)
    assert [i.cold_start for i in invoker.invocations] == [True, True, False]


def test_a_handler_error_is_lambdas_error_envelope_and_the_environment_stays_warm(invoker):
    payload, errored = invoker.invoke(spec("broken"), {})
    again, _ = invoker.invoke(spec("broken"), {})

    assert errored
    assert payload["errorType"] == "ValueError"
    assert payload["errorMessage"] == "bad row: sales_order 7 has no price"
    assert "Traceback" in payload["stackTrace"][0]
    assert again["errorType"] == "ValueError"
    assert [(i.ok, i.error_type, i.cold_start) for i in invoker.invocations] == [
        (False, "ValueError", True), (False, "ValueError", False)]


def test_a_process_that_dies_is_an_exit_error_and_the_next_invocation_starts_cold(invoker):
    payload, errored = invoker.invoke(spec("crash"), {})
    served, _ = invoker.invoke(spec("remember", name="crash-then-serve"), {})

    assert errored
    assert payload == {"errorType": "Runtime.ExitError", "errorMessage": "the handler process died"}
    payload, _ = invoker.invoke(spec("crash"), {})
    assert payload["errorType"] == "Runtime.ExitError"
    assert [i.cold_start for i in invoker.invocations] == [True, True, True]
    assert served["calls"] == 1


@pytest.mark.slow
def test_an_invocation_past_its_timeout_is_stopped_and_reported_as_lambda_does(invoker):
    payload, errored = invoker.invoke(spec("sleep", timeout=1), {"seconds": 30})
    quick, _ = invoker.invoke(spec("sleep", timeout=1), {"seconds": 0})

    assert errored
    assert payload == {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 1 seconds"}
    assert invoker.invocations[0].seconds < 10
    assert quick == {"slept": 0}
    assert invoker.invocations[1].cold_start


def test_an_import_error_fails_every_invocation_of_the_environment_with_its_name(invoker):
    payload, errored = invoker.invoke(spec("no_such_handler"), {})

    assert errored
    assert payload["errorType"] == "AttributeError"
    assert "no_such_handler" in payload["errorMessage"]


def test_peak_memory_is_each_invocations_own_in_a_warm_environment(invoker):
    big, _ = invoker.invoke(spec("allocate"), {"mb": 300})
    small, _ = invoker.invoke(spec("allocate"), {"mb": 1})

    assert big["pid"] == small["pid"]
    first, second = invoker.invocations
    assert first.peak_rss_mb > 300
    assert second.peak_rss_mb < first.peak_rss_mb - 250


def test_with_keep_warm_zero_every_invocation_is_a_cold_start(tmp_path: Path):
    invoker = LambdaInvoker("http://127.0.0.1:1", "eu-west-2", tmp_path, keep_warm_seconds=0)
    served = [invoker.invoke(spec("remember"), {})[0] for _ in range(2)]
    pids = [s["pid"] for s in served]

    assert pids[0] != pids[1]
    assert [i.cold_start for i in invoker.invocations] == [True, True]
    assert not any(alive(pid) for pid in pids)
    assert not any(Path(s["cwd"]).exists() for s in served)  # each environment's scratch directory went with it


def test_closing_the_invoker_and_idle_expiry_leave_no_process_running(invoker: Any):
    first = invoker.invoke(spec("remember", name="A"), {})[0]["pid"]
    invoker.keep_warm_seconds = 0.001
    import time

    time.sleep(0.01)
    served = invoker.invoke(spec("remember", name="B"), {})[0]  # A expired: reclaimed on the way
    second = served["pid"]

    assert not alive(first)
    assert alive(second)
    invoker.close()
    assert not alive(second)
    assert not Path(served["cwd"]).exists()
