"""The call details cost model's arithmetic (bench/details_cost.py): counts to USD."""

from __future__ import annotations

import pytest

from bench.details_cost import ATTEMPTS, Counts, RecordingCounts, bill, monthly, recordings_bill
from bench.metering import Ledger
from bench.prices import US_EAST_1
from localaws.template import Template


def counted(invocations: int) -> Counts:
    """What 1,000 attempts did, in `invocations` batches: one details write each, a turn
    per invocation, a counter write and a Firehose record per stream window."""
    counts = Counts()
    counts.sends = 0.1
    counts.invocations = counts.exotel_requests = invocations
    counts.function = Ledger(table_write_units=ATTEMPTS + invocations, read_units=invocations)
    counts.function.calls["dynamodb.UpdateItem"] = ATTEMPTS + invocations
    counts.window = Ledger(table_write_units=invocations, dataset_records=invocations)
    counts.window.calls["dynamodb.UpdateItem"] = invocations
    return counts


def test_each_attempt_pays_its_details_write_and_its_share_of_the_queue() -> None:
    # Given 1,000 attempts in 10 full batches
    lines = bill(counted(10), Template.load(), US_EAST_1)

    # Then SQS bills a send per 10 and a receive and a delete per 10 messages: 0.3 a attempt
    assert lines["SQS (send, receive, delete)"] == pytest.approx(0.3 * US_EAST_1.sqs_per_million)
    # ... DynamoDB a write unit each, and a turn per request
    assert lines["DynamoDB (turns, details writes)"] == pytest.approx(
        1.01 * US_EAST_1.dynamodb_write_per_million + 0.01 * US_EAST_1.dynamodb_read_per_million
    )


def test_smaller_batches_cost_more_invocations_and_requests_to_exotel() -> None:
    # Given the same attempts in batches of 10 rather than 100
    full, thin = (bill(counted(n), Template.load(), US_EAST_1) for n in (10, 100))

    # Then the function's line grows with its invocations and waits on Exotel; the writes do not
    assert thin["call details Lambda"] > 5 * full["call details Lambda"]
    assert thin["streams (counters, dataset rows)"] > full["streams (counters, dataset rows)"]


def test_turning_call_details_on_adds_its_queues_polling_alarm_and_metric() -> None:
    fixed = monthly(Template.load(), US_EAST_1)
    assert fixed["idle SQS polling (1 mapping)"] == pytest.approx(0.26, abs=0.005)
    assert sum(fixed.values()) < 1.0


def test_a_kept_recording_pays_its_three_upload_requests_and_its_share_of_a_batch() -> None:
    # Given 100 recordings in 10 batches: a multipart upload (3 S3 requests) and a write each
    counts = RecordingCounts()
    counts.sends, counts.invocations, counts.exotel_requests = 10, 10, 10
    counts.bytes = 100 * 200 * 1024
    counts.function = Ledger(table_write_units=110, read_units=5)
    for call in ("s3.CreateMultipartUpload", "s3.UploadPart", "s3.CompleteMultipartUpload"):
        counts.function.calls[call] = 100
    counts.function.calls["dynamodb.UpdateItem"] = 110

    # When they are priced
    lines = recordings_bill(counts, Template.load(), US_EAST_1)

    # Then S3 bills 3 PUT-class requests a recording, DynamoDB 1.1 write units
    assert lines["S3 requests"] == pytest.approx(3 * US_EAST_1.s3_put_per_thousand * 1000)
    assert lines["DynamoDB"] == pytest.approx(
        1.1 * US_EAST_1.dynamodb_write_per_million + 0.05 * US_EAST_1.dynamodb_read_per_million
    )
