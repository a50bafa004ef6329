"""Every function of the stack deployed from template.yaml, fed as Lambda feeds them: the
receiver by API Gateway events, the queue consumers by their event source mappings."""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import boto3

from exotel_webhooks.notifications import EVENT_SOURCE, CampaignEvents
from localaws.emulation import REGION, Deployment, bus_event
from localaws.event_sources import poll_once
from localaws.streams import StreamPoller, run_until_idle, streams_client
from localaws.template import Template
from tests.support.events import TOKEN, http_get, load_event, with_token
from tests.support.report_server import ReportServer, Route
from tests.support.stack import Invoke, LoadFunction, arrived_now

FUNCTIONS = (
    "ReceiverFunction",
    "CallStatusProcessorFunction",
    "CallScheduleProcessorFunction",
    "CampaignStatusProcessorFunction",
    "ReportFetcherFunction",
    "ReadApiFunction",
    "LedgerStreamFunction",
    "SweepFunction",
    "SummaryFunction",
    "AnalyticsStreamFunction",
    "CallDetailsFunction",  # with CallDetails "true" only
    "SilenceWatchFunction",
    "RecordingFunction",  # with KeepRecordings "true" only
)


# The HTTP API's access log, kept under this name beside the functions' lines.
ACCESS_LOG = "ApiAccessLog"


def access_log_format(template: Template) -> str:
    api = template.resources["WebhookApi"]["Properties"]
    return str(api["AccessLogSettings"]["Format"])


def access_log_line(log_format: str, event: dict[str, Any], response: dict[str, Any]) -> Any:
    """The line API Gateway writes for one request: the template's format with the `$context`
    variables of that request (what it answered, as the receiver answered)."""
    context = event["requestContext"]
    values = {
        "requestId": context["requestId"],
        "identity.sourceIp": context["http"]["sourceIp"],
        "identity.userAgent": context["http"].get("userAgent", "-"),
        "routeKey": event["routeKey"],
        "status": str(response["statusCode"]),
        "integrationStatus": str(response["statusCode"]),
        "responseLatency": "12",
        "integrationErrorMessage": "-",
        "error.message": "-",
        "requestTimeEpoch": str(context.get("timeEpoch", 0)),
    }
    line = re.sub(r"\$context\.([\w.]+)", lambda match: values[match.group(1)], log_format)
    return json.loads(line)


