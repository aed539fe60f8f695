"""Encryption grants are complete: whoever writes to or reads from a resource encrypted with a key of the
template may use that key as the operation needs (tests/stacks/kms_grants.py reads the template as AWS would).
"""

from __future__ import annotations

import copy

from tests.stacks.kms_grants import Access, encrypted_accesses


def test_every_principal_touching_an_encrypted_resource_holds_the_key_permissions_it_needs(synthesized):
    stack = synthesized.stack
    topic, key = synthesized.logical_id(stack.alerts.topic), synthesized.logical_id(stack.alerts.key)
    accesses = encrypted_accesses(synthesized.template)

    # The enumeration itself: who publishes to the encrypted alert topic (the buckets use S3-managed keys).
    assert sorted(accesses, key=lambda a: a.principal) == [
        Access(synthesized.logical_id(stack.run_alerts.notifier.role), "sns:Publish", topic, key, missing=()),
        Access("cloudwatch.amazonaws.com", "sns:Publish", topic, key, missing=()),
    ]


def test_the_check_finds_a_publisher_without_the_key_as_the_state_machine_once_was(synthesized):
    # The defect the first design had: the state machine published failures to the topic, with no key grant.
    template = copy.deepcopy(synthesized.template)
    stack = synthesized.stack
    machine_role = synthesized.logical_id(stack.pipeline.state_machine.role)
    topic, key = synthesized.logical_id(stack.alerts.topic), synthesized.logical_id(stack.alerts.key)
    (policy,) = [p for p in template["Resources"].values()
                 if p["Type"] == "AWS::IAM::Policy" and {"Ref": machine_role} in p["Properties"]["Roles"]]
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": topic}})

    defects = [a for a in encrypted_accesses(template) if a.missing]

    assert defects == [Access(machine_role, "sns:Publish", topic, key, missing=("kms:GenerateDataKey", "kms:Decrypt"))]


def test_the_check_finds_the_notifier_without_its_key_statement_and_alarms_without_the_key_policy(synthesized):
    template = copy.deepcopy(synthesized.template)
    stack = synthesized.stack
    notifier_role = synthesized.logical_id(stack.run_alerts.notifier.role)
    topic, key = synthesized.logical_id(stack.alerts.topic), synthesized.logical_id(stack.alerts.key)
    for policy in template["Resources"].values():
        if policy["Type"] == "AWS::IAM::Policy" and {"Ref": notifier_role} in policy["Properties"]["Roles"]:
            statements = policy["Properties"]["PolicyDocument"]["Statement"]
            statements[:] = [s for s in statements if s.get("Sid") != "EncryptAlerts"]
    key_policy = template["Resources"][key]["Properties"]["KeyPolicy"]["Statement"]
    key_policy[:] = [s for s in key_policy if s.get("Sid") != "AllowCloudWatchAlarmsToPublish"]

    defects = sorted((a for a in encrypted_accesses(template) if a.missing), key=lambda a: a.principal)

    both = ("kms:GenerateDataKey", "kms:Decrypt")
    assert defects == [Access(notifier_role, "sns:Publish", topic, key, missing=both),
                       Access("cloudwatch.amazonaws.com", "sns:Publish", topic, key, missing=both)]
