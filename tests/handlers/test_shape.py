"""The five handlers have one shape: the same Powertools wrappers in the same order, the run id as correlation
id, and `<Stage>Environment` / `<Stage>Event` models with one configuration."""

from __future__ import annotations

import importlib
import json
from types import ModuleType
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from lambdas.shared.constants import Env
from lambdas.shared.handler_models import StageEnvironment, StageEvent

STAGES = {"extract": "Extract", "transform": "Transform", "load": "Load", "watermark": "Watermark",
          "rebuild": "Rebuild"}
# What `stage_handler` puts around every handler, outermost first (the code objects keep their own names).
WRAPPERS = [
    "Logger.inject_lambda_context.<locals>.decorate",
    "Tracer.capture_lambda_handler.<locals>.decorate",
    "BaseProvider.log_metrics.<locals>.decorate",
    "stage_handler.<locals>.wrap.<locals>.run",
    "handler",
]


def _module(stage: str) -> ModuleType:
    return importlib.import_module(f"lambdas.{stage}.handler")


def _wrappers(function: Any) -> list[str]:
    names = []
    while function is not None:
        names.append(function.__code__.co_qualname)
        function = getattr(function, "__wrapped__", None)
    return names


@pytest.mark.parametrize("stage", STAGES)
def test_every_handler_is_wrapped_logger_tracer_metrics_in_that_order(stage):
    assert _wrappers(_module(stage).handler) == WRAPPERS


@pytest.mark.parametrize(("stage", "name"), STAGES.items())
def test_every_handler_has_a_stage_environment_and_a_stage_event(stage, name):
    module = _module(stage)
    models = {key: value for key, value in vars(module).items()
              if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__}
    assert {f"{name}Environment", f"{name}Event"} <= set(models)
    assert issubclass(models[f"{name}Environment"], StageEnvironment)
    # The state's event, and the events of a rebuild's steps the same function serves (TransformRunsEvent, ...).
    events = {key for key in models if key != f"{name}Environment"}
    assert all(key.endswith("Event") and issubclass(models[key], StageEvent) for key in events), events
    for model in models.values():
        assert model.model_config["frozen"] is True
        assert model.model_config["extra"] == "ignore"


@pytest.mark.parametrize("stage", STAGES)
def test_every_event_ignores_extra_keys_and_refuses_a_run_id_that_cannot_be_part_of_a_key(stage):
    event = next(v for k, v in vars(_module(stage)).items() if k.endswith("Event") and k != "StageEvent")
    fields = {"run_id": "run-1", "manifest_key": "runs/run-1/extract.json"}
    request = event.model_validate({**fields, "extracted": {"address": 1}, "commit": True})
    assert request.run_id == "run-1"
    with pytest.raises(ValidationError):
        request.run_id = "run-2"  # frozen
    with pytest.raises(ValidationError, match="run_id"):
        event.model_validate({**fields, "run_id": "../etc"})


def test_a_missing_variable_is_named_without_printing_the_environment(monkeypatch):
    from lambdas.watermark.handler import WatermarkEnvironment

    monkeypatch.delenv(Env.INGESTION_BUCKET, raising=False)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-that-must-not-show")

    with pytest.raises(ValidationError, match=Env.INGESTION_BUCKET) as failure:
        WatermarkEnvironment.from_environ()
    assert "token-that-must-not-show" not in str(failure.value)


@pytest.mark.filterwarnings("ignore:No application metrics")
@pytest.mark.parametrize("stage", STAGES)
def test_every_handler_logs_its_failure_once_with_the_run_id_as_correlation_id(stage, lambda_context, monkeypatch,
                                                                               log_output):
    # No environment but its name (which the wrapper itself reads first; tests/handlers/test_metrics.py removes it
    # too): every handler fails at its first line, after the wrappers did their part.
    for variable in vars(Env).values():
        if isinstance(variable, str) and variable.startswith("ONYX_") and variable != Env.ENV_NAME:
            monkeypatch.delenv(variable, raising=False)

    with pytest.raises(ValidationError):
        _module(stage).handler({"run_id": "run-42", "manifest_key": "runs/run-42/extract.json"}, lambda_context)

    (line,) = [json.loads(text) for text in log_output.getvalue().splitlines()]
    assert (line["level"], line["message"], line["correlation_id"]) == ("ERROR", f"{stage} failed", "run-42")
    assert line["exception_name"] == "ValidationError"
