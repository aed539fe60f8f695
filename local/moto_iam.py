"""IAM authorization for the local cloud: every request to its moto server is checked as AWS checks it.

moto can authenticate requests (the signature, the access key, the assumed role behind it) but its own
policy check compares a statement's Resource with "*" for every service but S3, so a role granted
`sns:Publish` on its topic would be refused. This module keeps moto's authentication (its IAMRequest
classes) and evaluates the caller's identity policies itself, as AWS does:

- an explicit Deny wins, then an Allow is needed; Action/NotAction and Resource/NotResource with the `*`
  and `?` wildcards; action names case-insensitive, resources case-sensitive;
- the resource is the one the request names: S3 bucket and object ARNs (from moto), the SNS topic, the
  Secrets Manager secret, the Lambda function, the Step Functions execution or state machine. For any
  other call only the action is checked, and a statement with a Condition is not evaluated (an Allow
  with one does not allow, a Deny with one denies): none of the deployed roles has one;
- a refusal is AWS's `AccessDenied`, naming the principal, the action and the resource.

Requests signed with `OPERATOR_ACCESS_KEY` are the operator's (the deployer's credentials on AWS: the
command line, the tests' own clients, the deployment): they are not checked. Anything else must be
signed with credentials moto issued (STS AssumeRole: the local cloud gives every function, and the
state machine, its own role's), or it is refused as an unknown token. Requests that reach moto in this
process but not through the local cloud's server (the `mock_aws` tests) keep moto's behaviour.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlparse

from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import JsonRESTError, _RESTError
from moto.core.utils import get_service_model
from moto.iam.access_control import IAMPolicy, S3IAMRequest
from moto.s3.exceptions import S3AccessDeniedError, S3ClientError

from local.moto_cloud_constants import OPERATOR_ACCESS_KEY

# The request's operation, as moto names it, where the IAM action AWS checks has another name.
IAM_ACTION = {
    "lambda:Invoke": "lambda:InvokeFunction",
    "s3:ListObjects": "s3:ListBucket",
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadBucket": "s3:ListBucket",
    "s3:ListObjectVersions": "s3:ListBucketVersions",
}


class Decision(Enum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "no identity-based policy allows"
    EXPLICIT_DENY = "an explicit deny in an identity-based policy"


@lru_cache(maxsize=1024)
def _pattern(value: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` exactly one; everything else literal."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in value)
    return re.compile(f"^{body}$", re.IGNORECASE if ignore_case else 0)


def _matches(values: Any, subject: str, ignore_case: bool) -> bool:
    listed = values if isinstance(values, list) else [values]
    return any(_pattern(str(v), ignore_case).match(subject) for v in listed)


def _statement_applies(statement: dict[str, Any], action: str, resource: str | None) -> bool:
    if "NotAction" in statement:
        if _matches(statement["NotAction"], action, True):
            return False
    elif not _matches(statement.get("Action", []), action, True):
        return False
    if resource is None:  # the call's resource is not known here: the action decides
        return True
    if "NotResource" in statement:
        return not _matches(statement["NotResource"], resource, False)
    return _matches(statement.get("Resource", []), resource, False)


def evaluate(documents: list[dict[str, Any]], action: str, resource: str | None) -> Decision:
    """AWS's evaluation of identity-based policies for one request (no resource policies, no boundaries)."""
    allowed = False
    for document in documents:
        statements = document.get("Statement", [])
        for statement in statements if isinstance(statements, list) else [statements]:
            if not _statement_applies(statement, action, resource):
                continue
            conditional = "Condition" in statement
            if statement.get("Effect") == "Deny":
                return Decision.EXPLICIT_DENY
            if statement.get("Effect") == "Allow" and not conditional:
                allowed = True
    return Decision.ALLOWED if allowed else Decision.IMPLICIT_DENY


@dataclass(frozen=True)
class Denial:
    principal: str
    action: str
    resource: str | None
    decision: Decision

    @property
    def message(self) -> str:
        on = f" on resource: {self.resource}" if self.resource else ""
        reason = ("because no identity-based policy allows the " + self.action + " action"
                  if self.decision is Decision.IMPLICIT_DENY
                  else "with an explicit deny in an identity-based policy")
        return f"User: {self.principal} is not authorized to perform: {self.action}{on} {reason}"


class QueryAccessDenied(_RESTError):
    """AWS's refusal for the XML (query) protocols; SNS names it AuthorizationError."""

    code = 403


class JsonAccessDenied(JsonRESTError):
    """AWS's refusal for the JSON protocols (Lambda, Secrets Manager, Step Functions...)."""

    code = 403


class S3AccessDenied(S3ClientError):
    """S3's refusal (S3 answers in its own XML), with the message S3 now gives: principal, action, resource."""

    def __init__(self, denial: Denial) -> None:
        super().__init__("AccessDenied", denial.message)


def _documents(policies: list[Any]) -> list[dict[str, Any]]:
    # moto hands back inline documents (text) and managed Policy objects: IAMPolicy reads both.
    return [IAMPolicy(policy)._policy_json for policy in policies]


