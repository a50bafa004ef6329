"""Operations commands on the emulated stack: replay after a fix (idempotent), DLQ redrive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

import exotel_webhooks.intake.receive as receiver_module
from localaws.emulation import REGION, STACK_NAME, Deployment
from localaws.event_sources import poll_once
from localaws.template import Template
from ops.quarantine import quarantined, replay
from ops.redrive import dead_letter_queues, redrive
from ops.reports import request_refetch
from ops.target import Target, TargetError
from tests.support.events import http_get, load_event, with_token
from tests.support.pipeline import LedgerStream
from tests.support.report_server import ReportServer, Route
from tests.support.stack import Invoke, LoadFunction, arrived_now

CALLBACK = {
    "campaign_sid": "camp_ops",
    "call_sid": "call_ops_1",
    "number": "+919876543210",
    "status": "completed",
    "date_updated": "2026-11-26T10:00:00+05:30",
}


class Operated:
    """The stack's receiver, call-status processor and read API, and a Target on the stack."""

    def __init__(self, load_function: LoadFunction, stack: Deployment) -> None:
        self.receiver = load_function("ReceiverFunction")
        self.processor = load_function("CallStatusProcessorFunction")
        self.read_api = load_function("ReadApiFunction")
        self.stream = LedgerStream(stack, load_function("LedgerStreamFunction"))
        self.stack = stack
        self.target = Target(STACK_NAME, REGION)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """What the replay sends over HTTP, as API Gateway hands it to the receiver."""
        event = arrived_now(with_token(load_event("receiver/call-status.json")))
        event["rawPath"] = event["requestContext"]["http"]["path"] = path.split("?", maxsplit=1)[0]
        event["headers"] = headers
        event["body"] = body.decode()
        response = self.receiver(event)
        return response["statusCode"], json.loads(response["body"])

    def process(self) -> None:
        sqs = boto3.client("sqs", region_name=REGION)
        source = self.stack.event_source_of("CallStatusProcessorFunction")
        while poll_once(sqs, source, self.processor):
            pass

    def campaign(self) -> dict[str, Any]:
        self.stream.settle()
        response = self.read_api(http_get("/campaigns/camp_ops"))
        body: dict[str, Any] = json.loads(response["body"])
        return body


@pytest.fixture
def operated(load_function: LoadFunction, stack: Deployment) -> Operated:
    return Operated(load_function, stack)


