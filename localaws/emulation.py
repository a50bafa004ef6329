"""Deploy template.yaml into an emulated AWS account (moto) and read the deployment back.

The stack is created by moto's CloudFormation from the translated template, so the queues,
buckets and functions (with their resolved environments) are exactly what the template says.
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import boto3

from localaws import moto_patches
from localaws.template import PROJECT_ROOT, Template

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

STACK_NAME = "exotel-webhooks-local"
REGION: Final = "ap-south-1"
CODE_BUCKET = "exotel-webhooks-local-code"
DEFAULT_WEBHOOK_TOKEN = "local-dev-token"  # noqa: S105 - the documented local-only secret
# Written by `make local` while it runs: where its emulated AWS answers, and the webhook tokens
# (the operations commands read it for LOCAL=1).
LOCAL_STATE = PROJECT_ROOT / ".local" / "stack.json"

# What the emulated account needs before anything else: fake credentials and a region, so no
# request can ever reach a real AWS account from here.
EMULATED_ACCOUNT_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass(frozen=True)
class DeployedFunction:
    logical_id: str
    handler: str
    environment: dict[str, str]
    timeout_seconds: int = 3  # Lambda's default; the template sets each function's
    # What Lambda itself adds to the environment for the function's LoggingConfig (moto keeps
    # no LoggingConfig): AWS_LAMBDA_LOG_FORMAT and AWS_LAMBDA_LOG_LEVEL, which Powertools reads.
    runtime_environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EventSource:
    """An SQS event source mapping, as the template configured it."""

    function: str  # logical id
    queue_arn: str
    queue_url: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event source mapping (tumbling windows), as the template configured it."""

    function: str  # logical id
    table: str  # logical id
    batch_size: int
    window_seconds: int


@dataclass(frozen=True)
class Schedule:
    """A scheduled EventBridge rule invoking a function (`rate(N minutes)`), as deployed."""

    function: str  # logical id
    every_seconds: int


@dataclass(frozen=True)
class EventRule:
    """An EventBridge rule on the stack's bus that invokes one of its functions."""

    function: str  # logical id
    detail_types: tuple[str, ...]
    source: tuple[str, ...]

    def matches(self, source: str, detail_type: str) -> bool:
        return source in self.source and detail_type in self.detail_types


def bus_event(source: str, detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The event EventBridge hands a rule's Lambda target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


@dataclass(frozen=True)
class Deployment:
    """What the emulated stack holds: physical resource ids and the functions' settings."""

    resources: dict[str, str]
    functions: dict[str, DeployedFunction]
    webhook_tokens: tuple[str, ...]
    event_sources: tuple[EventSource, ...] = ()
    stream_sources: tuple[StreamSource, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    event_rules: tuple[EventRule, ...] = ()

    def event_source_of(self, function: str) -> EventSource:
        return next(source for source in self.event_sources if source.function == function)

    def physical_id(self, logical_id: str) -> str:
        return self.resources[logical_id]


@contextmanager
def emulated_account_environment() -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in EMULATED_ACCOUNT_ENVIRONMENT}
    os.environ.update(EMULATED_ACCOUNT_ENVIRONMENT)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def deploy(
    template: Template | None = None,
    webhook_tokens: tuple[str, ...] = (DEFAULT_WEBHOOK_TOKEN,),
    parameters: dict[str, str] | None = None,
    endpoint_url: str | None = None,
) -> Deployment:
    """Create the stack in the emulated account (moto must be active, or `endpoint_url` set)."""
    template = template or Template.load()
    moto_patches.apply()
    moto_patches.quiet_unsupported_resources()
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint_url)
    s3.create_bucket(Bucket=CODE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    for code in template.local_code():
        s3.put_object(Bucket=CODE_BUCKET, Key=code.s3_key, Body=_placeholder_zip())

    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint_url)
    cfn = template.to_cloudformation(CODE_BUCKET, {})
    stream_sources = _take_out_stream_sources(cfn)
    event_rules = _take_out_event_rules(cfn)
    parameters = {**_exotel_api_secret(cfn, parameters or {}, endpoint_url), **(parameters or {})}
    cloudformation.create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(cfn),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    resources = _stack_resources(cloudformation)
    secrets = _seed_secrets(cfn, resources, webhook_tokens, endpoint_url)
    resources.update(secrets)
    functions = _deployed_functions(cfn, resources, endpoint_url)
    return Deployment(
        resources=resources,
        functions=functions,
        webhook_tokens=webhook_tokens,
        event_sources=_take_over_event_sources(cfn, resources, endpoint_url),
        stream_sources=stream_sources,
        schedules=_schedules(resources, endpoint_url),
        event_rules=event_rules,
    )


