"""The template's saved Logs Insights queries, run over the log lines the functions really write.

A campaign goes through every function (accepted, duplicated, quarantined and unauthorised
webhooks, a poison record, a report that fails and one that is retried); each saved query must
find its lines, and every field it filters, groups or aggregates on must be there with the type
the query expects. Renaming a logged field, or a message a query matches, fails this test.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from exotel_webhooks.ledger.precedence import utc_text
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.observability import Metric, number_hash
from localaws.emulation import REGION, STACK_NAME, Deployment
from localaws.template import PROJECT_ROOT, Template
from ops.erase import erase_number
from ops.logs import logged_number_hash
from ops.target import Target
from tests.support.events import TOKEN
from tests.support.logs_insights import Line, Query, has_type, parse, value_of
from tests.support.pipeline import ACCESS_LOG, Pipeline
from tests.support.report_server import ReportServer, Route
from tests.support.stack import AwsCalls, LoadFunction

EVENTS = PROJECT_ROOT / "events"

CAMPAIGN, RETRIED_CAMPAIGN = "camp_logs", "camp_retried"
CALL = "call_logs_1"
NUMBER = "+919876543210"
PRESIGNED = "?X-Amz-Credential=AKIAEXAMPLE&X-Amz-Signature=0f1e2d3c4b5a"  # a credential
PARAMETERS = {"campaign_sid": CAMPAIGN, "number_hash": NUMBER, "call_sid": CALL}
NAMESPACE = "ExotelWebhooks"


def hash_key(pipeline: Pipeline) -> str:
    """The stack's number hash key, as its functions have it (the stack's id)."""
    return pipeline.stack.functions["CallStatusProcessorFunction"].environment["NUMBER_HASH_KEY"]


def parameter_values(pipeline: Pipeline) -> dict[str, str]:
    """What an operator types into each query parameter (`make number-hash` for the number)."""
    values = dict(PARAMETERS)
    values["number_hash"] = str(number_hash(NUMBER, hash_key(pipeline)))
    return values


def saved_queries(template: Template) -> dict[str, tuple[str, list[str]]]:
    """Query logical id -> (query text, the functions whose log groups it reads)."""
    logging_to = {
        template.log_group_of(function): function
        for function in template.resources_of_type("AWS::Serverless::Function")
    } | {"ApiAccessLogGroup": ACCESS_LOG}
    queries = {}
    for logical_id, resource in template.resources_of_type("AWS::Logs::QueryDefinition").items():
        properties = resource["Properties"]
        functions = [
            logging_to[group["Ref"]]
            for group in properties["LogGroupNames"]
            if group["Ref"] in logging_to
        ]
        queries[logical_id] = (properties["QueryString"], functions)
    return queries


def problems(query: Query, lines: list[Line]) -> list[str]:
    """Why this query would not answer its question over these lines (empty if it would)."""
    matched = query.matching(lines)
    if not matched:
        return ["its filter matches no log line"]
    found = []
    for name, types in query.expects.filtered.items():
        if not any(has_type(value_of(line, name), types) for line in matched):
            found.append(f"filters on {name!r}, which no matching line has as {types}")
    for name in query.expects.grouped:
        missing = [line.get("message") for line in matched if value_of(line, name) is None]
        if missing:
            found.append(f"groups by {name!r}, missing from lines {missing[:3]}")
    for name, types in query.expects.aggregated.items():
        wrong = [
            value_of(line, name) for line in matched if not has_type(value_of(line, name), types)
        ]
        if wrong:
            found.append(f"aggregates {name!r} as {types}, but lines hold {wrong[:3]}")
    for name in query.expects.displayed:
        if not name.startswith("@") and all(value_of(line, name) is None for line in matched):
            found.append(f"displays {name!r}, which no matching line has")
    return found


def call_status(call_sid: str, status: str, minute: int) -> dict[str, Any]:
    return {
        "campaign_sid": CAMPAIGN,
        "call_sid": call_sid,
        "number": NUMBER if call_sid == CALL else f"+9198765400{minute:02d}",
        "status": status,
        "date_created": "2026-11-26T09:00:00+05:30",
        "date_updated": f"2026-11-26T09:{minute:02d}:00+05:30",
    }


def campaign_completed(campaign_sid: str, report_url: str) -> dict[str, Any]:
    return {
        "campaign_sid": campaign_sid,
        "status": "Completed",
        "date_updated": "2026-11-26T10:00:00+05:30",
        "report_url": report_url,
    }


CALLS_API = "/v1/Accounts/demo-account/Calls.json"
# Every function runs, the call details function too
pytestmark = pytest.mark.stack_parameters(CallDetails="true")


@pytest.fixture
def logged_campaign(
    aws_calls: AwsCalls,
    load_function: LoadFunction,
    stack: Deployment,
    log_output: io.StringIO,
    report_server: ReportServer,
) -> Pipeline:
    pipeline = Pipeline(load_function, stack, log_output, report_server)
    report_server.routes["/expired.csv"] = Route(status=403, body=b"<Error>expired</Error>")
    report_server.routes["/busy.csv"] = Route(
        # one number a callback reported otherwise, one no callback reported (backfilled)
        body=b"number,status\n+919876543210,completed\n+919800000001,no-answer\n",
        fail_first=1,
    )
    # Exotel's Call details API refuses the key at first (the call details stay queued, then
    # dead-letter), later it answers
    report_server.routes[CALLS_API] = Route(status=403, body=b'{"message": "forbidden"}')
    sent = [
        pipeline.webhook("call-status", call_status(CALL, "in-progress", 1)),
        pipeline.webhook("call-status", call_status(CALL, "completed", 5)),
        pipeline.webhook("call-status", call_status(CALL, "completed", 5)),  # a duplicate
        pipeline.webhook("call-status", call_status("call_logs_2", "failed", 2)),
        pipeline.webhook("call-status", call_status("call_logs_3", "no-answer", 3)),
        pipeline.webhook("call-status", call_status("call_logs_4", "busy", 4)),
        pipeline.webhook(
            "call-schedule",
            {"campaign_sid": CAMPAIGN, "to": NUMBER, "status": "completed", "call_sids": [CALL]},
        ),
        # the number failed in the retried campaign, whose report will say it completed
        pipeline.webhook(
            "call-schedule",
            {"campaign_sid": RETRIED_CAMPAIGN, "to": NUMBER, "status": "failed", "call_sids": []},
        ),
        pipeline.webhook("call-status", '{"campaign_sid": "camp_logs", "call_sid": '),
        pipeline.webhook("call-status", call_status(CALL, "completed", 6), token="wrong"),
    ]
    assert sent == [200] * 9 + [401]  # the truncated body is quarantined
    pipeline.drain()
    # An update older than the stored one, and a poison message no sender of ours writes
    assert pipeline.webhook("call-status", call_status(CALL, "ringing", 2)) == 200
    queue_url = stack.physical_id("CallStatusQueue")
    pipeline.sqs.send_message(QueueUrl=queue_url, MessageBody="{not json")
    pipeline.drain()
    # Reports: one refused for good, one that fails once (and cannot even delay its retry)
    aws_calls.fail_next("ChangeMessageVisibility", "AccessDenied")
    for campaign, path in ((CAMPAIGN, "/expired.csv"), (RETRIED_CAMPAIGN, "/busy.csv")):
        completed = campaign_completed(campaign, report_server.url(path + PRESIGNED))
        assert pipeline.webhook("campaign-status", completed) == 200
    pipeline.drain()
    # A sweep that finds an attempt whose callback Exotel lost (and its call details)
    calls = {"Calls": [{"Call": {"Sid": "call_logs_lost", "Status": "busy", "Duration": "0",
                                 "Price": "0.0"}}]}  # fmt: skip
    report_server.routes[CALLS_API] = Route(body=json.dumps(calls).encode())
    lost = {"call_sid": "call_logs_lost", "number": NUMBER, "status": "busy",
            "date_created": "2026-11-26T09:50:00+05:30"}  # fmt: skip
    unusable = {"number": NUMBER, "status": "busy"}  # no call SID: counted, logged, skipped
    assert pipeline.sweep(CAMPAIGN, [lost, unusable])["failed"] == []
    pipeline.drain()
    # A running campaign whose callbacks stopped two hours ago, found by the silence watch
    hours_ago = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2)
    table = CampaignTable(boto3.client("dynamodb", region_name=REGION),
                          stack.physical_id("CampaignTable"))  # fmt: skip
    table.note_heard("camp_logs_silent", "shard-1", str(utc_text(hours_ago)))
    scheduled = json.loads((EVENTS / "silence_watch/scheduled.json").read_text())
    assert pipeline.invoke("SilenceWatchFunction", scheduled) == {"silent": ["camp_logs_silent"]}
    # An erased number whose callback Exotel sends again: refused, counted, not stored
    erase_number(Target(STACK_NAME, REGION), "+919876540004", CAMPAIGN)
    assert pipeline.webhook("call-status", call_status("call_logs_4", "busy", 4)) == 200
    pipeline.drain()
    # Requests the receiver turns away: a GET, an oversized body, one it cannot store
    assert pipeline.webhook("call-status", call_status(CALL, "busy", 9), method="GET") == 405
    assert pipeline.webhook("call-status", "x" * 300_000) == 413
    pipeline.sqs.delete_queue(QueueUrl=stack.physical_id("CallScheduleQueue"))
    lost = {"campaign_sid": CAMPAIGN, "to": NUMBER, "status": "busy"}
    assert pipeline.webhook("call-schedule", lost) == 503
    return pipeline


@pytest.mark.enable_socket
def test_every_saved_query_finds_the_fields_it_asks_for(
    template: Template, logged_campaign: Pipeline
) -> None:
    # Given the log lines of a campaign that went through every function
    failures = {}
    for logical_id, (saved, functions) in saved_queries(template).items():
        text = saved
        for name, value in parameter_values(logged_campaign).items():
            text = text.replace(f'"{{{{{name}}}}}"', json.dumps(value))
        lines: list[Line] = [
            line for function in functions for line in logged_campaign.lines[function]
        ]

        # When each saved query runs over the lines of its log groups
        found = problems(parse(text), lines)

        if found:
            failures[logical_id] = found
    # Then each finds its lines, with every field it uses present and of the expected type
    assert failures == {}


@pytest.mark.enable_socket
def test_no_log_line_holds_a_phone_number_a_token_or_a_presigned_query(
    logged_campaign: Pipeline,
) -> None:
    everything = json.dumps(logged_campaign.lines)
    assert logged_campaign.lines["ReceiverFunction"], "the scenario logged nothing"
    assert NUMBER not in everything
    assert NUMBER[3:] not in everything  # nor its national digits
    assert TOKEN not in everything
    assert "X-Amz-Signature" not in everything
    assert "AKIAEXAMPLE" not in everything
    assert str(number_hash(NUMBER, hash_key(logged_campaign))) in everything


def test_the_checker_fails_when_a_logged_field_is_renamed() -> None:
    # Given lines as the receiver writes them, and a query grouping by one of their fields
    query = parse('filter outcome = "quarantined" | stats count(*) as n by callback_type, reason')
    lines: list[Line] = [{"outcome": "quarantined", "callback_type": "call-status", "reason": "x"}]
    assert problems(query, lines) == []

    # When the field is renamed in the lines, Then the query is reported broken
    renamed: list[Line] = [{"outcome": "quarantined", "callback_type": "call-status", "why": "x"}]
    assert problems(query, renamed) == ["groups by 'reason', missing from lines [None]"]
    # And a filter value of the wrong type matches nothing
    assert problems(parse('filter http_status = "200"'), [{"http_status": 200}]) == [
        "its filter matches no log line"
    ]


@pytest.mark.parametrize(
    "logical_id", sorted(Template.load().resources_of_type("AWS::Logs::QueryDefinition"))
)
def test_a_saved_query_asks_for_its_values_as_parameters(logical_id: str) -> None:
    # Given a saved query as the console shows it
    properties = Template.load().resources[logical_id]["Properties"]
    used = set(re.findall(r"\{\{(\w+)\}\}", properties["QueryString"]))
    declared = {parameter["Name"] for parameter in properties.get("Parameters", [])}

    # Then every value it needs is a declared parameter (the console asks for it), each
    # declared one is used, and no literal placeholder is left to edit by hand
    assert used == declared
    assert all(name in PARAMETERS for name in used)
    assert not re.search(r'"[A-Z]+(_[A-Z]+)+"', properties["QueryString"])


@pytest.mark.parametrize("logical_id", sorted(saved_queries(Template.load())))
def test_every_saved_query_is_understood_and_reads_function_logs(logical_id: str) -> None:
    text, functions = saved_queries(Template.load())[logical_id]
    query = parse(text)
    assert functions, "it reads no function's log group"
    assert query.predicates, "it filters nothing, so it cannot be checked against real lines"


def referenced_metrics(template: Template) -> set[tuple[str, frozenset[str]]]:
    """(metric name, dimension names) of every ExotelWebhooks metric the alarms and the
    dashboard watch."""
    referenced = set()
    for resource in template.resources_of_type("AWS::CloudWatch::Alarm").values():
        properties = resource["Properties"]
        if properties.get("Namespace") == NAMESPACE:
            dimensions = frozenset(d["Name"] for d in properties.get("Dimensions", []))
            referenced.add((properties["MetricName"], dimensions))
    for resource in template.resources_of_type("AWS::CloudWatch::Dashboard").values():
        body = json.loads(
            re.sub(r"\$\{[^}]+\}", "0", resource["Properties"]["DashboardBody"]["Fn::Sub"])
        )
        for widget in body["widgets"]:
            for metric in widget["properties"].get("metrics", []):
                if metric[0] == NAMESPACE:
                    names = [item for item in metric[2:] if isinstance(item, str)][::2]
                    referenced.add((metric[1], frozenset(names)))
                elif isinstance(metric[0], dict):
                    search = re.search(
                        r"\{(\w+),([\w,]+)\} MetricName=\"(\w+)\"", metric[0]["expression"]
                    )
                    if search and search.group(1) == NAMESPACE:
                        dimensions = frozenset(search.group(2).split(","))
                        referenced.add((search.group(3), dimensions))
    return referenced


def emitted_metrics(stdout: str) -> set[tuple[str, frozenset[str]]]:
    """(metric name, dimension names) of every EMF metric in the functions' output."""
    emitted = set()
    for line in stdout.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]:
            if directive["Namespace"] != NAMESPACE:
                continue
            for metric in directive["Metrics"]:
                for dimensions in directive["Dimensions"]:
                    emitted.add((metric["Name"], frozenset(dimensions)))
    return emitted


