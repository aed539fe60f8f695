"""Who touches what a KMS key encrypts, read from a synthesized template, and what of the key each one lacks.

AWS refuses an operation on an encrypted resource unless the caller may also use the key: an `sns:Publish`
to a topic encrypted with a customer key fails with KMS.AccessDeniedException without `kms:GenerateDataKey*`
and `kms:Decrypt` on that key. IAM policies, alarms and rules are read from the template; moto enforces none
of this, so this analysis is the proof.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any, Final

Template = dict[str, Any]

# For each encrypted resource type: where it names its key, and the KMS actions each operation on it needs.
ENCRYPTED: Final[dict[str, tuple[str, dict[str, tuple[str, ...]]]]] = {
    "AWS::SNS::Topic": ("KmsMasterKeyId", {"sns:Publish": ("kms:GenerateDataKey", "kms:Decrypt")}),
    "AWS::SQS::Queue": ("KmsMasterKeyId", {"sqs:SendMessage": ("kms:GenerateDataKey", "kms:Decrypt"),
                                           "sqs:ReceiveMessage": ("kms:Decrypt",)}),
    "AWS::S3::Bucket": ("", {"s3:PutObject": ("kms:GenerateDataKey",), "s3:GetObject": ("kms:Decrypt",)}),
}


@dataclass(frozen=True)
class Access:
    principal: str  # a role's logical id, or a service principal
    action: str
    resource: str  # logical id of the encrypted resource
    key: str  # logical id of its key
    missing: tuple[str, ...]  # KMS actions the principal lacks on the key


def _listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _ref(value: Any) -> str | None:
    """The logical id a Ref / Fn::GetAtt points to."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def key_of(resource: dict[str, Any]) -> str | None:
    """The logical id of the template's key that encrypts this resource, if any."""
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::S3::Bucket":
        for rule in properties.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                return _ref(default.get("KMSMasterKeyID"))
        return None
    field = ENCRYPTED.get(resource["Type"], ("",))[0]
    return _ref(properties.get(field)) if field else None


def _allows(patterns: list[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)


def role_statements(template: Template) -> dict[str, list[dict[str, Any]]]:
    """Every Allow statement of each role (its inline policies and the AWS::IAM::Policy resources naming it)."""
    resources = template["Resources"]
    statements: dict[str, list[dict[str, Any]]] = {
        logical_id: [s for policy in r.get("Properties", {}).get("Policies", [])
                     for s in policy["PolicyDocument"]["Statement"]]
        for logical_id, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    for policy in (r for r in resources.values() if r["Type"] == "AWS::IAM::Policy"):
        for role in policy["Properties"].get("Roles", []):
            statements.setdefault(_ref(role) or "", []).extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return {role: [s for s in found if s.get("Effect") == "Allow"] for role, found in statements.items()}


def _resource_matches(resource: Any, logical_id: str) -> bool:
    return resource == "*" or _ref(resource) == logical_id


def _key_policy_allows(key: dict[str, Any], service: str, action: str) -> bool:
    for statement in key["Properties"]["KeyPolicy"]["Statement"]:
        services = _listify(statement.get("Principal", {}).get("Service", []))
        if statement.get("Effect") == "Allow" and service in services and _allows(_listify(statement["Action"]),
                                                                                    action):
            return True
    return False


def encrypted_accesses(template: Template) -> list[Access]:
    """Every (principal, action, encrypted resource, key) the template sets up, with what it lacks of the key."""
    resources = template["Resources"]
    encrypted = {logical_id: key for logical_id, r in resources.items()
                 if r["Type"] in ENCRYPTED and (key := key_of(r)) is not None}
    accesses: list[Access] = []
    for role, statements in role_statements(template).items():
        for target, key in encrypted.items():
            operations = ENCRYPTED[resources[target]["Type"]][1]
            for action, needs in operations.items():
                touches = any(_allows(_listify(s["Action"]), action)
                              and any(_resource_matches(r, target) for r in _listify(s["Resource"]))
                              for s in statements)
                if not touches:
                    continue
                missing = tuple(need for need in needs if not any(
                    _allows(_listify(s["Action"]), need)
                    and any(_resource_matches(r, key) for r in _listify(s["Resource"])) for s in statements))
                accesses.append(Access(role, action, target, key, missing))
    # Services that publish to a topic because the template wires them to it: alarms, rules with SNS targets.
    for resource in resources.values():
        wired = []
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            properties = resource["Properties"]
            wired = [("cloudwatch.amazonaws.com", _ref(a)) for field in ("AlarmActions", "OKActions",
                                                                        "InsufficientDataActions")
                     for a in properties.get(field, [])]
        elif resource["Type"] == "AWS::Events::Rule":
            wired = [("events.amazonaws.com", _ref(t["Arn"])) for t in resource["Properties"].get("Targets", [])]
        for service, target in wired:
            if target not in encrypted or resources[target]["Type"] != "AWS::SNS::Topic":
                continue
            key = encrypted[target]
            needs = ENCRYPTED["AWS::SNS::Topic"][1]["sns:Publish"]
            missing = tuple(n for n in needs if not _key_policy_allows(resources[key], service, n))
            access = Access(service, "sns:Publish", target, key, missing)
            if access not in accesses:
                accesses.append(access)
    return accesses