def _placeholder_zip() -> bytes:
    """The functions run in-process from the checkout; the emulated Lambda only needs a zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "code runs from the checkout")
    return buffer.getvalue()


def attach(template: Template, endpoint_url: str) -> Deployment:
    """The stack `make local` deployed at `endpoint_url`, as a Deployment: a function run
    against it reads and writes that stack's data (`make invoke LOCAL=1`)."""
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint_url)
    cfn = template.to_cloudformation(CODE_BUCKET, {})
    resources = _stack_resources(cloudformation)
    secrets = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint_url)
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] == "AWS::SecretsManager::Secret" and logical_id not in resources:
            name = f"{STACK_NAME}-{logical_id}"  # as _seed_secrets created it
            resources[logical_id] = secrets.describe_secret(SecretId=name)["ARN"]
    return Deployment(
        resources=resources,
        functions=_deployed_functions(cfn, resources, endpoint_url),
        webhook_tokens=(),
    )


def _exotel_api_secret(
    cfn: dict[str, Any], parameters: dict[str, str], endpoint_url: str | None
) -> dict[str, str]:
    """Sweeps are on in every emulation, so the sweep function runs here too: a secret with
    EXOTEL_API_KEY, EXOTEL_API_TOKEN and EXOTEL_ACCOUNT_SID (by default the credentials
    `make demo SWEEP=1`'s simulated Campaign API accepts)."""
    if "ExotelApiSecretArn" not in cfn.get("Parameters", {}) or "ExotelApiSecretArn" in parameters:
        return {}
    value = {
        "api_key": os.environ.get("EXOTEL_API_KEY", "demo-key"),
        "api_token": os.environ.get("EXOTEL_API_TOKEN", "demo-token"),
        "account_sid": os.environ.get("EXOTEL_ACCOUNT_SID", "demo-account"),
    }
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint_url)
    created = client.create_secret(
        Name=f"{STACK_NAME}-ExotelApiSecret", SecretString=json.dumps(value)
    )
    return {"ExotelApiSecretArn": created["ARN"]}


def _stack_resources(cloudformation: CloudFormationClient) -> dict[str, str]:
    paginator = cloudformation.get_paginator("list_stack_resources")
    return {
        summary["LogicalResourceId"]: summary["PhysicalResourceId"]
        for page in paginator.paginate(StackName=STACK_NAME)
        for summary in page["StackResourceSummaries"]
        if summary.get("PhysicalResourceId")
    }


def _seed_secrets(
    cfn: dict[str, Any],
    resources: dict[str, str],
    webhook_tokens: tuple[str, ...],
    endpoint_url: str | None,
) -> dict[str, str]:
    """Secrets generated at deploy time in AWS hold WEBHOOK_TOKEN locally.

    moto's CloudFormation skips AWS::SecretsManager::Secret, so create each one here, with the
    JSON shape its GenerateSecretString describes.
    """
    client = boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint_url)
    created: dict[str, str] = {}
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::SecretsManager::Secret":
            continue
        generate = resource["Properties"].get("GenerateSecretString", {})
        value = json.loads(generate.get("SecretStringTemplate", "{}"))
        key = generate.get("GenerateStringKey", "token")
        value[key] = webhook_tokens[0]
        if webhook_tokens[1:]:  # a rotation in progress (auth.TOKEN_KEYS)
            value["tokens"] = list(webhook_tokens[1:])
        if logical_id in resources:
            client.put_secret_value(SecretId=resources[logical_id], SecretString=json.dumps(value))
        else:
            arn = client.create_secret(
                Name=f"{STACK_NAME}-{logical_id}", SecretString=json.dumps(value)
            )["ARN"]
            created[logical_id] = arn
    return created


def _take_out_stream_sources(cfn: dict[str, Any]) -> tuple[StreamSource, ...]:
    """Remove each DynamoDB stream event source mapping before moto sees it (moto would run the
    function in Docker on every write) and keep what it says: localaws.streams runs them."""
    sources = []
    for logical_id, resource in list(cfn["Resources"].items()):
        properties = resource.get("Properties", {})
        arn = properties.get("EventSourceArn")
        if resource["Type"] != "AWS::Lambda::EventSourceMapping" or not (
            isinstance(arn, dict) and arn.get("Fn::GetAtt", [None, None])[1] == "StreamArn"
        ):
            continue
        del cfn["Resources"][logical_id]
        sources.append(
            StreamSource(
                function=properties["FunctionName"]["Ref"],
                table=arn["Fn::GetAtt"][0],
                batch_size=int(properties.get("BatchSize", 100)),
                window_seconds=int(properties.get("TumblingWindowInSeconds", 0)),
            )
        )
    return tuple(sources)


def _take_out_event_rules(cfn: dict[str, Any]) -> tuple[EventRule, ...]:
    """Remove each rule of an event pattern that invokes a function (and the permission it
    needs) before moto sees it (moto would run the function in Docker), and keep what it says:
    the local stack and the tests deliver the matching events themselves."""
    rules = []
    for logical_id, resource in list(cfn["Resources"].items()):
        properties = resource.get("Properties", {})
        pattern = properties.get("EventPattern")
        if resource["Type"] != "AWS::Events::Rule" or not pattern:
            continue
        for target in properties.get("Targets", []):
            arn = target.get("Arn")
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                rules.append(
                    EventRule(
                        function=arn["Fn::GetAtt"][0],
                        detail_types=tuple(pattern.get("detail-type", [])),
                        source=tuple(pattern.get("source", [])),
                    )
                )
        del cfn["Resources"][logical_id]
        for other_id, other in list(cfn["Resources"].items()):
            source_arn = other.get("Properties", {}).get("SourceArn")
            if other["Type"] == "AWS::Lambda::Permission" and source_arn == {
                "Fn::GetAtt": [logical_id, "Arn"]
            }:
                del cfn["Resources"][other_id]
    return tuple(rules)


