"""Ingress: the webhooks on the HTTP API (the default) or on the receiver's function URL, with
the same contract (docs/operations.md, "Ingress")."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from localaws.emulation import REGION, Deployment
from localaws.template import Template
from tests.support.events import TOKEN, as_function_url, body_of, load_event, with_token
from tests.support.stack import Invoke, arrived_now, queued_messages

WEBHOOK_OUTPUTS = ("CallStatusWebhookUrl", "CallScheduleWebhookUrl", "CampaignStatusWebhookUrl")


def outputs() -> dict[str, str]:
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    [described] = cloudformation.describe_stacks()["Stacks"]  # the one stack in the account
    return {output["OutputKey"]: output["OutputValue"] for output in described["Outputs"]}


def policy_statements(function_name: str) -> list[dict[str, Any]]:
    policy = boto3.client("lambda", region_name=REGION).get_policy(FunctionName=function_name)
    statements: list[dict[str, Any]] = json.loads(policy["Policy"])["Statement"]
    return statements


def test_by_default_webhooks_arrive_through_the_http_api(stack: Deployment) -> None:
    # Given the stack deployed with its defaults
    found = outputs()

    # Then the campaigns are given the API's URLs, and the receiver has no function URL
    assert all(".execute-api." in found[name] for name in WEBHOOK_OUTPUTS)
    functions = boto3.client("lambda", region_name=REGION)
    with pytest.raises(functions.exceptions.ResourceNotFoundException):
        functions.get_function_url_config(FunctionName=stack.physical_id("ReceiverFunction"))


@pytest.mark.stack_parameters(Ingress="FunctionUrl", ReceiverReservedConcurrency="10")
def test_function_url_ingress_gives_the_campaigns_the_receivers_public_url(
    stack: Deployment,
) -> None:
    # Given the stack deployed with Ingress FunctionUrl and a cap on the receiver
    receiver = stack.physical_id("ReceiverFunction")
    functions = boto3.client("lambda", region_name=REGION)

    # Then the receiver has a public function URL, and the webhook outputs are on it
    url = functions.get_function_url_config(FunctionName=receiver)
    assert url["AuthType"] == "NONE"
    host = url["FunctionUrl"].split("/")[2]
    found = outputs()
    assert found["CallStatusWebhookUrl"] == f"https://{host}/webhooks/exotel/call-status"
    assert all(
        found[name].startswith(f"https://{host}/webhooks/exotel/") for name in WEBHOOK_OUTPUTS
    )
    # the read API stays on the HTTP API, behind SigV4
    assert ".execute-api." in found["ReadApiBaseUrl"]
    # public as AWS requires since October 2025: both permissions, each only via the URL
    statements = policy_statements(receiver)
    assert {
        (s["Action"], s.get("FunctionUrlAuthType"), s.get("InvokedViaFunctionUrl"))
        for s in statements
        if s["Principal"] == "*"
    } == {("lambda:InvokeFunctionUrl", "NONE", None), ("lambda:InvokeFunction", None, True)}
    # and the API's throttle becomes the receiver's reserved concurrency
    concurrency = functions.get_function_concurrency(FunctionName=receiver)
    assert concurrency["ReservedConcurrentExecutions"] == 10


@pytest.mark.stack_parameters(Ingress="FunctionUrl", ReceiverReservedConcurrency="10")
def test_a_webhook_through_the_function_url_is_accepted_and_queued(
    stack: Deployment, receiver: Invoke
) -> None:
    # Given a call status callback as the function URL delivers it
    event = arrived_now(load_event("receiver/call-status-function-url.json"))

    # When the deployed receiver gets it with the stack's token
    response = receiver(with_token(event, TOKEN))

    # Then it is accepted and on the call-status queue, as through the API
    assert response["statusCode"] == 200
    assert body_of(response)["status"] == "accepted"
    [message] = queued_messages(stack, "CallStatusQueue")
    assert json.loads(message["Body"])["callback"]["call_sid"] == "call_def456"


@pytest.mark.stack_parameters(Ingress="FunctionUrl", ReceiverReservedConcurrency="10")
def test_a_request_without_the_token_is_refused_at_the_function_url(
    stack: Deployment, receiver: Invoke
) -> None:
    event = as_function_url(load_event("receiver/no-secret.json"))
    assert receiver(event)["statusCode"] == 401
    assert queued_messages(stack, "CallStatusQueue") == []


def evaluate(expression: Any, parameters: dict[str, str]) -> Any:
    """CloudFormation's rule functions this template's rules use, as CloudFormation reads them."""
    if isinstance(expression, dict):
        [(function, argument)] = expression.items()
        if function == "Ref":
            return parameters[argument]
        if function == "Fn::Equals":
            left, right = (evaluate(side, parameters) for side in argument)
            return str(left) == str(right)
        if function == "Fn::Not":
            return not evaluate(argument[0], parameters)
        raise ValueError(function)
    return expression


@pytest.mark.parametrize(
    ("ingress", "cap", "allowed"),
    [("HttpApi", "0", True), ("FunctionUrl", "0", False), ("FunctionUrl", "10", True)],
)
def test_a_function_url_without_a_concurrency_cap_is_refused(
    template: Template, ingress: str, cap: str, allowed: bool
) -> None:
    # Given the template's rule on the function URL's cap
    rule = template.sam["Rules"]["FunctionUrlNeedsAConcurrencyCap"]
    parameters = {"Ingress": ingress, "ReceiverReservedConcurrency": cap}

    # When CloudFormation checks a deployment's parameters against it
    applies = evaluate(rule["RuleCondition"], parameters)
    passes = all(evaluate(a["Assert"], parameters) for a in rule["Assertions"])

    # Then only a public URL without a cap is refused
    assert (not applies or passes) is allowed


def test_the_function_urls_5xx_answers_raise_an_alarm(template: Template) -> None:
    # Given the alarm the function URL ingress adds (the API's 5xx alarm sees none of its requests)
    alarm = template.resources["ReceiverUrl5xxAlarm"]
    properties = alarm["Properties"]

    # Then it exists only with that ingress, and watches the receiver's URL answers
    assert alarm["Condition"] == "WebhooksOnFunctionUrl"
    assert (properties["Namespace"], properties["MetricName"]) == ("AWS/Lambda", "Url5xxCount")
    assert properties["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": "ReceiverFunction"}}
    ]
