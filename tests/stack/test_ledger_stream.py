"""Counters and events derived from the table's stream: exact, once, whatever is retried."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from exotel_webhooks.ledger.keys import campaign_pk, counter_sk, to_item
from exotel_webhooks.ledger.table import CampaignTable
from localaws.emulation import REGION, STACK_NAME, Deployment
from ops.__main__ import main as ops_main
from ops.migrate import migrate
from ops.target import Target
from tests.support.pipeline import Pipeline

pytestmark = pytest.mark.enable_socket  # the pipeline serves reports over HTTP
SID = "camp_stream"


def attempt(call: int, status: str, minute: int) -> dict[str, str]:
    return {
        "campaign_sid": SID,
        "call_sid": f"call_{call}",
        "number": f"+91980000010{call}",
        "status": status,
        "date_updated": f"2026-11-26T09:{minute:02d}:00+05:30",
    }


def table(stack: Deployment) -> CampaignTable:
    client = boto3.client("dynamodb", region_name=REGION)
    return CampaignTable(client, stack.physical_id("CampaignTable"))


def test_a_retried_invocation_adds_only_the_records_it_has_not_added(
    pipeline: Pipeline,
) -> None:
    # Given two attempts stored and counted, and the invocation that counted them
    invocations: list[dict[str, Any]] = []
    counting = pipeline.functions["LedgerStreamFunction"]

    def recorded(event: dict[str, Any]) -> Any:
        invocations.append(copy.deepcopy(event))
        return counting(event)

    pipeline.functions["LedgerStreamFunction"] = recorded
    for fields in (attempt(1, "busy", 1), attempt(2, "completed", 2)):
        assert pipeline.webhook("call-status", fields) == 200
    pipeline.drain()
    counted = next(event for event in invocations if event["Records"])

    # When Lambda invokes it again (its answer was lost), then again with a newer record (a
    # third attempt's insert) after the two
    pipeline.invoke("LedgerStreamFunction", counted)
    newer = copy.deepcopy(counted["Records"][-1])
    newer["eventName"] = "INSERT"
    newer["dynamodb"]["SequenceNumber"] = str(int(newer["dynamodb"]["SequenceNumber"]) + 1000)
    newer["dynamodb"]["NewImage"]["SK"] = {"S": "ATTEMPT#call_9"}
    newer["dynamodb"]["Keys"]["SK"] = {"S": "ATTEMPT#call_9"}
    newer["dynamodb"].pop("OldImage", None)
    pipeline.invoke("LedgerStreamFunction", {**counted, "Records": [*counted["Records"], newer]})

    # Then each record counts once: the two, and the newer one
    campaign = pipeline.get(f"/campaigns/{SID}")
    assert campaign["attempts"]["total"] == 3


def test_recount_rebuilds_counters_from_the_items(
    pipeline: Pipeline, stack: Deployment, capsys: object
) -> None:
    # Given a campaign whose counters were damaged (a window lost, say)
    for fields in (attempt(1, "busy", 1), attempt(1, "completed", 5), attempt(2, "failed", 2)):
        assert pipeline.webhook("call-status", fields) == 200
    pipeline.drain()
    ledger = table(stack)
    [shard] = pipeline.streams[0].shards
    boto3.client("dynamodb", region_name=REGION).delete_item(
        TableName=ledger.name, Key={"PK": {"S": campaign_pk(SID)}, "SK": {"S": counter_sk(shard)}}
    )
    assert ledger.campaign_counters(SID) == {}

    # When make recount runs, twice
    assert ops_main(["--stack", STACK_NAME, "recount", SID]) == 0
    first = ledger.recount(SID)

    # Then the counts equal the items again, and the second run changes nothing
    campaign = pipeline.get(f"/campaigns/{SID}")
    assert campaign["attempts"] == {"total": 2, "by_status": {"completed": 1, "failed": 1}}
    assert first == {}


def test_an_erased_number_leaves_the_counters_through_the_stream(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given two numbers' attempts, counted
    for fields in (attempt(1, "completed", 1), attempt(2, "failed", 2)):
        assert pipeline.webhook("call-status", fields) == 200
    pipeline.drain()

    # When one number's items are erased and the stream is consumed
    ledger = table(stack)
    for item in ledger.number_items("+919800000101"):
        assert ledger.erase(item) is not None
    pipeline.drain()

    # Then the campaign counts only the other
    campaign = pipeline.get(f"/campaigns/{SID}")
    assert campaign["attempts"] == {"total": 1, "by_status": {"failed": 1}}


def test_migration_replays_an_old_layout_table_and_newer_callbacks_win(
    pipeline: Pipeline, stack: Deployment
) -> None:
    # Given a table in the single-partition layout: a reconciled campaign with two attempts, an
    # outcome the report matched, a backfill, and counter shards
    client = boto3.client("dynamodb", region_name=REGION)
    client.create_table(
        TableName="old-campaigns",
        KeySchema=[
            {"AttributeName": "PK", "KeyType": "HASH"},
            {"AttributeName": "SK", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    old, pk = "camp_old", "CAMPAIGN#camp_old"
    items: list[dict[str, object]] = [
        {"SK": "#SUMMARY", "status": "Completed", "version": "2026-11-26T04:30:00.000000Z#8#f",
         "GSI1PK": "CAMPAIGN_STATUS#Completed", "GSI1SK": "2026-11-26T04:30:00.000000Z#camp_old",
         "report": {"status": "stored", "s3_uri": "s3://old/reports/camp_old.csv"},
         "reconciliation": {"report_rows": 2, "unparseable": 0}, "event_id": "f"},
        {"SK": "#COUNTER#3", "attempts_total": 2, "attempts_status#completed": 1},
        {"SK": "ATTEMPT#call_1", "call_sid": "call_1", "number": "+919800000201",
         "status": "completed", "version": "2026-11-26T03:40:00.000000Z#9#a1", "event_id": "a1",
         "GSI2PK": "NUMBER#+919800000201", "GSI2SK": "CAMPAIGN#camp_old#ATTEMPT#call_1"},
        {"SK": "ATTEMPT#call_2", "call_sid": "call_2", "number": "+919800000202",
         "status": "failed", "version": "2026-11-26T03:41:00.000000Z#8#a2", "event_id": "a2"},
        {"SK": "NUMBER#+919800000201", "number": "+919800000201", "status": "completed",
         "source": "callback", "report_status": "completed", "call_sids": ["call_1"],
         "version": "2026-11-26T04:00:00.000000Z#9#o1", "event_id": "o1"},
        {"SK": "NUMBER#+919800000203", "number": "+919800000203", "status": "busy",
         "source": "report", "report_status": "busy",
         "version": "0000-00-00T00:00:00.000000Z#0#report"},
    ]  # fmt: skip
    for item in items:
        client.put_item(
            TableName="old-campaigns",
            Item=to_item({"PK": pk, "campaign_sid": old, **item}),
        )
    # and the new stack already holds a newer update of call_2, sent after the switch
    newer = {"campaign_sid": old, "call_sid": "call_2", "number": "+919800000202",
             "status": "completed", "date_updated": "2026-11-26T09:20:00+05:30"}  # fmt: skip
    assert pipeline.webhook("call-status", newer) == 200
    pipeline.drain()

    # When make migrate runs, twice, and the stream is consumed
    assert ops_main(["--stack", STACK_NAME, "migrate", "old-campaigns"]) == 0
    again = migrate(Target(STACK_NAME, REGION), "old-campaigns")
    pipeline.drain()

    # Then the campaign reads as it did, with the newer callback kept, counted once
    campaign = pipeline.get(f"/campaigns/{old}")
    assert campaign["status"] == "Completed"
    assert campaign["attempts"] == {"total": 2, "by_status": {"completed": 2}}
    assert campaign["numbers"] == {"total": 2, "by_status": {"busy": 1, "completed": 1}}
    assert campaign["reconciliation"] == {
        "source": "report", "report_rows": 2, "matched": 1, "backfilled": 1, "mismatched": 0,
        "unparseable": 0,
    }  # fmt: skip
    number = pipeline.get(f"/campaigns/{old}/numbers/+919800000201")
    assert [a["call_sid"] for a in number["attempts"]] == ["call_1"]
    assert again == {"kept": 5, "counters skipped": 1}