def _schedules(resources: dict[str, str], endpoint_url: str | None) -> tuple[Schedule, ...]:
    """The stack's rate rules and the functions they invoke (moto stores them, never fires
    them: localaws.stack does)."""
    events = boto3.client("events", region_name=REGION, endpoint_url=endpoint_url)
    logical_ids = {physical: logical for logical, physical in resources.items()}
    schedules = []
    for rule in events.list_rules()["Rules"]:
        rate = re.fullmatch(r"rate\((\d+) minutes?\)", rule.get("ScheduleExpression", ""))
        if not rate or rule.get("State") != "ENABLED":
            continue
        for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
            function = logical_ids.get(target["Arn"].rsplit(":", 1)[1])
            if function:
                schedules.append(Schedule(function, int(rate.group(1)) * 60))
    return tuple(schedules)


def _take_over_event_sources(
    cfn: dict[str, Any], resources: dict[str, str], endpoint_url: str | None
) -> tuple[EventSource, ...]:
    """Read each SQS event source mapping, then disable it in moto: moto would try to run the
    function in Docker on every message; here the functions run in-process instead."""
    lambda_client = boto3.client("lambda", region_name=REGION, endpoint_url=endpoint_url)
    sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint_url)
    logical_ids = {physical: logical for logical, physical in resources.items()}
    queue_urls = {
        sqs.get_queue_attributes(QueueUrl=resources[logical_id], AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]: resources[logical_id]
        for logical_id, resource in cfn["Resources"].items()
        if resource["Type"] == "AWS::SQS::Queue" and logical_id in resources  # its condition held
    }
    sources = []
    for mapping in lambda_client.list_event_source_mappings()["EventSourceMappings"]:
        queue_arn = mapping["EventSourceArn"]
        if queue_arn not in queue_urls:
            continue
        lambda_client.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)
        sources.append(
            EventSource(
                function=logical_ids[mapping["FunctionArn"].rsplit(":", 1)[1]],
                queue_arn=queue_arn,
                queue_url=queue_urls[queue_arn],
                batch_size=mapping.get("BatchSize", 10),
                report_batch_item_failures="ReportBatchItemFailures"
                in mapping.get("FunctionResponseTypes", []),
            )
        )
    return tuple(sources)


def _deployed_functions(
    cfn: dict[str, Any], resources: dict[str, str], endpoint_url: str | None
) -> dict[str, DeployedFunction]:
    lambda_client = boto3.client("lambda", region_name=REGION, endpoint_url=endpoint_url)
    cloudformation = boto3.client("cloudformation", region_name=REGION, endpoint_url=endpoint_url)
    stack = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    parameters = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
    }
    functions: dict[str, DeployedFunction] = {}
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function" or logical_id not in resources:
            continue  # not a function, or one whose condition is false
        config = lambda_client.get_function_configuration(FunctionName=resources[logical_id])
        variables = config.get("Environment", {}).get("Variables", {})
        environment = {name: str(value) for name, value in variables.items()}
        # An environment variable that refers to a resource moto skipped vanishes: restore it
        # from the resources seeded here.
        declared = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in declared.items():
            if name not in environment and isinstance(value, dict) and "Ref" in value:
                environment[name] = resources[value["Ref"]]
        functions[logical_id] = DeployedFunction(
            logical_id=logical_id,
            handler=config["Handler"],
            environment=environment,
            timeout_seconds=int(config.get("Timeout", 3)),
            runtime_environment=_lambda_log_settings(resource, cfn, parameters),
        )
    return functions


def _lambda_log_settings(
    resource: dict[str, Any], cfn: dict[str, Any], parameters: dict[str, str]
) -> dict[str, str]:
    """The variables Lambda sets for a JSON LoggingConfig (advanced logging controls)."""
    logging_config = resource["Properties"].get("LoggingConfig", {})
    if logging_config.get("LogFormat") != "JSON":
        return {}
    settings = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}
    if "ApplicationLogLevel" in logging_config:
        level = _resolved(logging_config["ApplicationLogLevel"], cfn, parameters)
        settings["AWS_LAMBDA_LOG_LEVEL"] = level
    return settings


def _resolved(value: Any, cfn: dict[str, Any], parameters: dict[str, str]) -> str:  # noqa: ANN401
    """A literal, a parameter's Ref, or a FindInMap over them, as CloudFormation resolves it."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        default = cfn["Parameters"][value["Ref"]].get("Default", "")
        return str(parameters.get(value["Ref"], default))
    mapping, top, second = value["Fn::FindInMap"]
    keys = [_resolved(key, cfn, parameters) for key in (top, second)]
    return str(cfn["Mappings"][mapping][keys[0]][keys[1]])
