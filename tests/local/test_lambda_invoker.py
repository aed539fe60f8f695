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


@pytest.fixture(params=[False, True], ids=["spawned", "forked"])
def fork_server(request: pytest.FixtureRequest) -> bool:
    """Every behaviour holds for environments started as fresh interpreters and forked from the fork server."""
    return bool(request.param)


@pytest.fixture
def invoker(tmp_path: Path, fork_server: bool):
    invoker = LambdaInvoker("http://127.0.0.1:1", "eu-west-2", tmp_path / "logs", fork_server=fork_server)
    yield invoker
    invoker.shutdown()


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
    assert invoker.invocations[0].seconds < 4  # stopped at its timeout, not waited for
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


def test_with_keep_warm_zero_every_invocation_is_a_cold_start(tmp_path: Path, fork_server: bool):
    invoker = LambdaInvoker("http://127.0.0.1:1", "eu-west-2", tmp_path, keep_warm_seconds=0, fork_server=fork_server)
    try:
        served = [invoker.invoke(spec("remember"), {})[0] for _ in range(2)]
    finally:
        invoker.shutdown()
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


# ---- the fork server (local/lambda_forkserver.py) -------------------------------------------------------------
@pytest.fixture
def forking(tmp_path: Path):
    invoker = LambdaInvoker("http://127.0.0.1:1", "eu-west-2", tmp_path / "logs", fork_server=True)
    yield invoker
    invoker.shutdown()


def _server(invoker: LambdaInvoker) -> Any:
    server = invoker._fork_server
    assert server is not None
    assert server._process is not None
    return server._process


def test_a_forked_environment_holds_exactly_its_functions_variables_and_directory(forking):
    served, _ = forking.invoke(spec("remember", name="Load", ONLY_LOAD="1"), {})

    assert served["env"] == forking.environment_for(spec("remember", name="Load", ONLY_LOAD="1"))
    assert served["pid"] != _server(forking).pid
    assert Path(served["cwd"]).name.startswith("onyx-lambda-")
    assert forking.invocations[0].init_seconds > 0  # the handler's own import ran in the environment


def test_the_fork_server_holds_the_libraries_and_each_environment_imports_its_handler_under_its_own_variables(
        forking):
    first, _ = forking.invoke(spec("remember", name="Extract"), {})
    second, _ = forking.invoke(spec("remember", name="Load"), {})

    assert "pyarrow" in Path(f"/proc/{_server(forking).pid}/maps").read_text()  # loaded once, in the server
    assert (first["stage_at_import"], second["stage_at_import"]) == ("Extract", "Load")
    assert (first["calls"], second["calls"]) == (1, 1)  # no module state shared between environments


def test_directories_put_before_ours_on_pythonpath_run_their_start_up_hooks_under_the_functions_variables(
        invoker, tmp_path: Path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text("import os\nos.environ['SITE_HOOK_SAW'] = os.environ['STAGE']\n")
    (hooks / "only_here.py").write_text("")
    repo = invoker.environment_for(spec("remember"))["PYTHONPATH"]
    invoker.fault = lambda function, event: {"PYTHONPATH": f"{hooks}:{repo}"}

    served, _ = invoker.invoke(spec("remember", name="Hooked"), {})
    imported, _ = invoker.invoke(spec("import_module", name="Hooked"), {"module": "only_here"})
    invoker.fault = None
    plain, _ = invoker.invoke(spec("remember", name="Plain"), {})

    assert served["env"]["SITE_HOOK_SAW"] == "Hooked"
    assert imported == {"imported": "only_here"}
    assert "SITE_HOOK_SAW" not in plain["env"]
    if invoker._fork_server is not None:  # forked, not spawned as a fallback
        assert served["ppid"] == _server(invoker).pid


def test_shutting_down_stops_the_fork_server_and_every_environment(forking):
    served, _ = forking.invoke(spec("remember"), {})
    server = _server(forking)

    forking.shutdown()

    assert server.poll() is not None
    assert not alive(served["pid"])
    assert not Path(served["cwd"]).exists()


def test_a_fork_server_that_died_is_replaced_and_the_invocation_still_served(forking):
    forking.invoke(spec("remember"), {})
    server = _server(forking)
    server.kill()
    server.wait()

    served, errored = forking.invoke(spec("remember", name="After"), {})

    assert not errored
    assert served["calls"] == 1
    assert _server(forking).pid != server.pid


def test_packages_absent_from_the_lambda_asset_cannot_be_imported_by_a_handler(invoker):
    payload, errored = invoker.invoke(spec("import_module"), {"module": "pandas"})
    numpy, _ = invoker.invoke(spec("import_module"), {"module": "numpy"})
    pyarrow, _ = invoker.invoke(spec("import_module"), {"module": "pyarrow.parquet"})

    assert errored
    assert (payload["errorType"], numpy["errorType"]) == ("ModuleNotFoundError", "ModuleNotFoundError")
    assert pyarrow == {"imported": "pyarrow.parquet"}


def test_an_environment_setting_what_a_preloaded_library_reads_at_import_is_spawned_to_read_it_itself(forking):
    traced, _ = forking.invoke(spec("remember", name="Traced", AWS_XRAY_TRACING_NAME="onyx-traced"), {})
    plain, _ = forking.invoke(spec("remember", name="Plain"), {})

    assert traced["ppid"] == os.getpid()  # a fresh interpreter: the X-Ray SDK reads the name as it is imported
    assert traced["env"]["AWS_XRAY_TRACING_NAME"] == "onyx-traced"
    assert plain["ppid"] == _server(forking).pid
