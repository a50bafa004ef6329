"""Exactly-once effects on an at-least-once pipeline: processors and read API together."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from itertools import count
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import Deployment
from localaws.sqs_events import sqs_event
from tests.support.analytics import dataset_answers
from tests.support.campaigns import QUEUE_OF, Campaign, Message, campaign_plans
from tests.support.events import http_get
from tests.support.pipeline import LedgerStream
from tests.support.stack import AwsCalls, Invoke, LoadFunction

ZONE = ZoneInfo("Asia/Kolkata")  # the template's default LocalTimezone
# the queries the oracle answers (tests/support/campaigns.py, expected_analytics)
ANALYTICS_ASKED = (
    "connect_rate_by_hour",
    "connect_rate_by_attempt",
    "attempts_per_connect",
    "outcome_mix",
)
PROCESSOR_OF = {
    CallbackType.CALL_STATUS: "CallStatusProcessorFunction",
    CallbackType.CALL_SCHEDULE: "CallScheduleProcessorFunction",
    CallbackType.CAMPAIGN_STATUS: "CampaignStatusProcessorFunction",
}
_message_ids = count()


@dataclass
class Pipeline:
    stack: Deployment
    processors: dict[CallbackType, Invoke]
    read_api: Invoke
    stream: LedgerStream
    dataset: LedgerStream  # the analytics dataset's consumer of the same stream

    def deliver(self, messages: list[Message], batch_sizes: list[int] | None = None) -> None:
        """Deliver in this order, in batches (one callback type per batch, as each queue has
        its own processor); every record must succeed."""
        sizes = iter(batch_sizes or [])
        pending = list(messages)
        while pending:
            kind = pending[0].callback_type
            size = next(sizes, 10)
            batch = [m for m in pending if m.callback_type is kind][:size]
            for sent in batch:
                pending.remove(sent)
            records = [
                {"MessageId": f"m-{next(_message_ids)}", "ReceiptHandle": "r", "Body": m.body}
                for m in batch
            ]
            response = self.processors[kind](sqs_event(f"arn:{QUEUE_OF[kind]}", records))
            assert response == {"batchItemFailures": []}

    def state(self, campaign: Campaign) -> dict[str, Any]:
        """What the read API says about a campaign: summary, every call (paging), every number."""
        self.stream.settle()
        self.dataset.settle()
        summary = self.get(f"/campaigns/{campaign.sid}")
        calls: dict[str, str] = {}
        token: str | None = None
        while True:
            page = self.get(
                f"/campaigns/{campaign.sid}/calls",
                f"limit=3&next_token={token}" if token else "limit=3",
            )
            calls.update({item["call_sid"]: item["status"] for item in page["items"]})
            token = page["next_token"]
            if not token:
                break
        numbers = {
            number: self.get(f"/campaigns/{campaign.sid}/numbers/{quote(number)}")["status"]
            for number in campaign.expected_numbers()
        }
        redial = self.get(f"/campaigns/{campaign.sid}/redial", "statuses=busy,no-answer,failed")
        analytics = dataset_answers(self.stack, campaign.sid, asked=tuple(ANALYTICS_ASKED))
        return {
            "summary": {key: summary[key] for key in ("status", "attempts", "numbers")},
            "calls": calls,
            "numbers": numbers,
            "redial": redial["csv"].splitlines()[1:],
            "analytics": analytics,
        }

    def get(self, path: str, query: str = "") -> dict[str, Any]:
        response = self.read_api(http_get(path, query))
        assert response["statusCode"] == 200, response["body"]
        body: dict[str, Any] = json.loads(response["body"])
        return body


@pytest.fixture
def pipeline(stack: Deployment, load_function: LoadFunction) -> Pipeline:
    return Pipeline(
        stack=stack,
        processors={kind: load_function(name) for kind, name in PROCESSOR_OF.items()},
        read_api=load_function("ReadApiFunction"),
        stream=LedgerStream(stack, load_function("LedgerStreamFunction")),
        dataset=LedgerStream(
            stack, load_function("AnalyticsStreamFunction"), "AnalyticsStreamFunction"
        ),
    )


_campaign_ids = count()


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_delivery_order_with_duplicates_ends_in_the_same_state(
    pipeline: Pipeline, aws_calls: AwsCalls, data: st.DataObject
) -> None:
    # Given one campaign delivered once in order, and the same campaign's callbacks delivered
    # three times each, shuffled, in batches of any size
    plan = data.draw(campaign_plans(), label="campaign")
    number = next(_campaign_ids)
    in_order, shuffled = plan.campaign(f"camp-{number}"), plan.campaign(f"camp-{number}-shuffled")
    deliveries = data.draw(st.permutations(shuffled.messages * 3), label="order")
    batch_sizes = data.draw(st.lists(st.integers(1, 10), max_size=len(deliveries)), label="sizes")

    # When both are processed
    pipeline.deliver(in_order.messages)
    pipeline.deliver(deliveries, batch_sizes)

    # Then each ends in the state the oracle names: the newest update of every item wins,
    # and every counter counts each attempt and number once, in its final status
    for campaign in (in_order, shuffled):
        state = pipeline.state(campaign)
        assert state["summary"] == campaign.expected_summary()
        assert state["calls"] == campaign.expected_calls()
        assert state["numbers"] == campaign.expected_numbers()
        # and the analytics dataset's queries answer what the campaign's truth says
        for name, expected in campaign.expected_analytics(ZONE).items():
            keys = expected[0].keys() if expected else ()
            answered = [{k: row[k] for k in keys} for row in state["analytics"][name]]
            assert answered == expected, name
        # and the redial list is the numbers whose final outcome went unanswered
        assert state["redial"] == sorted(
            number
            for number, status in campaign.expected_numbers().items()
            if status in {"busy", "no-answer", "failed"}
        )

    # And no follow-up was ever sent twice for the same callback
    published = [
        (entry["DetailType"], json.loads(entry["Detail"]))
        for call in aws_calls.of("PutEvents")
        for entry in call["Entries"]
    ]
    event_ids = [detail["event_id"] for _, detail in published]
    assert len(event_ids) == len(set(event_ids))
    report_requests = [
        json.loads(call["MessageBody"])
        for call in aws_calls.of("SendMessage")
        if call["QueueUrl"] == pipeline.stack.physical_id("ReportQueue")
    ]
    for campaign in (in_order, shuffled):
        types = Counter(
            kind for kind, detail in published if detail["campaign_sid"] == campaign.sid
        )
        assert types["CampaignCompleted"] == 1
        assert (
            1
            <= types["CallScheduleCompleted"]
            <= len([m for m in campaign.messages if m.callback_type is CallbackType.CALL_SCHEDULE])
        )
        assert [r["campaign_sid"] for r in report_requests].count(campaign.sid) == 1
