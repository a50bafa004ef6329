"""events/: every function has samples; each parses and gives its documented response."""

from __future__ import annotations

import json

import boto3
import pytest

from localaws.emulation import DEFAULT_WEBHOOK_TOKEN, REGION, Deployment
from localaws.samples import (
    ANALYTICS_SAMPLES,
    FUNCTION_OF,
    PROCESSOR_FAILURES,
    READ_API_STATUSES,
    RECEIVER_OUTCOMES,
    SHAPE_ONLY,
    SILENCE_SAMPLES,
    STREAM_ANSWER,
    STREAM_SAMPLES,
    SUMMARY_SAMPLES,
    SWEEP_SAMPLES,
)
from localaws.template import Template
from tests.support.events import EVENTS, body_of, events_of, http_get, load_event
from tests.support.stack import LoadFunction


def event_directory(template: Template, logical_id: str) -> str:
    """events/<the function's code directory name>/"""
    return template.function_code_directory(logical_id).name


def test_every_function_has_sample_events(template: Template) -> None:
    functions = template.resources_of_type("AWS::Serverless::Function")
    assert functions
    for logical_id in functions:
        assert events_of(event_directory(template, logical_id)), f"no events for {logical_id}"


def test_every_event_file_fits_how_its_function_is_triggered(template: Template) -> None:
    # Given each function's triggers in the template, a function URL among them
    function_urls = {
        url["Properties"]["TargetFunctionArn"]["Fn::GetAtt"][0]
        for url in template.resources_of_type("AWS::Lambda::Url").values()
    }
    for logical_id, function in template.resources_of_type("AWS::Serverless::Function").items():
        triggers = function["Properties"].get("Events", {}).values()
        routes = {
            f"{t['Properties']['Method']} {t['Properties']['Path']}"
            for t in triggers
            if t["Type"] == "HttpApi"
        }
        sqs = any(t["Type"] == "SQS" for t in triggers)
        stream = any(t["Type"] == "DynamoDB" for t in triggers)
        schedule = any(t["Type"] == "Schedule" for t in triggers)
        rules = [t["Properties"]["Pattern"] for t in triggers if t["Type"] == "EventBridgeRule"]

        # Then each of its sample events has that trigger's shape
        for path in events_of(event_directory(template, logical_id)):
            event = json.loads(path.read_text())
            if sqs:
                assert event["Records"], path
                assert {record["eventSource"] for record in event["Records"]} == {"aws:sqs"}
            elif schedule and event.get("source") in (None, "aws.events"):
                # EventBridge's scheduled event, or one campaign asked for by name
                assert event.get("detail-type") == "Scheduled Event" or event["campaign_sid"]
            elif rules:  # an event of the product's bus that the rule matches
                assert any(
                    event["source"] in rule["source"]
                    and event["detail-type"] in rule["detail-type"]
                    for rule in rules
                ), path
            elif stream:  # with tumbling windows: the shard, the state, whether the window ends
                tumbling = any(
                    "TumblingWindowInSeconds" in t["Properties"]
                    for t in triggers
                    if t["Type"] == "DynamoDB"
                )
                if tumbling:
                    assert {"shardId", "state", "isFinalInvokeForWindow"} <= set(event), path
                assert {r["eventSource"] for r in event["Records"]} <= {"aws:dynamodb"}, path
            else:  # the HTTP API's route, or the function URL's $default one to a route's path
                assert event["version"] == "2.0", path
                http = event["requestContext"]["http"]
                if event["routeKey"] == "$default":
                    assert logical_id in function_urls, path
                    assert f"{http['method']} {event['rawPath']}" in routes, path
                else:
                    assert event["routeKey"] in routes, path
                    assert http["method"] == event["routeKey"].split()[0]


def test_every_event_is_listed_with_its_outcome() -> None:
    listed = (
        {f"receiver/{name}" for name in RECEIVER_OUTCOMES}
        | set(PROCESSOR_FAILURES)
        | SHAPE_ONLY
        | {f"read_api/{name}" for name in READ_API_STATUSES}
        | {f"ledger_stream/{name}" for name in STREAM_SAMPLES}
        | {f"sweeper/{name}" for name in SWEEP_SAMPLES}
        | {f"silence_watch/{name}" for name in SILENCE_SAMPLES}
        | {f"summary_writer/{name}" for name in SUMMARY_SAMPLES}
        | {f"analytics_stream/{name}" for name in ANALYTICS_SAMPLES}
    )
    assert {str(path.relative_to(EVENTS)) for path in EVENTS.rglob("*.json")} == listed


@pytest.mark.webhook_tokens(DEFAULT_WEBHOOK_TOKEN)
@pytest.mark.parametrize(("event_file", "outcome"), sorted(RECEIVER_OUTCOMES.items()))
def test_receiver_event_gives_its_documented_response(
    load_function: LoadFunction, event_file: str, outcome: tuple[int, str | None]
) -> None:
    # Given the receiver with the secret the sample events carry (make invoke's default)
    receiver = load_function("ReceiverFunction")
    event = load_event(f"receiver/{event_file}")

    # When the sample is invoked
    response = receiver(event)

    # Then it gets the response the sample is named for
    status, body_status = outcome
    assert response["statusCode"] == status
    assert body_of(response).get("status") == body_status


