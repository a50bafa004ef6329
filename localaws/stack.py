"""`make local`: the whole pipeline on this machine, without Docker or an AWS account.

template.yaml is deployed into an AWS emulation (moto's server on loopback, or AWS_ENDPOINT);
the HTTP API routes of the template are served on 127.0.0.1:$PORT (or BIND_ADDRESS: Docker's
bridge, for `sam local` containers to reach the emulated AWS) as API Gateway (payload 2.0)
events for the real handlers; each SQS event source mapping of the template runs like Lambda's
(batch size and window, ReportBatchItemFailures, the queue's visibility timeout and redrive).
EventBridge events the functions publish are printed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import os
import queue
import signal
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3

from localaws import moto_patches
from localaws.emulation import (
    DEFAULT_WEBHOOK_TOKEN,
    EMULATED_ACCOUNT_ENVIRONMENT,
    LOCAL_STATE,
    REGION,
    STACK_NAME,
    Deployment,
    Schedule,
    StreamSource,
    bus_event,
    deploy,
)
from localaws.event_sources import poll_once
from localaws.http_api import Route, handler_class
from localaws.log_shipping import LogShipper
from localaws.net import free_port
from localaws.runtime import LocalLambdaContext, function_environment, load_handler
from localaws.streams import StreamPoller, streams_client
from localaws.template import Template

HTTP_CONTAINERS = 4
# What differs from AWS, and only here: printed at start.
LOCAL_RELAXATIONS = (
    "report URLs may use http:// and loopback addresses (REPORT_URL_ALLOW_LOOPBACK=true)",
    "the read API (GET /campaigns/...) needs no IAM signature on loopback",
    "sweeps are on, with EXOTEL_API_KEY/TOKEN/ACCOUNT_SID (default: make demo SWEEP=1's), and "
    "EXOTEL_API_URL may be http:// on loopback (with it, CallDetails is on too)",
)


@dataclass
class LocalStack:
    template: Template
    deployment: Deployment
    endpoint: str
    containers: dict[str, queue.Queue[Callable[[Any, Any], Any]]]
    routes: list[Route]
    events: list[dict[str, Any]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    quiet: bool = False
    logs: LogShipper | None = None

    def invoke(self, function: str, event: dict[str, Any]) -> Any:  # noqa: ANN401
        """Each warm container serves one invocation at a time, as in Lambda."""
        handler = self.containers[function].get()
        context = LocalLambdaContext(
            self.deployment.physical_id(function),
            timeout_seconds=self.deployment.functions[function].timeout_seconds,
            log_group_name=self.deployment.physical_id(self.template.log_group_of(function)),
        )
        try:
            with self.logs.invoking(function) if self.logs else contextlib.nullcontext():
                return handler(event, context)
        finally:
            self.containers[function].put(handler)

    def route(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self.routes:
            match = route.pattern.match(path)
            if match and route.method == method:
                return route, match.groupdict()
        return None

    def poll_forever(self, function: str) -> None:
        source = self.deployment.event_source_of(function)
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=self.endpoint)
        while not self.stopping.is_set():
            try:
                poll_once(
                    sqs,
                    source,
                    lambda event: self.invoke(function, event),
                    # a 1 s long poll whatever the batching window (60 s for call details,
                    # past SQS's 20 s): stopping the stack never waits out a longer one
                    wait_seconds=LOCAL_POLL_SECONDS,
                )
            except Exception as error:
                self.fault(f"poller {function}: {type(error).__name__}: {error}")
                time.sleep(1)

    def stream_forever(self, source: StreamSource) -> None:
        dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=self.endpoint)
        table = dynamodb.describe_table(TableName=self.deployment.physical_id(source.table))
        poller = StreamPoller(
            streams_client(self.endpoint),
            table["Table"]["LatestStreamArn"],
            source,
            lambda event: self.invoke(source.function, event),
        )
        while not self.stopping.is_set():
            try:
                if not poller.poll():
                    time.sleep(0.2)
            except Exception as error:
                self.fault(f"stream {source.function}: {type(error).__name__}: {error}")
                time.sleep(1)

    def schedule_forever(self, schedule: Schedule) -> None:
        """Invoke the function at its EventBridge rule's rate (the first run one period after
        start)."""
        while not self.stopping.wait(schedule.every_seconds):
            try:
                self.say(f"schedule {schedule.function}: {self.fire(schedule)}")
            except Exception as error:
                self.say(f"schedule {schedule.function}: {type(error).__name__}: {error}")

    def fire(self, schedule: Schedule) -> Any:  # noqa: ANN401 - the function's answer
        """One scheduled invocation, with the event EventBridge sends."""
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "detail": {},
        }
        return self.invoke(schedule.function, event)

    def deliver(self, function: str, event: dict[str, Any]) -> None:
        """An event a rule sends to a function (asynchronously, as EventBridge does)."""
        try:
            self.say(f"rule -> {function}: {self.invoke(function, event)}")
        except Exception as error:  # EventBridge retries; here it is said, not retried
            self.say(f"rule -> {function}: {type(error).__name__}: {error}")

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, file=sys.stderr, flush=True)

    def fault(self, line: str) -> None:
        """A poller that cannot poll is said even when quiet (not while stopping)."""
        if not self.stopping.is_set():
            print(line, file=sys.stderr, flush=True)


def start(
    port: int = 3000,
    tokens: tuple[str, ...] = (DEFAULT_WEBHOOK_TOKEN,),
    endpoint: str | None = None,
    *,
    quiet: bool = False,
    log_level: str | None = None,
    bind: str = "127.0.0.1",
) -> tuple[LocalStack, ThreadingHTTPServer, Callable[[], None]]:
    """Deploy, load the functions, start the pollers and the HTTP server; returns a stopper."""
    os.environ.update(EMULATED_ACCOUNT_ENVIRONMENT)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request
    moto_server = None
    if endpoint is None:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415

        moto_patches.apply()
        moto_port = free_port(bind)
        moto_server = ThreadedMotoServer(ip_address=bind, port=moto_port, verbose=False)
        moto_server.start()
        endpoint = f"http://{bind}:{moto_port}"
    os.environ["AWS_ENDPOINT_URL"] = endpoint  # every client the functions create
    template = Template.load()
    # The template's parameters unless these variables override them (as
    # `sam deploy --parameter-overrides` would): locally callbacks are processed at a few per
    # second, so a short report delay lets a report be reconciled before they are all stored,
    # and a short sweep period shows a sweep without waiting a quarter of an hour.
    overrides = {
        "ReportFetchDelaySeconds": "REPORT_FETCH_DELAY_SECONDS",
        "SweepEveryMinutes": "SWEEP_EVERY_MINUTES",
        "SweepQuietMinutes": "SWEEP_QUIET_MINUTES",
        "SilentCampaignMinutes": "SILENT_CAMPAIGN_MINUTES",
        "SilenceCheckEveryMinutes": "SILENCE_CHECK_EVERY_MINUTES",
    }
    parameters = {name: os.environ[var] for name, var in overrides.items() if os.environ.get(var)}
    if os.environ.get("EXOTEL_API_URL"):  # an Exotel API to ask: each call's details too
        parameters["CallDetails"] = "true"
    deployment = deploy(
        template, webhook_tokens=tokens, endpoint_url=endpoint, parameters=parameters
    )
    events: list[dict[str, Any]] = []
    routes = _routes(template)
    stack = LocalStack(template, deployment, endpoint, {}, routes, events, quiet=quiet)
    _show_published_events(stack)
    served = {route.function for route in routes}
    for function in deployment.functions:
        environment = function_environment(deployment, function)
        environment |= _local_relaxations(function, environment)
        if log_level:  # Powertools prefers Lambda's own level (LoggingConfig) to its own
            environment["POWERTOOLS_LOG_LEVEL"] = environment["AWS_LAMBDA_LOG_LEVEL"] = log_level
        os.environ.update(environment)
        # HTTP-facing functions get a few containers (API Gateway invokes them concurrently);
        # queue consumers one each, polled by one mapping.
        stack.containers[function] = queue.Queue()
        for index in range(HTTP_CONTAINERS if function in served else 1):
            alias = f"local_{function}_{index}"
            stack.containers[function].put(load_handler(template, deployment, function, alias))
    stack.logs = _ship_logs(stack)
    pollers = _background_threads(stack, stack.logs)
    for poller in pollers:
        poller.start()
    httpd = ThreadingHTTPServer((bind, port), handler_class(stack))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()

    def stop() -> None:
        stack.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        for poller in pollers:
            poller.join(timeout=25)
        if stack.logs:
            stack.logs.release_prints()
        if moto_server is not None:
            moto_server.stop()
            _forget_emulated_state()

    return stack, httpd, stop


def _background_threads(stack: LocalStack, logs: LogShipper) -> list[threading.Thread]:
    """The event source mappings' pollers, the schedules (with a Campaign API to sweep) and
    the log shipper."""
    pollers = [
        threading.Thread(target=stack.poll_forever, args=(source.function,), daemon=True)
        for source in stack.deployment.event_sources
    ]
    pollers += [
        threading.Thread(target=stack.stream_forever, args=(source,), daemon=True)
        for source in stack.deployment.stream_sources
    ]
    pollers += [
        threading.Thread(target=stack.schedule_forever, args=(schedule,), daemon=True)
        for schedule in scheduled(stack.deployment)
    ]
    pollers.append(threading.Thread(target=logs.ship_forever, args=(stack.stopping,)))
    return pollers


def scheduled(deployment: Deployment) -> list[Schedule]:
    """The schedules the local stack runs: a sweep only with a Campaign API to ask
    (EXOTEL_API_URL: there is no internet here), the silence watch always."""
    exotel = bool(os.environ.get("EXOTEL_API_URL"))
    return [
        schedule
        for schedule in deployment.schedules
        if exotel or not _asks_exotel(deployment, schedule.function)
    ]


def _asks_exotel(deployment: Deployment, function: str) -> bool:
    return "EXOTEL_API_HOST" in function_environment(deployment, function)


def _ship_logs(stack: LocalStack) -> LogShipper:
    """The functions' log lines (Powertools JSON, as printed) also go to their log groups."""
    from exotel_webhooks.observability import logger  # noqa: PLC0415 - after the functions load

    # The in-process containers share one metrics object; Lambda never runs two invocations in
    # one process, so this warning is an artefact of the local stack only.
    warnings.filterwarnings("ignore", message="Dimension .* has already been added")
    shipper = LogShipper(
        boto3.client("logs", region_name=REGION, endpoint_url=stack.endpoint),
        {
            function: stack.deployment.physical_id(stack.template.log_group_of(function))
            for function in stack.deployment.functions
        },
    )
    shipper.setFormatter(logger.registered_handler.formatter)
    logging.getLogger(logger.service).addHandler(shipper)
    shipper.capture_prints()
    return shipper


