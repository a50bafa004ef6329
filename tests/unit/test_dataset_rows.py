"""The analytics dataset's rows (analytics/rows.py) and their delivery to Firehose
(analytics/delivery.py)."""

from __future__ import annotations

import itertools
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exotel_webhooks.analytics.delivery import (
    DatasetDelivery,
    DatasetUnavailable,
    ndjson_records,
    record_batches,
)
from exotel_webhooks.analytics.rows import dataset_row
from exotel_webhooks.ledger.keys import (
    SUMMARY_SK,
    attempt_keys,
    campaign_pk,
    counter_sk,
    item_key,
    outcome_keys,
)
from localaws.analytics import dataset_columns

IST = ZoneInfo("Asia/Kolkata")
KEY = "stack-key"


def row(
    keys: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None
) -> dict[str, Any] | None:
    return dataset_row(keys, before, after, "1234", zone=IST, hash_key=KEY)


def stored_attempt(number: str = "+919800000001", **fields: Any) -> dict[str, Any]:
    keys = attempt_keys("camp", number, "call_1")
    return {
        **keys,
        "campaign_sid": "camp",
        "call_sid": "call_1",
        "number": number,
        "number_raw": number.removeprefix("+91"),
        "status": "completed",
        "date_created": "2026-11-30 09:10:00",
        "received_at": "2026-11-30T03:41:00+00:00",
        **fields,
    }


def test_an_attempt_is_a_row_of_its_hour_in_the_zone_and_no_number() -> None:
    # Given an attempt stored with a zone-less time (read in India's zone)
    item = stored_attempt(extra=json.dumps({"Duration": "95", "CustomField": "+919800000001"}))

    # When its row is made
    made = row(item, None, item)

    # Then it says when it was dialled in UTC and at which hour in the zone, its talk time,
    # and nothing that spells the number (not even an unknown field that held it)
    assert made is not None
    assert made["dialled_at"] == "2026-11-30T03:40:00Z"
    assert made["dialled_hour"] == 9
    assert made["talk_seconds"] == 95
    assert made["sequence"] == "1234".zfill(40)
    assert made["removed"] is False
    assert "9800000001" not in json.dumps(made)
    assert set(made) <= set(dataset_columns())


def test_the_same_subscriber_has_the_same_hash_in_attempts_and_outcomes() -> None:
    attempt = stored_attempt()
    outcome = {
        **outcome_keys("camp", "+919800000001"),
        "campaign_sid": "camp",
        "number": "+919800000001",
        "status": "completed",
        "call_sids": ["call_1"],
    }
    attempt_row, outcome_row = row(attempt, None, attempt), row(outcome, None, outcome)
    assert attempt_row
    assert outcome_row
    assert attempt_row["number_hash"] == outcome_row["number_hash"]
    assert attempt_row["item"] != outcome_row["item"]
    assert outcome_row["dialable"] is True
    assert outcome_row["call_sids"] == ["call_1"]


def test_a_removal_says_only_that_an_item_is_gone() -> None:
    item = stored_attempt()
    made = row(item, item, None)
    assert made == {
        "kind": "attempt",
        "item": row(item, None, item)["item"],  # type: ignore[index]
        "campaign_sid": "camp",
        "sequence": "1234".zfill(40),
        "removed": True,
    }


def test_counters_and_tombstones_are_not_rows() -> None:
    counter = {**item_key("CAMPAIGN#camp", counter_sk("shard-1")), "campaign_sid": "camp"}
    tombstone = {"PK": "ERASED#abc", "SK": "*", "erased_at": 1}
    assert row(counter, None, counter) is None
    assert row(tombstone, None, tombstone) is None


@pytest.mark.parametrize(
    ("extra", "talk"),
    [
        ({"ConversationDuration": 38, "Duration": "45"}, 38),  # talk time before call time
        ({"duration": "12.6"}, 13),
        ({"Duration": "soon"}, None),
        ({"Duration": -5}, None),
        ({"Duration": True}, None),
        ({"Duration": 10**9}, None),
        ({"Duration": 10**400}, None),  # a JSON integer no float holds: never a crash
        ({"Duration": "1e999"}, None),
        ([1, 2], None),
    ],
)
def test_a_talk_time_is_taken_only_when_it_is_one(extra: object, talk: int | None) -> None:
    item = stored_attempt(extra=json.dumps(extra))
    assert row(item, None, item)["talk_seconds"] == talk  # type: ignore[index]


