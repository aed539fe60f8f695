"""moto as the local AWS: a server on a loopback port, in this process, with state machines executing.

What moto cannot do here is supplied by us, in this process:
- Lambda: moto would need Docker to run Python code, so its invoke is routed to LambdaInvoker (the real
  handler in an execution environment of its own), with the function's reserved concurrency enforced as
  Lambda does: an invocation beyond it is refused with TooManyRequestsException (HTTP 429).
- Step Functions' execution status change events, delivered to the deployed rules' Lambda targets
  (local/execution_events.py): that is how a failed, timed-out or stopped run sends its e-mail.
- SNS e-mail: an alert published to a topic is printed and appended to a file a person can read.
- IAM: every request to the server is authorized against its caller's policies (local/moto_iam.py); each
  function runs with its own execution role's temporary credentials, and the state machine's calls to
  Lambda carry its own role's, as on AWS.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer
from moto.sns.models import SNSBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.utils import boto_client

from local import moto_compat
from local.execution_events import ExecutionEvents
from local.lambda_invoker import FunctionSpec, LambdaInvoker
from local.moto_cloud_constants import ACCOUNT, REGION, signed_with
from local.moto_iam import Authorizer, Denial, RoleSessions
from local.postgres import free_port

__all__ = ["ACCOUNT", "REGION", "Alert", "MotoCloud"]


@dataclass
class Alert:
    topic_arn: str
    subject: str | None
    message: str


class TooManyRequests(LambdaClientError):
    """What Lambda answers an invocation beyond the function's reserved concurrency (Step Functions sees
    `Lambda.TooManyRequestsException`)."""

    code = 429

    def __init__(self, function_name: str, limit: int) -> None:
        super().__init__("TooManyRequestsException",
                         f"Rate Exceeded. {function_name} is at its reserved concurrency of {limit}.")


class ConcurrencyGate:
    """How many invocations of each function run at once, against its reserved concurrency."""

    def __init__(self) -> None:
        self._running: dict[str, int] = {}
        self._lock = threading.Lock()
        self.throttled: list[str] = []  # the function name of every refused invocation

    def enter(self, function: LambdaFunction) -> None:
        limit = function.reserved_concurrency
        name = function.function_name
        with self._lock:
            running = self._running.get(name, 0)
            if limit is not None and running >= int(limit):
                self.throttled.append(name)
                raise TooManyRequests(name, int(limit))
            self._running[name] = running + 1

    def leave(self, function: LambdaFunction) -> None:
        with self._lock:
            self._running[function.function_name] -= 1


class _StateMachineBoto3:
    """Stands in for boto3 in moto's Step Functions interpreter, whose clients sign with a fixed placeholder
    key: they sign with the state machine role's temporary credentials instead."""

    def __init__(self, credentials: Callable[[], dict[str, str]]) -> None:
        self._credentials = credentials

    def client(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.update(signed_with(self._credentials()))
        return boto3.client(*args, **kwargs)


# The role of the execution whose task is calling AWS on this thread.
_execution_role = threading.local()


def _with_execution_role(original: Callable[..., None]) -> Callable[..., None]:
    """A task's calls (Lambda, Step Functions) are signed with its own state machine's role, as on AWS: the
    execution's environment names it, and the call is made on the thread that evaluates the task."""

    def eval_execution(task: Any, env: Any) -> None:
        previous = getattr(_execution_role, "arn", None)
        _execution_role.arn = env.aws_execution_details.role_arn
        try:
            original(task, env)
        finally:
            _execution_role.arn = previous

    return eval_execution


@dataclass
class MotoCloud:
    """A running moto server whose Lambda functions run our handlers and whose SNS alerts we keep."""

    state_dir: Path
    port: int = 0
    server: ThreadedMotoServer | None = None
    invoker: LambdaInvoker | None = None
    alerts: list[Alert] = field(default_factory=list)
    on_alert: Callable[[Alert], None] | None = None
    concurrency: ConcurrencyGate = field(default_factory=ConcurrencyGate)
    execution_events: ExecutionEvents | None = None
    authorizer: Authorizer | None = None
    sessions: RoleSessions = field(default_factory=lambda: RoleSessions(ACCOUNT, REGION))
    # The deployed state machine's execution role: its tasks call Lambda with this role's credentials (an execution
    # of another state machine, the rebuild's, calls with its own machine's role: `_execution_role`).
    state_machine_role_arn: str | None = None
    on_denial: Callable[[Denial], None] | None = None
    # New Lambda environments forked from a process holding the libraries (local/lambda_forkserver.py).
    fork_server: bool = False
    _patches: list[tuple[Any, str, Any]] = field(default_factory=list)
    _restore_config: Any = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoCloud:
        self.port = self.port or free_port()
        # moto's Step Functions interpreter calls Lambda and SNS through this port.
        os.environ["MOTO_PORT"] = str(self.port)
        # Process-wide in moto: restored by stop(), so that mock_aws tests after a local cloud get moto's default.
        self._restore_config = default_user_config.get("stepfunctions")
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        self.invoker = LambdaInvoker(self.endpoint_url, REGION, self.state_dir / "logs", fork_server=self.fork_server)
        self._patch(LambdaFunction, "invoke", self._lambda_invoke())
        self._patch(SNSBackend, "publish", self._sns_publish())
        self.execution_events = ExecutionEvents(self.invoke_async)
        self.execution_events.install(self._patch)
        moto_compat.apply(self._patch)
        self.authorizer = Authorizer(hosts=frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"}),
                                     on_denial=self.on_denial)
        self.authorizer.install(self._patch)
        self._patch(boto_client, "boto3", _StateMachineBoto3(self._state_machine_credentials))
        for task in (StateTaskLambda, StateTaskService):
            self._patch(task, "_eval_execution", _with_execution_role(task._eval_execution))
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
        # The interpreter logs every path a Choice finds missing (`IsPresent` false) and every task failure as an
        # ERROR with its state's whole repr; the execution's history (which `execute` follows) says what matters.
        logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        # moto keeps its state in this process's memory: start from an empty account every time.
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST"),  # noqa: S310
                               timeout=10).close()
        return self

    def stop(self) -> None:
        if self.invoker is not None:
            self.invoker.shutdown()
        if self.server is not None:
            self.server.stop()
            self.server = None
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._patches.clear()
        if self._restore_config is not None:
            default_user_config["stepfunctions"] = self._restore_config
            self._restore_config = None

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        # The raw attribute (owner.__dict__), so a classmethod is restored as a classmethod.
        self._patches.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, replacement)

    def run_function(self, function: LambdaFunction, event: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Run the function's handler on `event` within its reserved concurrency: (payload, errored)."""
        if self.invoker is None:
            raise RuntimeError("the local cloud is not started")
        spec = FunctionSpec(name=function.function_name, handler=str(function.handler),
                            environment=dict(function.environment_vars or {}),
                            timeout_seconds=int(function.timeout or 3), memory_mb=int(function.memory_size or 128),
                            arn=function.function_arn,
                            credentials=self.sessions.environment(str(function.role), function.function_name))
        self.concurrency.enter(function)
        try:
            return self.invoker.invoke(spec, event)
        finally:
            self.concurrency.leave(function)

    def invoke_async(self, function_arn: str, event: dict[str, Any]) -> bool:
        """An asynchronous invocation (as EventBridge makes): True if the handler failed or was throttled."""
        function = lambda_backends[ACCOUNT][REGION].get_function(function_arn)
        try:
            return self.run_function(function, event)[1]
        except TooManyRequests:
            return True

    def _state_machine_credentials(self) -> dict[str, str]:
        role_arn = getattr(_execution_role, "arn", None) or self.state_machine_role_arn
        if role_arn is None:  # nothing deployed yet: moto's own placeholder, refused
            return {"AWS_ACCESS_KEY_ID": "ak", "AWS_SECRET_ACCESS_KEY": "sk"}
        return self.sessions.environment(role_arn, "onyx-local-execution")

    def _lambda_invoke(self) -> Callable[..., bytes]:
        cloud = self

        def invoke(function: LambdaFunction, body: str, request_headers: Any, response_headers: Any) -> bytes:
            payload, errored = cloud.run_function(function, json.loads(body) if body else {})
            if errored:
                response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(payload).encode("utf-8")

        return invoke

    def _sns_publish(self) -> Callable[..., str]:
        cloud = self
        original = SNSBackend.publish
        lock = threading.Lock()

        def publish(backend: SNSBackend, message: str, arn: str | None = None, phone_number: str | None = None,
                    subject: str | None = None, **kwargs: Any) -> str:
            message_id: str = original(backend, message, arn, phone_number=phone_number, subject=subject, **kwargs)
            alert = Alert(topic_arn=str(arn or ""), subject=subject, message=message)
            with lock:
                cloud.alerts.append(alert)
                with open(cloud.state_dir / "alerts.log", "a", encoding="utf-8") as log:
                    log.write(f"--- {alert.subject or 'alert'} ({alert.topic_arn})\n{alert.message}\n")
            if cloud.on_alert is not None:
                cloud.on_alert(alert)
            return message_id

        return publish