def _json_body(response: Any) -> dict[str, Any]:
    try:
        body = json.loads(response.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _secret_arn(response: Any, secret_id: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager.models import secretsmanager_backends

    try:
        return str(secretsmanager_backends[response.current_account][response.region].describe_secret(secret_id).arn)
    except Exception:  # noqa: BLE001 - no such secret: AWS checks the ARN the name would have
        return f"arn:aws:secretsmanager:{response.region}:{response.current_account}:secret:{secret_id}"


def _function_arn(response: Any) -> str | None:
    path = unquote(urlparse(response.uri).path)
    match = re.search(r"/functions/(.+?)/(?:invocations|invoke-async|configuration|policy|concurrency|code)",
                      path) or re.search(r"/functions/([^/]+)/?$", path)
    if not match:
        return None
    name = match.group(1)
    if name.startswith("arn:"):
        return name
    if ":" in name:  # name:qualifier
        name, qualifier = name.split(":", 1)
        return f"arn:aws:lambda:{response.region}:{response.current_account}:function:{name}:{qualifier}"
    qualifier = response.querystring.get("Qualifier", [None])[0] if hasattr(response, "querystring") else None
    suffix = f":{qualifier}" if qualifier else ""
    return f"arn:aws:lambda:{response.region}:{response.current_account}:function:{name}{suffix}"


def request_resource(response: Any, action: str) -> str | None:
    """The ARN the request acts on, for the services whose calls the deployed roles make; None if unknown."""
    service = action.split(":", 1)[0]
    if service == "sns":
        topic = response._get_param("TopicArn") or response._get_param("TargetArn")
        return str(topic) if topic else None
    if service == "secretsmanager":
        secret_id = _json_body(response).get("SecretId")
        return _secret_arn(response, str(secret_id)) if secret_id else None
    if service == "lambda":
        return _function_arn(response)
    if service == "states":
        body = _json_body(response)
        arn = body.get("executionArn") or body.get("stateMachineArn")
        return str(arn) if arn else None
    return None


@dataclass
class Authorizer:
    """Checks the requests that reach the local cloud's moto server (by their Host header)."""

    hosts: frozenset[str]
    denials: list[Denial] = field(default_factory=list)
    on_denial: Callable[[Denial], None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, patch: Callable[[Any, str, Any], None]) -> None:
        original = ActionAuthenticatorMixin._authenticate_and_authorize_action
        authorizer = self

        def authenticate_and_authorize(response: Any, iam_request_cls: type, resource: str = "*") -> None:
            if response.headers.get("Host") not in authorizer.hosts:
                original(response, iam_request_cls, resource)
                return
            authorizer.check(response, iam_request_cls, resource)

        patch(ActionAuthenticatorMixin, "_authenticate_and_authorize_action", authenticate_and_authorize)

    def check(self, response: Any, iam_request_cls: type, resource: str) -> None:
        authorization = response.headers.get("Authorization", "")
        if f"Credential={OPERATOR_ACCESS_KEY}/" in authorization:
            return
        if "Credential=" not in authorization:
            # Unsigned: moto's server finds the service in the signature, so it takes any unsigned request for S3's;
            # an anonymous S3 request, which the private buckets refuse.
            raise S3AccessDeniedError
        query = urlparse(response.uri).query
        path = response.raw_path + (f"?{query}" if query else "")
        request = iam_request_cls(account_id=response.current_account, method=response.method, path=path,
                                  data=response.data, body=response.raw_body, headers=response.headers,
                                  action=response._get_action())
        request.check_signature()
        moto_action = request._action
        action = IAM_ACTION.get(moto_action, moto_action)
        if action == "sts:GetCallerIdentity":  # AWS answers it whatever the policies say
            return
        arn = resource if resource != "*" else request_resource(response, action)
        key = request._access_key
        decision = evaluate(_documents(key.collect_policies()), action, arn)
        if decision is Decision.ALLOWED:
            return
        denial = Denial(principal=key.arn, action=action, resource=arn, decision=decision)
        with self._lock:
            self.denials.append(denial)
        if self.on_denial is not None:
            self.on_denial(denial)
        raise refusal(response, iam_request_cls, denial)


def refusal(response: Any, iam_request_cls: type, denial: Denial) -> Exception:
    """The error AWS answers a refused call with, in the service's own protocol and error code."""
    if iam_request_cls is S3IAMRequest:
        return S3AccessDenied(denial)
    protocol = get_service_model(response.boto3_service_name).metadata.get("protocol")
    if protocol in ("json", "rest-json"):
        return JsonAccessDenied("AccessDeniedException", denial.message)
    code = "AuthorizationError" if denial.action.startswith("sns:") else "AccessDenied"
    return QueryAccessDenied(code, denial.message)


class RoleSessions:
    """Temporary credentials for a role, as the service that assumes it gets them (moto's STS AssumeRole,
    so the authorizer finds the role behind them). One session per role and session name, reused: a
    warm execution environment keeps its credentials, as on Lambda."""

    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self._sessions: dict[tuple[str, str], dict[str, str]] = {}
        self._lock = threading.Lock()

    def environment(self, role_arn: str, session_name: str) -> dict[str, str]:
        """The AWS_* variables Lambda sets for a function running as `role_arn`."""
        from moto.sts.models import sts_backends

        key = (role_arn, session_name)
        with self._lock:
            if key not in self._sessions:
                role = sts_backends[self.account]["aws"].assume_role(
                    region_name=self.region, role_session_name=session_name[:64], role_arn=role_arn,
                    policy="", duration=3600, external_id="")
                self._sessions[key] = {"AWS_ACCESS_KEY_ID": role.access_key_id,
                                       "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
                                       "AWS_SESSION_TOKEN": role.session_token}
            return dict(self._sessions[key])

    def forget(self) -> None:
        with self._lock:
            self._sessions.clear()
