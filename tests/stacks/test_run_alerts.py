"""The run alert: one rule on the state machine's FAILED, TIMED_OUT and ABORTED ends, feeding the notifier."""

from __future__ import annotations

from lambdas.shared.constants import Env, RebuildStates, States


def test_the_rule_sends_every_unsuccessful_end_of_the_pipeline_and_of_a_rebuild_and_nothing_else(synthesized):
    rule = synthesized.resource(synthesized.stack.run_alerts.rule)["Properties"]
    machine = synthesized.logical_id(synthesized.stack.pipeline.state_machine)
    rebuild = synthesized.logical_id(synthesized.stack.pipeline.rebuild_state_machine)
    assert rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["FAILED", "TIMED_OUT", "ABORTED"],
                   "stateMachineArn": [{"Ref": machine}, {"Ref": rebuild}]},
    }
    (target,) = rule["Targets"]
    notifier = synthesized.logical_id(synthesized.stack.run_alerts.notifier.function)
    assert target["Arn"] == {"Fn::GetAtt": [notifier, "Arn"]}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 6 * 3600}
    assert "Input" not in target
    assert "InputTransformer" not in target


def test_eventbridge_may_invoke_the_notifier_from_this_rule_only(synthesized):
    notifier = synthesized.logical_id(synthesized.stack.run_alerts.notifier.function)
    rule = synthesized.logical_id(synthesized.stack.run_alerts.rule)
    (permission,) = synthesized.resources("AWS::Lambda::Permission").values()
    assert permission["Properties"] == {
        "Action": "lambda:InvokeFunction",
        "FunctionName": {"Fn::GetAtt": [notifier, "Arn"]},
        "Principal": "events.amazonaws.com",
        "SourceArn": {"Fn::GetAtt": [rule, "Arn"]},
    }


def test_the_notifier_knows_the_topic_the_environment_and_each_tasks_log_group(synthesized):
    stack = synthesized.stack
    function = synthesized.resource(stack.run_alerts.notifier.function)["Properties"]
    variables = function["Environment"]["Variables"]
    assert function["Handler"] == "lambdas.notify.handler.handler"
    assert variables[Env.ALERT_TOPIC_ARN] == {"Ref": synthesized.logical_id(stack.alerts.topic)}
    assert variables[Env.ENV_NAME] == "dev"
    log_groups = "".join(part if isinstance(part, str) else f"<{part['Ref']}>"
                         for part in variables[Env.STATE_LOG_GROUPS]["Fn::Join"][1])
    pipeline = stack.pipeline
    assert log_groups == (
        "{" + ",".join(f'"{state}":"<{synthesized.logical_id(stage.log_group)}>"' for state, stage in (
            (States.EXTRACT, pipeline.extract), (States.TRANSFORM, pipeline.transform), (States.LOAD, pipeline.load),
            (States.ADVANCE_WATERMARK, pipeline.advance_watermark), (RebuildStates.PLAN, pipeline.rebuild),
            (RebuildStates.PREPARE_SCHEMA, pipeline.load), (RebuildStates.TRANSFORM_RUNS, pipeline.transform),
            (RebuildStates.LOAD_RUNS, pipeline.load), (RebuildStates.SWAP_IN, pipeline.load))) + "}"
    )