def test_an_unreadable_time_is_left_out_not_guessed() -> None:
    item = stored_attempt(date_created="yesterday-ish", date_updated="0001-01-01T00:00:00+14:00")
    made = row(item, None, item)
    assert made is not None
    assert (made["dialled_at"], made["dialled_hour"], made["date_created"]) == (None, None, None)
    assert made["date_updated"] is None  # a time no UTC date holds


@given(st.lists(st.integers(1, 3000), max_size=60), st.integers(3100, 20_000))
def test_rows_pack_into_records_in_order_none_too_large(sizes: list[int], limit: int) -> None:
    rows = [{"kind": "attempt", "pad": "x" * size} for size in sizes]
    records = ndjson_records(rows, limit)
    assert all(len(record) <= limit for record in records)
    assert [json.loads(line) for r in records for line in r.splitlines()] == rows
    # and a record is closed only when the next row would not fit
    for record, following in itertools.pairwise(records):
        assert len(record) + len(following.split(b"\n", 1)[0]) + 1 > limit


class FakeFirehose:
    def __init__(self, refusals: list[set[int]]) -> None:
        self.refusals = refusals  # per call, which records to refuse
        self.calls: list[list[bytes]] = []

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict[str, bytes]]) -> Any:
        self.calls.append([r["Data"] for r in Records])
        refused = self.refusals.pop(0) if self.refusals else set()
        return {
            "FailedPutCount": len(refused),
            "RequestResponses": [
                {"ErrorCode": "ServiceUnavailableException"} if i in refused else {"RecordId": "r"}
                for i in range(len(Records))
            ],
        }


def test_records_firehose_refuses_are_sent_again_alone() -> None:
    firehose = FakeFirehose([{1}])
    rows = [{"n": i, "pad": "x" * 600_000} for i in range(3)]  # a record each
    DatasetDelivery(firehose, "rows", sleep=lambda _: None).put(rows)  # type: ignore[arg-type]
    assert [len(call) for call in firehose.calls] == [3, 1]
    assert json.loads(firehose.calls[1][0])["n"] == 1


def test_rows_firehose_keeps_refusing_fail_the_invocation() -> None:
    firehose = FakeFirehose([{0}] * 10)
    with pytest.raises(DatasetUnavailable):
        DatasetDelivery(firehose, "rows", sleep=lambda _: None).put([{"n": 1}])  # type: ignore[arg-type]


@given(st.lists(st.binary(min_size=1, max_size=50), max_size=40), st.integers(1, 5))
def test_records_go_in_order_in_batches_within_firehoses_limits(
    records: list[bytes], max_records: int
) -> None:
    batches = list(record_batches(records, max_records, max_bytes=100))
    assert [r for batch in batches for r in batch] == records
    assert all(len(batch) <= max_records and sum(map(len, batch)) <= 100 for batch in batches)


def test_a_summary_holding_only_a_sweeps_bookkeeping_is_a_row_of_its_campaign() -> None:
    # Given a summary item a sweep started, before any status is known (no campaign_sid field)
    summary = {**item_key(campaign_pk("camp_1"), SUMMARY_SK), "sweep": {"offset": 2}}

    # Then its row names the campaign its key names
    made = row(summary, None, summary)
    assert made is not None
    assert (made["kind"], made["campaign_sid"], made["status"]) == ("campaign", "camp_1", None)


@given(
    kind=st.sampled_from(["attempt", "outcome", "summary"]),
    fields=st.dictionaries(
        st.sampled_from(
            [
                "campaign_sid",
                "status",
                "date_created",
                "date_updated",
                "received_at",
                "extra",
                "call_sids",
                "source",
                "call_sid",
            ]
        ),
        st.one_of(st.none(), st.text(max_size=20), st.integers(), st.lists(st.text(max_size=5))),
    ),
    removed=st.booleans(),
)
def test_any_stored_item_makes_a_row_without_failing(
    kind: str, fields: dict[str, Any], removed: bool
) -> None:
    # Given any item the ledger could hold under an attempt's, outcome's or summary's key
    keys = {
        "attempt": attempt_keys("camp", "+919800000001", "call_1"),
        "outcome": outcome_keys("camp", "0XXXXXX4890@call_1"),
        "summary": item_key(campaign_pk("camp"), SUMMARY_SK),
    }[kind]
    item = {**keys, **fields}

    # Then its row is made (a crash would hold the stream's shard), naming its campaign
    made = row(keys, item, None if removed else item)
    assert made is not None
    assert made["campaign_sid"] == "camp"
    json.dumps(made)