class Pipeline:
    """Every function of the stack, fed like Lambda would, with each log line kept by the
    function that wrote it."""

    def __init__(
        self,
        load_function: LoadFunction,
        stack: Deployment,
        log_output: io.StringIO,
        server: ReportServer,
    ) -> None:
        exotel_api = {  # Exotel's APIs are the report server's routes (Pipeline.sweep)
            "EXOTEL_API_HOST": f"127.0.0.1:{server.port}",
            "EXOTEL_API_ALLOW_LOOPBACK": "true",
            "EXOTEL_API_REQUESTS_PER_MINUTE": "60000",  # the report server has no limit
        }
        overrides: dict[str, dict[str, str]] = {
            "CampaignStatusProcessorFunction": {"REPORT_DELAY_SECONDS": "0"},
            "ReportFetcherFunction": {
                "REPORT_URL_ALLOW_LOOPBACK": "true",
                "REPORT_URL_ALLOWED_HOSTS": "127.0.0.1",
            },
            "SweepFunction": exotel_api,
            "CallDetailsFunction": exotel_api,
            "RecordingFunction": exotel_api
            | {
                "RECORDING_URL_ALLOW_LOOPBACK": "true",
                "RECORDING_URL_ALLOWED_HOSTS": "127.0.0.1,localhost",
            },
        }
        self.functions: dict[str, Invoke] = {
            name: load_function(name, **overrides.get(name, {}))
            for name in FUNCTIONS
            if name in stack.functions
        }
        self.stack, self.output, self.server = stack, log_output, server
        self.lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.access_log_format = access_log_format(Template.load())
        self._request_ids = itertools.count(1)
        self.metrics = io.StringIO()  # EMF: what Powertools prints to standard output
        self.sqs = boto3.client("sqs", region_name=REGION)
        # looked up at each call, so a test that wraps invoke sees the stream's calls too
        self.streams = stream_pollers(stack, lambda function, event: self.invoke(function, event))  # noqa: PLW0108
        # events the functions publish, for the rules that send them to functions (drain)
        self.published: list[tuple[str, dict[str, Any]]] = []
        publish_all = self._publish_all = CampaignEvents.publish_all
        recorded = self.published

        def recording(events: CampaignEvents, sent: list[tuple[str, dict[str, Any]]]) -> None:
            publish_all(events, sent)
            recorded.extend(sent)

        CampaignEvents.publish_all = recording  # type: ignore[method-assign,assignment]

    def close(self) -> None:
        CampaignEvents.publish_all = self._publish_all  # type: ignore[method-assign]

    def deliver_events(self) -> int:
        """Each event published since, to the functions whose rules match it, as EventBridge
        invokes them. Returns how many invocations."""
        pending = list(self.published)
        self.published.clear()
        invoked = 0
        for detail_type, detail in pending:
            for rule in self.stack.event_rules:
                if rule.matches(EVENT_SOURCE, detail_type):
                    self.invoke(rule.function, bus_event(EVENT_SOURCE, detail_type, detail))
                    invoked += 1
        return invoked

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        start = len(self.output.getvalue())
        try:
            with contextlib.redirect_stdout(self.metrics):
                return self.functions[function](event)
        finally:
            written = self.output.getvalue()[start:]
            # Lambda ships standard output line by line at "\n" only (not at U+2028 and kin)
            self.lines[function] += [json.loads(raw) for raw in written.split("\n") if raw]

    def webhook(
        self, route: str, fields: dict[str, Any] | str, token: str = TOKEN, method: str = "POST"
    ) -> int:
        return self.send(route, fields, token, method)[0]

    def send(
        self,
        route: str,
        fields: dict[str, Any] | str,
        token: str = TOKEN,
        method: str = "POST",
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, Any]]:
        """The receiver's status and JSON answer to one webhook request."""
        event = with_token(load_event("receiver/call-status.json"), token)
        event["headers"] = {**event["headers"], "content-type": content_type}
        event["routeKey"] = f"{method} /webhooks/exotel/{route}"
        event["requestContext"]["http"]["method"] = method
        event["rawPath"] = event["requestContext"]["http"]["path"] = f"/webhooks/exotel/{route}"
        event["body"] = json.dumps(fields) if isinstance(fields, dict) else fields
        event["requestContext"]["requestId"] = f"req{next(self._request_ids)}"
        arrived_now(event)
        response = self.invoke("ReceiverFunction", event)
        self.lines[ACCESS_LOG] += [access_log_line(self.access_log_format, event, response)]
        answer: dict[str, Any] = json.loads(response["body"])
        return response["statusCode"], answer

    def sweep(
        self, campaign_sid: str, rows: list[dict[str, Any]], status: str = "Completed"
    ) -> Any:
        """The sweep function on one campaign, Exotel's Campaign API answering with `rows`."""
        base = f"/v2/accounts/demo-account/campaigns/{campaign_sid}"
        campaign = {"response": [{"data": {"id": campaign_sid, "status": status,
                    "date_updated": "2026-11-26T18:00:00+05:30"}}]}  # fmt: skip
        page = {"metadata": {"total": len(rows)}, "response": rows}
        for path, body in ((base, campaign), (f"{base}/call-details", page)):
            self.server.routes[path] = Route(
                body=json.dumps(body).encode(), content_type="application/json"
            )
        return self.invoke("SweepFunction", {"campaign_sid": campaign_sid})

    def get(self, path: str) -> dict[str, Any]:
        """The read API's JSON answer (asserted 200)."""
        response = self.invoke("ReadApiFunction", http_get(path))
        assert response["statusCode"] == 200, response["body"]
        body: dict[str, Any] = json.loads(response["body"])
        return body

    def drain(self) -> None:
        """Run the event source mappings until no queue has a visible message and the stream's
        windows are closed, then the events rules send to functions, and again. A failed
        record is visible again at once (and reaches its DLQ after the queue's
        maxReceiveCount); a failed stream batch is retried until it succeeds."""

        def deliver_queues() -> int:
            return sum(
                poll_once(self.sqs, source, functools.partial(self.invoke, source.function), 0, 0)
                for source in self.stack.event_sources
            )

        # the rules' targets get their events once the stream has caught up: the summary
        # function waits for it (views/pages.py, SETTLE_SECONDS)
        while True:
            run_until_idle(self.streams, deliver_queues)
            if not self.deliver_events():
                break


def stream_pollers(
    stack: Deployment, invoke: Callable[[str, dict[str, Any]], Any], function: str | None = None
) -> list[StreamPoller]:
    """A poller for each stream event source mapping (or only `function`'s)."""
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    streams = streams_client()
    return [
        StreamPoller(
            streams,
            dynamodb.describe_table(TableName=stack.physical_id(source.table))["Table"][
                "LatestStreamArn"
            ],
            source,
            functools.partial(invoke, source.function),
        )
        for source in stack.stream_sources
        if function in (None, source.function)
    ]


class LedgerStream:
    """The table's stream fed to the ledger stream function (or another of its consumers) until
    every window is closed: what Lambda does within a few seconds of the last write."""

    def __init__(
        self,
        stack: Deployment,
        handler: Callable[[dict[str, Any]], Any],
        function: str = "LedgerStreamFunction",
    ) -> None:
        self.pollers = stream_pollers(stack, lambda _function, event: handler(event), function)

    def settle(self) -> None:
        run_until_idle(self.pollers)
