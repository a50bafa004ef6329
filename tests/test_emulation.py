"""What the local stack changes in the emulator keeps the emulator's meaning."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sqs.models import sqs_backends

from localaws.emulation import REGION, emulated_account_environment
from localaws.stack import _count_queues_only_when_asked, _roll_back_transactions_by_item


@pytest.fixture
def table() -> Iterator[Any]:
    with emulated_account_environment(), mock_aws():
        _roll_back_transactions_by_item()
        client = boto3.client("dynamodb", region_name=REGION)
        client.create_table(
            TableName="t",
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
        yield client


def transaction(client: Any, item_version: str, condition_version: str | None) -> None:
    condition = (
        {
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": {":v": {"S": condition_version}},
        }
        if condition_version
        else {"ConditionExpression": "attribute_not_exists(PK)"}
    )
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": "t",
                    "Item": {"PK": {"S": "c"}, "SK": {"S": "item"}, "version": {"S": item_version}},
                    **condition,
                }
            },
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"PK": {"S": "c"}, "SK": {"S": "counter"}},
                    "UpdateExpression": "ADD attempts :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )


def state(client: Any) -> dict[str, Any]:
    items = client.scan(TableName="t")["Items"]
    return {item["SK"]["S"]: item.get("version", item.get("attempts")) for item in items}


def test_a_failed_transaction_leaves_every_item_it_named_as_it_was(table: Any) -> None:
    # Given an item and its counter, written by one transaction
    transaction(table, "v1", None)
    before = state(table)

    # When a transaction whose condition fails would have replaced the item and moved the counter
    with pytest.raises(ClientError, match="TransactionCanceled"):
        transaction(table, "v2", "v0")

    # Then neither changed; and a transaction that holds applies both
    assert state(table) == before == {"item": {"S": "v1"}, "counter": {"N": "1"}}
    transaction(table, "v2", "v1")
    assert state(table) == {"item": {"S": "v2"}, "counter": {"N": "2"}}


def test_a_failed_first_write_leaves_nothing_behind(table: Any) -> None:
    # Given an empty table, and a transaction whose second write fails its condition
    transaction(table, "v1", None)
    table.delete_item(TableName="t", Key={"PK": {"S": "c"}, "SK": {"S": "item"}})
    table.delete_item(TableName="t", Key={"PK": {"S": "c"}, "SK": {"S": "counter"}})
    with pytest.raises(ClientError, match="TransactionCanceled"):
        transaction(table, "v1", "v0")

    # Then nothing it named exists
    assert state(table) == {}


@pytest.fixture
def sqs() -> Iterator[Any]:
    with emulated_account_environment(), mock_aws():
        _count_queues_only_when_asked()
        yield boto3.client("sqs", region_name=REGION)


def test_queues_still_count_their_messages_and_fifo_queues_still_deduplicate(sqs: Any) -> None:
    # Given a standard queue and a FIFO queue that deduplicates by content
    standard = sqs.create_queue(QueueName="standard")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName="deduplicated.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]

    # When the same body is sent to each three times
    for _ in range(3):
        sqs.send_message(QueueUrl=standard, MessageBody="same")
        sqs.send_message(QueueUrl=fifo, MessageBody="same", MessageGroupId="g")

    # Then the standard queue counts three, the FIFO queue kept one
    def count(url: str) -> str:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return str(attributes["Attributes"]["ApproximateNumberOfMessages"])

    assert (count(standard), count(fifo)) == ("3", "1")

    # And receiving takes messages in flight (counted as such), and drops those past retention
    received = sqs.receive_message(QueueUrl=standard, MaxNumberOfMessages=2)["Messages"]
    assert (len(received), count(standard)) == (2, "1")
    expired = sqs.create_queue(QueueName="expired", Attributes={"MessageRetentionPeriod": "60"})
    sqs.send_message(QueueUrl=expired["QueueUrl"], MessageBody="old")
    account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
    [message] = sqs_backends[account][REGION].queues["expired"]._messages
    # sent two minutes ago
    setattr(message, "sent_timestamp", int(str(message.sent_timestamp)) - 120_000)  # noqa: B010
    assert "Messages" not in sqs.receive_message(QueueUrl=expired["QueueUrl"])
