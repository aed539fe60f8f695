"""Fixes for moto's CloudFormation (and the services behind it) that the synthesized template runs into,
applied in-process.

The template itself is deployed untouched; each fix makes moto accept what real CloudFormation accepts, or
answer as AWS answers (an e-mail subscription awaits its confirmation).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

import botocore
import botocore.session
from botocore.exceptions import ClientError
from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel
from moto.kms.models import Key
from moto.sns.models import SNSBackend, Subscription, sns_backends
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.string.string_expression import StringVariableSample
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda import StateTaskLambda
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

from local.moto_cloud_constants import ACCOUNT

# Resource types moto's CloudFormation cannot create and the local cloud has no use for: they are
# accepted as placeholders (so references to them resolve) and listed as "not emulated" after deploy.
NOT_EMULATED = (
    "AWS::S3::BucketPolicy",       # bucket policies: moto does not enforce IAM anyway
    "AWS::SNS::TopicPolicy",
    "AWS::CloudWatch::Alarm",      # nothing evaluates metrics locally
    "AWS::CloudWatch::CompositeAlarm",
    "AWS::CloudWatch::Dashboard",
)
accepted_placeholders: list[str] = []


class Placeholder(CloudFormationModel):
    """Stands in for a resource of a NOT_EMULATED type."""

    def __init__(self, resource_type: str, name: str, region: str) -> None:
        self.resource_type, self.name, self.region = resource_type, name, region

    @property
    def physical_resource_id(self) -> str:
        return self.name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "Onyx::Local::Placeholder"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> str:
        service = self.resource_type.split("::")[1].lower()
        return f"arn:aws:{service}:{self.region}:{ACCOUNT}:{self.name}"

    @classmethod
    def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
            **kwargs: Any) -> Placeholder:
        resource_type = str(kwargs.get("ResourceType", "AWS::Unknown::Resource"))
        accepted_placeholders.append(f"{resource_type} {kwargs.get('LogicalId', resource_name)}")
        return cls(resource_type, resource_name, region_name)


class TopicSubscription(CloudFormationModel):
    """AWS::SNS::Subscription, which moto's CloudFormation lacks: made through SNS's own Subscribe, so an e-mail
    subscription awaits its confirmation as on AWS (`_pending_email`). Nothing is e-mailed locally: alerts are
    printed and kept in alerts.log instead."""

    def __init__(self, subscription: Subscription) -> None:
        self.subscription = subscription

    @property
    def physical_resource_id(self) -> str:
        return str(self.subscription.arn)

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SNS::Subscription"

    @classmethod
    def create_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str,
            **kwargs: Any) -> TopicSubscription:
        properties = cloudformation_json["Properties"]
        backend: SNSBackend = sns_backends[account_id][region_name]
        return cls(backend.subscribe(properties["TopicArn"], properties["Endpoint"], properties["Protocol"]))


EMULATED = {"AWS::SNS::Subscription": TopicSubscription}


def _resource_class_from_type(original: Callable[[str], Any]) -> Callable[[str], Any]:
    def lookup(resource_type: str) -> Any:
        if resource_type in NOT_EMULATED:
            return Placeholder
        return EMULATED.get(resource_type) or original(resource_type)

    return lookup


PENDING_PROTOCOLS = ("email", "email-json")


def _pending_email(original: Callable[..., Subscription]) -> Callable[..., Subscription]:
    """An e-mail subscription is `PendingConfirmation` on AWS until its owner follows the link AWS e-mails; moto
    lists it confirmed. Here it stays pending (nobody can confirm it locally), as ListSubscriptionsByTopic and
    GetSubscriptionAttributes show it. (Subscribe still answers with its ARN, where AWS says "pending
    confirmation".)"""

    def subscribe(backend: SNSBackend, topic_arn: str, endpoint: str, protocol: str) -> Subscription:
        subscription = original(backend, topic_arn, endpoint, protocol)
        if protocol in PENDING_PROTOCOLS and not subscription.confirmed:
            # moto's serializer reads the listed ARN from this attribute before `arn`.
            setattr(subscription, "SubscriptionArn", "PendingConfirmation")  # noqa: B010 - a name moto looks up
            subscription.attributes["PendingConfirmation"] = "true"
        return subscription

    return subscribe


def _kms_key_tags(original: Callable[..., Any]) -> Callable[..., Any]:
    """AWS::KMS::Key Tags are {Key, Value} in CloudFormation; moto's backend expects {TagKey, TagValue}."""

    def create(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str,
               **kwargs: Any) -> Any:
        properties = dict(cloudformation_json.get("Properties", {}))
        properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
        unbound: Callable[..., Any] = getattr(original, "__func__")  # noqa: B009 - the classmethod's function
        return unbound(cls, resource_name, {**cloudformation_json, "Properties": properties}, account_id,
                       region_name, **kwargs)

    return create


_SIMPLE_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _variable_sample(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto reads a workflow variable (`$failedState`, set by a Catch's Assign) through a JSONata engine
    it does not ship, so every read fails; a plain `$name` is just a lookup in the variable store."""

    def eval_body(sample: Any, env: Any) -> None:
        match = _SIMPLE_VARIABLE.fullmatch(sample.expression)
        if match is None:
            original(sample, env)
            return
        env.stack.append(env.variable_store.get(match.group(1)))

    return eval_body


def _lambda_client_error(original: Callable[..., Any]) -> Callable[..., Any]:
    """A Lambda task whose invoke the Lambda service refuses fails with `Lambda.<error code>` on AWS (e.g.
    Lambda.TooManyRequestsException, which a Retry names); moto's task for a function-ARN resource says
    `Exception` instead, so no Retry would ever match a throttle."""

    def from_error(task: Any, env: Any, ex: Exception) -> Any:
        if not isinstance(ex, ClientError):
            return original(task, env, ex)
        error = f"Lambda.{ex.response['Error']['Code']}"
        cause = ex.response["Error"]["Message"]
        event = original(task, env, ex)  # moto's event, with its history type and details
        details = dict(next(iter(event.event_details.values()))) if event.event_details else {}
        details.update(error=error, cause=cause)
        field = next(iter(event.event_details)) if event.event_details else "lambdaFunctionFailedEventDetails"
        return FailureEvent(env=env, error_name=CustomErrorName(error), event_type=event.event_type,
                            event_details=EventDetails(**{field: details}))  # type: ignore[misc]

    return from_error


def _service_parameters(original: Callable[..., Any]) -> Callable[..., Any]:
    """A service integration (`arn:aws:states:::states:startExecution`, `arn:aws:states:::aws-sdk:sfn:...`) takes its
    parameters in PascalCase (`StateMachineArn`) whatever the service's own casing; moto hands them to boto3 as they
    are, which refuses them. Rename each to the API model's member (case-insensitively), as Step Functions does."""

    def normalise_parameters(task: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        original(task, parameters, boto_service_name, service_action_name)
        shape = _input_shape(task._get_boto_service_name(boto_service_name),
                             task._get_boto_service_action(service_action_name))
        renamed = _to_model(parameters, shape)
        parameters.clear()
        parameters.update(renamed)

    return normalise_parameters


def _service_response(original: Callable[..., Any]) -> Callable[..., Any]:
    """...and gives its result in PascalCase (`$.ExecutionArn`, `$.Executions[0].Name`), timestamps as text."""

    def normalise_response(task: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        original(task, response, boto_service_name, service_action_name)
        if isinstance(response, dict):
            pascal = _pascal_case(response)
            response.clear()
            response.update(pascal)

    return normalise_response


@functools.lru_cache(maxsize=64)
def _input_shape(service: str, action: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    operation = next((name for name in model.operation_names if botocore.xform_name(name) == action), None)
    return model.operation_model(operation).input_shape if operation else None


def _to_model(value: Any, shape: Any) -> Any:
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        renamed = {}
        for key, item in value.items():
            name = members.get(key.lower(), key)
            renamed[name] = _to_model(item, shape.members.get(name))
        return renamed
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_model(item, shape.member) for item in value]
    return value


def _pascal_case(value: Any) -> Any:
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _pascal_case(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_pascal_case(item) for item in value]
    if hasattr(value, "isoformat"):  # a timestamp: JSON text in a state's data, as on AWS
        return value.isoformat()
    return value


FIXES: tuple[tuple[Any, str, Callable[[Callable[..., Any]], Callable[..., Any]], bool], ...] = (
    (Key, "create_from_cloudformation_json", _kms_key_tags, True),
    (parsing, "resource_class_from_type", _resource_class_from_type, False),
    (StringVariableSample, "_eval_body", _variable_sample, False),
    (StateTaskLambda, "_from_error", _lambda_client_error, False),
    (StateTaskService, "_normalise_parameters", _service_parameters, False),
    (StateTaskService, "_normalise_response", _service_response, False),
    (SNSBackend, "subscribe", _pending_email, False),
)


def apply(patch: Callable[[Any, str, Any], None]) -> None:
    """Install every fix through `patch(owner, name, replacement)` (which remembers how to undo it)."""
    accepted_placeholders.clear()
    for owner, name, make, is_classmethod in FIXES:
        original = getattr(owner, name)
        replacement = make(original)
        patch(owner, name, classmethod(replacement) if is_classmethod else replacement)