def test_processor_samples_fail_exactly_their_bad_records(load_function: LoadFunction) -> None:
    for sample, failed_indexes in PROCESSOR_FAILURES.items():
        # Given a processor and its sample batch
        handler = load_function(FUNCTION_OF[sample.split("/")[0]])
        event = load_event(sample)

        # When the batch is processed
        response = handler(event)

        # Then exactly the bad records are reported, for the queue to redeliver
        expected = [{"itemIdentifier": event["Records"][i]["messageId"]} for i in failed_indexes]
        assert response == {"batchItemFailures": expected}, sample


@pytest.mark.parametrize(("sample", "status"), sorted(READ_API_STATUSES.items()))
def test_read_api_samples_answer_after_the_processor_samples(
    load_function: LoadFunction, sample: str, status: int
) -> None:
    # Given the processor samples have been processed
    for processor_sample in PROCESSOR_FAILURES:
        load_function(FUNCTION_OF[processor_sample.split("/")[0]])(load_event(processor_sample))

    # When a read API sample is invoked
    response = load_function("ReadApiFunction")(load_event(f"read_api/{sample}"))

    # Then it gets the status it is named for, with a JSON body
    assert response["statusCode"] == status, response["body"]
    assert json.loads(response["body"])


def test_stream_samples_count_each_record_once(load_function: LoadFunction) -> None:
    # Given the ledger stream function, an invocation's records and the window's last call
    stream = load_function("LedgerStreamFunction")
    window, window_end = (load_event(f"ledger_stream/{name}") for name in STREAM_SAMPLES)

    # When the records are handed to it, twice (Lambda retries an invocation whose answer was
    # lost), and the window ends
    assert stream(window) == STREAM_ANSWER
    assert stream(window) == STREAM_ANSWER
    assert stream(window_end) == STREAM_ANSWER

    # Then the campaign counts one attempt (busy, then completed) and one number, once
    read_api = load_function("ReadApiFunction")
    campaign = body_of(read_api(http_get("/campaigns/camp_sample")))
    assert campaign["attempts"] == {"total": 1, "by_status": {"completed": 1}}
    assert campaign["numbers"] == {"total": 1, "by_status": {"completed": 1}}


@pytest.mark.parametrize(("event_file", "answer"), sorted(SWEEP_SAMPLES.items()))
def test_sweeper_samples_give_their_answer(
    load_function: LoadFunction, event_file: str, answer: dict[str, list[str]]
) -> None:
    sweeper = load_function("SweepFunction")
    assert sweeper(load_event(f"sweeper/{event_file}")) == answer


@pytest.mark.parametrize(("event_file", "answer"), sorted(SILENCE_SAMPLES.items()))
def test_silence_watch_samples_give_their_answer(
    load_function: LoadFunction, event_file: str, answer: dict[str, list[str]]
) -> None:
    # Given the processor samples' callbacks, just stored
    for processor_sample in PROCESSOR_FAILURES:
        load_function(FUNCTION_OF[processor_sample.split("/")[0]])(load_event(processor_sample))

    # Then the watch finds no campaign silent yet
    assert (
        load_function("SilenceWatchFunction")(load_event(f"silence_watch/{event_file}")) == answer
    )


@pytest.mark.parametrize(("sample", "answer"), sorted(SUMMARY_SAMPLES.items()))
def test_summary_samples_write_the_campaigns_page(
    load_function: LoadFunction, stack: Deployment, sample: str, answer: dict[str, str]
) -> None:
    # Given the processor samples have been processed (camp_abc123 completed)
    for processor_sample in PROCESSOR_FAILURES:
        load_function(FUNCTION_OF[processor_sample.split("/")[0]])(load_event(processor_sample))

    # When the summary function gets the sample event
    written = load_function("SummaryFunction")(load_event(f"summary_writer/{sample}"))

    # Then it wrote the page it is documented to write, and the read API hands it out
    assert written == answer
    response = load_function("ReadApiFunction")(http_get("/campaigns/camp_abc123/summary"))
    assert response["statusCode"] == 200, response["body"]
    assert json.loads(response["body"])["url"].startswith("https://")


@pytest.mark.parametrize(("sample", "answer"), sorted(ANALYTICS_SAMPLES.items()))
def test_analytics_samples_send_a_row_for_each_record(
    load_function: LoadFunction, stack: Deployment, sample: str, answer: dict[str, int]
) -> None:
    # When the analytics stream function gets its sample batch
    sent = load_function("AnalyticsStreamFunction")(load_event(f"analytics_stream/{sample}"))

    # Then it answers as documented, and the rows are in the dataset's objects
    assert sent == answer
    s3 = boto3.client("s3", region_name=REGION)
    listed = s3.list_objects_v2(
        Bucket=stack.physical_id("ReportBucket"), Prefix="analytics/ledger_rows/"
    )
    assert listed.get("KeyCount", 0) >= 1