def _forget_emulated_state() -> None:
    """The embedded emulator keeps its accounts in this process: empty them, so a stack started
    later in the same process (a test, say) begins from nothing, as `make local` does."""
    from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415

    moto_api_backend.reset()


LOCAL_POLL_SECONDS = 1
SIMULATED_API_REQUESTS_PER_MINUTE = "60000"  # the simulator has no limit: pace it lightly


def _local_relaxations(function: str, environment: dict[str, str]) -> dict[str, str]:
    if "EXOTEL_API_HOST" in environment and (url := os.environ.get("EXOTEL_API_URL")):
        # a simulated Campaign API on loopback (make sweep LOCAL=1 takes the same variable),
        # with no account's limit to keep to
        return {
            "EXOTEL_API_HOST": urlsplit(url).netloc,
            "EXOTEL_API_ALLOW_LOOPBACK": "true",
            "EXOTEL_API_REQUESTS_PER_MINUTE": SIMULATED_API_REQUESTS_PER_MINUTE,
        }
    if "REPORT_URL_ALLOWED_HOSTS" not in environment:
        return {}
    hosts = os.environ.get("REPORT_URL_ALLOWED_HOSTS_LOCAL") or (
        f"{environment['REPORT_URL_ALLOWED_HOSTS']},127.0.0.1,localhost"
    )
    return {"REPORT_URL_ALLOW_LOOPBACK": "true", "REPORT_URL_ALLOWED_HOSTS": hosts}


