"""The campaign bus's archive and `make replay-events` (ops/replay_events.py), on the deployed
stack: the campaign events are kept and sent again to a team's rule that missed them, marked as
replays; a number's events are never archived (an erasure could not reach them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from exotel_webhooks.ledger.silence import Silence
from exotel_webhooks.notifications import CampaignEvents
from localaws.emulation import REGION, STACK_NAME, Deployment
from localaws.runtime import function_environment
from ops.__main__ import _parser, _replay_events
from ops.replay_events import ReplayRefused, replay_events
from ops.target import Target
from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.enable_socket
TEAM_RULE = "team-campaign-events"


def subscribed(stack: Deployment) -> str:
    """A team's rule on the bus sending every event of the stack's source to its queue."""
    events, sqs = (
        boto3.client("events", region_name=REGION),
        boto3.client("sqs", region_name=REGION),
    )
    bus = events.describe_archive(ArchiveName=stack.physical_id("CampaignEventArchive"))[
        "EventSourceArn"
    ].rsplit("/", 1)[1]
    queue = sqs.create_queue(QueueName="team-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name=TEAM_RULE, EventBusName=bus,
                    EventPattern=json.dumps({"source": ["exotel.campaign-webhooks"]}))  # fmt: skip
    events.put_targets(Rule=TEAM_RULE, EventBusName=bus,
                       Targets=[{"Id": "queue", "Arn": arn["QueueArn"]}])  # fmt: skip
    return queue


def received(queue: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    events = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        for message in messages:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return events


def completed_campaign(pipeline: Pipeline) -> None:
    """Two numbers' outcomes (a CallScheduleCompleted each) and the campaign's completion."""
    for number, status in (("+919876543210", "completed"), ("+919812345678", "failed")):
        outcome = {"campaign_sid": "camp_1", "to": number, "status": status,
                   "call_sids": [f"call_{number[-4:]}"],
                   "date_updated": "2024-01-15 09:30:00"}  # fmt: skip
        assert pipeline.webhook("call-schedule", outcome) == 200
    final = {"campaign_sid": "camp_1", "status": "Completed",
             "date_updated": "2024-01-15 18:00:00"}  # fmt: skip
    assert pipeline.webhook("campaign-status", final) == 200
    pipeline.drain()


def target() -> Target:
    return Target(STACK_NAME, REGION, local_base_url="http://127.0.0.1:1")


def test_a_replay_sends_the_campaign_events_again_and_no_numbers_event(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a team's rule that took the campaign's events as they were published
    queue = subscribed(stack)
    completed_campaign(pipeline)
    published = [event["detail-type"] for event in received(queue)]
    assert sorted(published) == ["CallScheduleCompleted", "CallScheduleCompleted",
                                 "CampaignCompleted"]  # fmt: skip

    # ... and a silence announced (replayed, it would have the campaign swept again)
    bus = function_environment(stack, "SilenceWatchFunction")["EVENT_BUS_NAME"]
    CampaignEvents(boto3.client("events", region_name=REGION), bus).publish_all(
        [Silence("camp_1", "2026-12-04T09:00:00.000000Z", None).event(datetime.now(UTC))]
    )
    assert [e["detail-type"] for e in received(queue)] == ["CampaignSilent"]

    # When make replay-events asks for the last hour again
    now = datetime.now(UTC)
    hour_ago, soon = now - timedelta(hours=1), now + timedelta(minutes=1)
    started = replay_events(target(), f"{hour_ago:%Y-%m-%dT%H:%M}Z", f"{soon:%Y-%m-%dT%H:%M}Z")

    # Then the rule gets the campaign's completion again, marked as the replay's, and no
    # event naming a number (the archive never kept one), nor the silence
    replayed = received(queue)
    assert [(e["detail-type"], e["replay-name"]) for e in replayed] == [
        ("CampaignCompleted", started.name)
    ]
    assert replayed[0]["detail"]["campaign_sid"] == "camp_1"
    assert started.state in {"STARTING", "RUNNING", "COMPLETED"}
    # ... and the ledger is as it was: a replay reads the archive, never the table
    assert pipeline.get("/campaigns/camp_1")["numbers"]["total"] == 2


def test_a_replay_to_one_rule_names_it_and_an_unknown_rule_is_refused_with_the_rules(
    stack: Deployment,
) -> None:
    # Given a team's rule on the bus
    subscribed(stack)
    events = boto3.client("events", region_name=REGION)

    # When a replay is asked for that rule only
    started = replay_events(target(), "2026-12-01", "2026-12-02", TEAM_RULE,
                            now=datetime(2026, 12, 4, tzinfo=UTC))  # fmt: skip

    # Then EventBridge is asked to send to that rule alone, over the days asked in the stack's
    # LocalTimezone (Asia/Kolkata: midnight is 18:30 the day before in UTC)
    replay = events.describe_replay(ReplayName=started.name)
    rule_arn = events.describe_rule(Name=TEAM_RULE, EventBusName=replay["Destination"]["Arn"]
                                    .rsplit("/", 1)[1])["Arn"]  # fmt: skip
    assert replay["Destination"]["FilterArns"] == [rule_arn]
    assert (started.start, started.end) == (
        datetime(2026, 11, 30, 18, 30, tzinfo=UTC),
        datetime(2026, 12, 1, 18, 30, tzinfo=UTC),
    )
    # ... and a rule the bus does not have is refused in one line naming the ones it has
    with pytest.raises(ReplayRefused, match=f"no rule 'tema'.*{TEAM_RULE}"):
        replay_events(target(), "2026-12-01", "2026-12-02", "tema",
                      now=datetime(2026, 12, 4, tzinfo=UTC))  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "why"),
    [
        ("2026-12-03", "2026-12-02", "must come before TO"),
        ("2026-12-05", "2026-12-06", "must come before TO and now"),  # all of it to come
        ("2026-10-01", "2026-10-02", "past the archive's 30 days"),
        ("yesterday", "2026-12-02", "not a date or time"),
    ],
)
def test_a_range_that_cannot_be_replayed_is_refused_in_one_line(
    stack: Deployment, start: str, end: str, why: str
) -> None:
    with pytest.raises(ReplayRefused, match=why):
        replay_events(target(), start, end, now=datetime(2026, 12, 4, tzinfo=UTC))


def test_make_replay_events_prints_one_line_or_one_error(
    stack: Deployment, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the command line make replay-events builds
    def run(*argv: str) -> int:
        return _replay_events(target(), _parser().parse_args(["replay-events", *argv]))

    # When it asks for the last day, then for a rule the bus does not have
    now = datetime.now(UTC)
    ok = run("--from", f"{now - timedelta(days=1):%Y-%m-%d}", "--to", f"{now:%Y-%m-%dT%H:%M}Z")
    out = capsys.readouterr()
    refused = run("--from", "2026-12-01", "--to", "2026-12-02", "--rule", "nobody")
    err = capsys.readouterr().err

    # Then one line each: what was started, or why not
    assert ok == 0
    assert out.out.count("\n") == 1
    assert "the campaign events archived from" in out.out
    assert "every rule of the bus" in out.out
    assert refused == 2
    assert err.count("\n") == 1
    assert err.startswith("replay-events: no rule 'nobody'")


def test_a_replayed_report_event_rewrites_the_page_without_waiting_for_that_report(
    pipeline: Pipeline,
) -> None:
    # Given a completed campaign, and its CampaignReportStored event of a report since refetched
    completed_campaign(pipeline)
    replayed = {"detail-type": "CampaignReportStored", "source": "exotel.campaign-webhooks",
                "replay-name": "exotel-webhooks-20261204120000",
                "detail": {"campaign_sid": "camp_1",
                           "s3_uri": "s3://bucket/reports/old.csv"}}  # fmt: skip

    # When the summary function gets it again, Then it writes the page as the ledger is now
    assert pipeline.invoke("SummaryFunction", replayed) == {"written": "summaries/camp_1.html"}