def test_a_request_quarantined_by_a_bug_is_stored_once_when_replayed_after_the_fix(
    operated: Operated, receiver: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a receiver with a bug, which quarantines a good callback
    def broken(*_: object) -> None:
        raise RuntimeError("a bug in normalisation")

    monkeypatch.setattr(receiver_module, "build_callback", broken)
    event = with_token(load_event("receiver/call-status.json"))
    event["body"] = json.dumps(CALLBACK)
    answer = json.loads(receiver(event)["body"])
    assert answer["status"] == "quarantined"
    monkeypatch.undo()  # the fix is deployed
    [request] = list(quarantined(operated.target))
    assert request.replayed is None

    # When the quarantine is replayed through the receiver, and processed
    first = replay(operated.target, post=operated.post)
    operated.process()

    # Then the callback is stored, and the request is marked as replayed
    assert [(r.outcome, r.http_status) for r in first] == [("accepted", 200)]
    stored = operated.campaign()
    assert stored["attempts"] == {"total": 1, "by_status": {"completed": 1}}
    assert [r.replayed for r in quarantined(operated.target)] == ["accepted"]

    # When it is replayed again, and even forced through once more
    second = replay(operated.target, post=operated.post)
    forced = replay(operated.target, post=operated.post, force=True)
    operated.process()

    # Then the second replay sends nothing, and the forced one changes nothing
    assert [r.outcome for r in second] == ["skipped"]
    assert [r.outcome for r in forced] == ["accepted"]
    assert operated.campaign() == stored


def test_a_replay_that_fails_to_store_is_reported_and_left_for_the_next_replay(
    operated: Operated, receiver: Invoke
) -> None:
    # Given a quarantined request
    event = with_token(load_event("receiver/call-status.json"))
    event["body"] = '{"campaign_sid": "camp_ops"'
    assert json.loads(receiver(event)["body"])["status"] == "quarantined"

    # When the receiver answers 503 to its replay
    results = replay(operated.target, post=lambda *_: (503, {"message": "retry later"}))

    # Then it is reported as failed and not marked, so the next replay sends it
    assert [r.outcome for r in results] == ["failed"]
    assert [r.replayed for r in quarantined(operated.target)] == [None]


def test_redrive_moves_every_dead_lettered_message_back_once(operated: Operated) -> None:
    # Given two callbacks in the call-status DLQ (as the queue left them after 5 failures)
    sqs = boto3.client("sqs", region_name=REGION)
    dead_letter_queue = operated.stack.physical_id("CallStatusDeadLetterQueue")
    for call_sid in ("call_ops_1", "call_ops_2"):
        queued = {
            "event_id": f"evt-{call_sid}",
            "callback_type": "call-status",
            "received_at": "2026-11-26T04:30:00+00:00",
            "callback": {**CALLBACK, "call_sid": call_sid, "number_raw": CALLBACK["number"]},
        }
        sqs.send_message(QueueUrl=dead_letter_queue, MessageBody=json.dumps(queued))

    # When the DLQ is redriven (twice: the second finds nothing), and the queue processed
    template = Template.load()
    moved = [redrive(operated.target, template, "CallStatusDeadLetterQueue") for _ in (1, 2)]
    operated.process()

    # Then both reached their queue once and are stored
    assert [m.moved for m in moved] == [2, 0]
    assert moved[0].source_queue == "CallStatusQueue"
    assert operated.campaign()["attempts"]["total"] == 2


def test_every_dead_letter_queue_is_known_with_its_source(template: Template) -> None:
    assert dead_letter_queues(template) == {
        "CallStatusDeadLetterQueue": "CallStatusQueue",
        "CallScheduleDeadLetterQueue": "CallScheduleQueue",
        "CampaignStatusDeadLetterQueue": "CampaignStatusQueue",
        "ReportDeadLetterQueue": "ReportQueue",
        "CallDetailsDeadLetterQueue": "CallDetailsQueue",
        "RecordingDeadLetterQueue": "RecordingQueue",
    }


@pytest.mark.enable_socket
def test_a_refetch_request_stores_the_report_once(
    operated: Operated, load_function: LoadFunction, report_server: ReportServer
) -> None:
    # Given a report host answering with a fresh URL
    report_server.routes["/fresh.csv"] = Route(body=b"number,status\n+919876543210,completed\n")
    url = report_server.url("/fresh.csv")
    fetcher = load_function(
        "ReportFetcherFunction",
        REPORT_URL_ALLOW_LOOPBACK="true",
        REPORT_URL_ALLOWED_HOSTS="127.0.0.1",
    )

    # When a refetch is asked for twice, and the report queue consumed
    ids = {request_refetch(operated.target, "camp_ops", url) for _ in (1, 2)}
    sqs = boto3.client("sqs", region_name=REGION)
    source = operated.stack.event_source_of("ReportFetcherFunction")
    while poll_once(sqs, source, fetcher):
        pass

    # Then one request id was used, the report was downloaded once, stored and reconciled
    assert len(ids) == 1
    assert report_server.downloads["/fresh.csv"] == 1
    report = operated.campaign()["report"]
    assert (report["status"], report["rows"]) == ("stored", 1)


def test_commands_act_on_the_stack_sam_deploy_saved(tmp_path: Path) -> None:
    # Given a samconfig.toml in which `sam deploy --guided` saved a renamed stack and region
    config = tmp_path / "samconfig.toml"
    config.write_text(
        "version = 0.1\n"
        '[default.global.parameters]\nstack_name = "exotel-webhooks"\nregion = "ap-south-1"\n'
        '[default.deploy.parameters]\nstack_name = "renamed"\nregion = "ap-southeast-1"\n'
        '[prod.global.parameters]\nstack_name = "exotel-webhooks-prod"\n'
    )

    # When the operations commands find their target
    default = Target.from_samconfig("default", path=config)
    prod = Target.from_samconfig("prod", path=config)

    # Then they act on the stack sam deploy deploys for that environment
    assert (default.stack_name, default.region) == ("renamed", "ap-southeast-1")
    assert prod.stack_name == "exotel-webhooks-prod"
    with pytest.raises(TargetError, match="names no stack"):
        Target.from_samconfig("staging", path=config)
