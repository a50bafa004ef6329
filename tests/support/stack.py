"""The stack tier's helpers and fixtures: the template deployed into moto, and functions loaded
with its environment (registered by tests/stack/conftest.py)."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from localaws.emulation import REGION, Deployment, deploy, emulated_account_environment
from localaws.runtime import LocalLambdaContext, function_environment, load_handler
from localaws.template import Template
from tests.support.events import ROTATED_TOKEN, TOKEN
from tests.support.report_server import ReportServer, serve

if TYPE_CHECKING:
    from tests.support.pipeline import Pipeline


# Powertools reads these when the shared package is first imported, before any function's
# environment is applied; the template gives every function the same values.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "exotel-webhooks-local")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ExotelWebhooks")

_module_names = count()


@pytest.fixture(scope="session")
def template() -> Template:
    return Template.load()


@pytest.fixture(scope="session")
def cloudformation(template: Template) -> dict[str, Any]:
    """The CloudFormation `sam deploy` would create from template.yaml."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        return template.to_cloudformation("code-bucket", {})


@pytest.fixture
def stack(template: Template, request: pytest.FixtureRequest) -> Iterator[Deployment]:
    """A fresh emulated account holding the whole stack, with two valid webhook tokens
    (or those a `webhook_tokens` marker names), deployed with the template's parameters'
    defaults (or those a `stack_parameters` marker sets)."""
    marker = request.node.get_closest_marker("webhook_tokens")
    tokens = marker.args if marker else (TOKEN, ROTATED_TOKEN)
    parameters = request.node.get_closest_marker("stack_parameters")
    with emulated_account_environment(), mock_aws(), pytest.MonkeyPatch.context() as patch:
        deployment = deploy(
            template, webhook_tokens=tokens, parameters=parameters.kwargs if parameters else None
        )
        # what tests that reach the table themselves hash numbers with, as its functions do
        receiver = deployment.functions["ReceiverFunction"].environment
        patch.setenv("NUMBER_HASH_KEY", receiver["NUMBER_HASH_KEY"])
        yield deployment


type Invoke = Callable[[dict[str, Any]], dict[str, Any]]
type LoadFunction = Callable[..., Invoke]


@dataclass
class AwsCalls:
    """Every AWS call the functions make (service, operation, parameters), and faults to
    inject: `fail_next` answers the next call of an operation with an error, `before_next`
    runs an action (a competing writer, say) just before it."""

    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)  # indexes in `calls` answered with a fault
    planned: dict[str, list[dict[str, Any] | Callable[[], object]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def of(self, operation: str, succeeded: bool = False) -> list[dict[str, Any]]:
        return [
            params
            for index, (_, name, params) in enumerate(self.calls)
            if name == operation and not (succeeded and index in self.failed)
        ]

    def count(self, service: str) -> Counter[str]:
        return Counter(name for called, name, _ in self.calls if called == service)

    def fail_next(self, operation: str, code: str, **details: Any) -> None:
        self.planned[operation].append({"Error": {"Code": code, "Message": "injected"}, **details})

    def before_next(self, operation: str, action: Callable[[], object]) -> None:
        self.planned[operation].append(action)

    def _record(self, params: dict[str, Any], event_name: str, **kwargs: Any) -> None:
        _, service, operation = event_name.split(".")
        self.calls.append((service, operation, _snapshot(params)))

    def _before_call(self, event_name: str, **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        operation = event_name.rsplit(".", 1)[1]
        if not self.planned[operation]:
            return None
        plan = self.planned[operation].pop(0)
        if callable(plan):
            plan()
            return None
        self.failed.add(len(self.calls) - 1)  # provide-client-params recorded this call just now
        return AWSResponse("https://injected", 400, {}, None), plan  # type: ignore[arg-type]


def _snapshot(params: dict[str, Any]) -> dict[str, Any]:
    """A copy of the call's parameters that later changes cannot alter; streams (an upload
    part's body) are kept by reference, since they cannot be copied."""
    snapshot = {}
    for name, value in params.items():
        try:
            snapshot[name] = copy.deepcopy(value)
        except TypeError:
            snapshot[name] = value
    return snapshot


@pytest.fixture
def aws_calls(stack: Deployment) -> Iterator[AwsCalls]:
    """Hooks on boto3's default session, so every client a function creates carries them."""
    recorder = AwsCalls()
    boto3.setup_default_session(region_name=REGION)
    session_events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
    session_events.register("provide-client-params", recorder._record)
    session_events.register("before-call", recorder._before_call)  # type: ignore[arg-type]
    yield recorder
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def load_function(
    template: Template, stack: Deployment, aws_calls: AwsCalls, monkeypatch: pytest.MonkeyPatch
) -> LoadFunction:
    """Import a function afresh (new container: cold start, empty caches) with its environment."""

    def load(logical_id: str, **environment_overrides: str) -> Invoke:
        environment = {**function_environment(stack, logical_id), **environment_overrides}
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        handler = load_handler(template, stack, logical_id, f"{logical_id}_{next(_module_names)}")
        context = LocalLambdaContext(
            stack.physical_id(logical_id),
            timeout_seconds=stack.functions[logical_id].timeout_seconds,
        )
        return lambda event: handler(event, context)

    return load


@pytest.fixture
def receiver(load_function: LoadFunction) -> Invoke:
    return load_function("ReceiverFunction")


@pytest.fixture
def report_server() -> Iterator[ReportServer]:
    """Report hosts on loopback (the test sets each path's behaviour)."""
    state = ReportServer()
    httpd = serve(state)
    yield state
    httpd.shutdown()


@pytest.fixture
def pipeline(
    load_function: LoadFunction,
    stack: Deployment,
    log_output: io.StringIO,
    report_server: ReportServer,
) -> Iterator[Pipeline]:
    """Every function of the stack, fed as Lambda feeds them (tests/support/pipeline.py)."""
    from tests.support.pipeline import Pipeline  # noqa: PLC0415 - it imports this module

    pipeline = Pipeline(load_function, stack, log_output, report_server)
    yield pipeline
    pipeline.close()


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Every line the functions log (Powertools JSON), as the Lambda runtime would ship it."""
    from exotel_webhooks.observability import logger  # noqa: PLC0415 - after the environment is set

    buffer = io.StringIO()
    handlers = logging.getLogger(logger.service).handlers
    streams = [
        handler.setStream(buffer)
        for handler in handlers
        if isinstance(handler, logging.StreamHandler)
    ]
    yield buffer
    for handler, stream in zip(handlers, streams, strict=False):
        if isinstance(handler, logging.StreamHandler) and stream is not None:
            handler.setStream(stream)


def arrived_now(event: dict[str, Any]) -> dict[str, Any]:
    """The event stamped as API Gateway would stamp it now (the samples are from 2024)."""
    event["requestContext"] = {**event["requestContext"], "timeEpoch": int(time.time() * 1000)}
    return event


def queued_messages(stack: Deployment, queue_logical_id: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    response: dict[str, Any] = sqs.receive_message(  # type: ignore[assignment]
        QueueUrl=stack.physical_id(queue_logical_id),
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )
    messages: list[dict[str, Any]] = response.get("Messages", [])
    return messages


def quarantined_objects(stack: Deployment) -> dict[str, dict[str, Any]]:
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.physical_id("QuarantineBucket")
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {
        item["Key"]: json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
        for item in listing
    }