def _routes(template: Template) -> list[Route]:
    return [
        Route.of(event["Properties"]["Method"], event["Properties"]["Path"], logical_id)
        for logical_id, function in template.resources_of_type("AWS::Serverless::Function").items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    ]


def _show_published_events(stack: LocalStack) -> None:
    """The functions' EventBridge events, printed as they are published (and kept)."""
    boto3.setup_default_session(region_name=REGION)
    if boto3.DEFAULT_SESSION is None:
        raise RuntimeError("boto3 has no default session")

    def published(params: dict[str, Any], **_: Any) -> None:  # noqa: ANN401
        for entry in params.get("Entries", []):
            event = {"detail-type": entry["DetailType"], "detail": json.loads(entry["Detail"])}
            stack.events.append(event)
            stack.say(f"event {entry['DetailType']}: {entry['Detail']}")
            for rule in stack.deployment.event_rules:  # as EventBridge invokes its targets
                if rule.matches(entry["Source"], entry["DetailType"]):
                    threading.Thread(
                        target=stack.deliver,
                        args=(
                            rule.function,
                            bus_event(entry["Source"], entry["DetailType"], event["detail"]),
                        ),
                        daemon=True,
                    ).start()

    boto3.DEFAULT_SESSION.events.register("provide-client-params.events.PutEvents", published)