@pytest.mark.enable_socket
def test_alarms_and_dashboard_watch_metrics_the_functions_emit(
    template: Template, logged_campaign: Pipeline
) -> None:
    # Given the EMF lines of a campaign that went through every function
    emitted = emitted_metrics(logged_campaign.metrics.getvalue())

    # When the template's alarms and dashboard are read
    referenced = referenced_metrics(template)

    # Then each metric they watch is emitted, by that name and with those dimensions
    assert referenced, "the template watches no metric of ours"
    assert referenced - emitted == set()
    # And every metric the code can emit is on the dashboard
    assert {name for name, _ in referenced} == {str(metric) for metric in Metric}


@pytest.mark.enable_socket
def test_make_number_hash_names_the_number_as_the_log_lines_do(logged_campaign: Pipeline) -> None:
    # Given the number in the national format an operator might have at hand
    target = Target(STACK_NAME, REGION)

    # When `make number-hash` computes its hash from the stack
    printed = logged_number_hash(target, "098765 43210")

    # Then it is the key the processors' and the report fetcher's lines carry for that number,
    # and only for it
    lines = [line for function in logged_campaign.lines.values() for line in function]
    hashed = {line.get("number_hash") for line in lines} - {None}
    assert printed in hashed
    assert len(hashed) > 1  # other numbers have other hashes
    assert any(line.get("message") == "report disagrees with callback" for line in lines
               if line.get("number_hash") == printed)  # fmt: skip


@pytest.mark.enable_socket
def test_a_refused_request_in_the_access_log_finds_its_receiver_line(
    logged_campaign: Pipeline,
) -> None:
    # Given the access log's lines of the requests the receiver refused (401, 405, 413)
    refused = [line for line in logged_campaign.lines[ACCESS_LOG] if line["status"] != "200"]
    assert {line["status"] for line in refused} >= {"401", "405", "413"}

    # Then each one's request_id is the correlation_id of exactly one receiver line
    receiver = logged_campaign.lines["ReceiverFunction"]
    for line in refused:
        matching = [r for r in receiver if r.get("correlation_id") == line["request_id"]]
        assert len(matching) == 1, line
        assert matching[0]["http_status"] == int(line["status"])