def refused_bind_address(address: str) -> str | None:
    """Why the stack may not listen on `address`, or None. The emulator holds the webhook token
    and the read API is unsigned here: loopback or a private network (Docker's bridge) only."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if ip.is_unspecified:
        return "every interface: the emulator (and its webhook token) would face the network"
    if not (ip.is_loopback or ip.is_private):
        return "a public address: the emulator (and its webhook token) would face the internet"
    return None


def main() -> int:
    port = int(os.environ.get("PORT", "3000"))
    token = os.environ.get("WEBHOOK_TOKEN", DEFAULT_WEBHOOK_TOKEN)
    endpoint = os.environ.get("AWS_ENDPOINT") or None
    bind = os.environ.get("BIND_ADDRESS") or "127.0.0.1"
    if refused := refused_bind_address(bind):
        print(f"BIND_ADDRESS {bind}: {refused}", file=sys.stderr)
        return 2
    stack, _, stop = start(port, tuple(token.split(",")), endpoint, bind=bind)
    base = f"http://{bind}:{port}"
    print(f"AWS emulation: {stack.endpoint}", flush=True)
    print(f"webhook secret (WEBHOOK_TOKEN): {token}", flush=True)
    for route in stack.routes:
        if route.method == "POST":
            print(f"  {route.method} {base}{route.template_path}?token={token}", flush=True)
        else:
            print(f"  {route.method} {base}{route.template_path}", flush=True)
    print("local-only relaxations:", flush=True)
    for relaxation in LOCAL_RELAXATIONS:
        print(f"  - {relaxation}", flush=True)
    write_state(stack, base, token)
    print(f"operations: make logs|redrive|quarantine|replay LOCAL=1 (state in {LOCAL_STATE})")
    running = scheduled(stack.deployment)
    for schedule in stack.deployment.schedules:
        every = f"every {schedule.every_seconds // 60} min"
        if schedule not in running:
            print(f"{schedule.function}: not scheduled (set EXOTEL_API_URL to a Campaign API)")
        elif _asks_exotel(stack.deployment, schedule.function):
            print(f"{schedule.function}: {every} against {os.environ['EXOTEL_API_URL']}")
        else:
            print(f"{schedule.function}: {every}")
    print(f"ready {base}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    print("stopping", flush=True)
    LOCAL_STATE.unlink(missing_ok=True)
    stop()
    return 0


def write_state(stack: LocalStack, base_url: str, token: str, path: Path = LOCAL_STATE) -> None:
    """Where the operations commands find this stack (`--local`)."""
    path.parent.mkdir(exist_ok=True)
    state = {
        "stack_name": STACK_NAME,
        "region": REGION,
        "endpoint": stack.endpoint,
        "base_url": base_url,
        "tokens": token.split(","),
    }
    path.write_text(json.dumps(state, indent=2))


if __name__ == "__main__":
    sys.exit(main())
