"""The promise through every door into the ledger other than a webhook: a Campaign API sweep,
an erasure, an expiry, a recount (docs/architecture.md, "Guarantees"). Each case is a way one
of them once broke the promise, found by attacking it as a hostile API, sender or operator."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from exotel_webhooks.ledger.api_records import ApiCall
from exotel_webhooks.ledger.keys import SUMMARY_SK, campaign_pk, is_counter, outcome_keys, to_item
from exotel_webhooks.ledger.recording import CampaignLedger
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.sweep.campaign_api import CampaignApiRefused
from exotel_webhooks.sweep.due import campaigns_to_sweep
from exotel_webhooks.sweep.scheduled import sweep_handler
from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, STACK_NAME, Deployment
from localaws.runtime import LocalLambdaContext
from ops.__main__ import main as ops_main
from ops.erase import erase_number
from ops.sweep import SweepNotConfigured, _sweeper, api_access
from ops.target import Target
from tests.stack.test_processors import PROCESSORS, Processors, campaign_status, published
from tests.stack.test_reports import Fetcher
from tests.stack.test_sweep import ROWS, FakeCampaignApi, sweeper
from tests.support.campaigns import START, Message, message
from tests.support.pipeline import LedgerStream
from tests.support.report_server import ReportServer, Route
from tests.support.stack import AwsCalls, LoadFunction

A_NUMBER, B_NUMBER = "+919876543210", "+919812345678"
NOW = datetime(2024, 1, 16, tzinfo=UTC)


@pytest.fixture
def processors(load_function: LoadFunction, stack: Deployment) -> Processors:
    return Processors(load_function, stack)


def ledger_table(stack: Deployment) -> CampaignTable:
    return CampaignTable(
        boto3.client("dynamodb", region_name=REGION), stack.physical_id("CampaignTable")
    )


def row(call_sid: str, status: str, minute: int, **fields: Any) -> dict[str, Any]:
    return {
        "call_sid": call_sid,
        "number": B_NUMBER,
        "status": status,
        "date_created": f"2024-01-15T09:{minute:02d}:00+05:30",
        "end_time": f"2024-01-15T09:{minute:02d}:30+05:30",
        **fields,
    }


# ------------------------------------------------ 1. a sweep stores what a callback could
ODD_ROWS = [
    row("call_old", "busy", 1, date_created="0001-01-01 00:00:00", end_time=None),
    row("call_far", "busy", 1, end_time="9999-12-31T23:00:00-05:00"),
    row("x" * 1100, "busy", 1),
    row("call#NUMBER#x", "busy", 1),
    row("call_other", "busy", 1, campaign_sid="camp_other"),
    row("call_stale", "busy", 1, end_time="2099-01-01T00:00:00+05:30"),
]


def test_rows_a_callback_could_not_carry_are_refused_by_reason_and_the_sweep_goes_on(
    stack: Deployment, processors: Processors
) -> None:
    # Given a campaign whose API rows include dates out of range or in the far future, a call
    # SID over 1 KiB, one holding the keys' separator, and one naming another campaign
    exotel = FakeCampaignApi([*ROWS, *ODD_ROWS])

    # When it is swept
    report = sweeper(stack, exotel).sweep("camp_1")

    # Then the three good rows are stored, the rest refused and counted by reason
    assert report.finished
    assert report.rows_refused == {"bad_date": 3, "unstorable": 2, "other_campaign": 1}
    summary = processors.campaign()
    assert summary["attempts"]["total"] == 3
    assert summary["numbers"] == {"total": 2, "by_status": {"completed": 1, "no-answer": 1}}
    assert summary["sweep"]["rows_refused"] == report.rows_refused


def test_an_api_status_dated_in_the_future_is_refused_and_cannot_block_completion(
    stack: Deployment, processors: Processors
) -> None:
    # Given an API that says the campaign is InProgress as of 2099
    exotel = FakeCampaignApi(list(ROWS), status="InProgress")
    exotel.campaign_date = "2099-01-01T00:00:00+05:30"

    # When it is swept, the answer is refused and nothing of its status is stored
    with pytest.raises(CampaignApiRefused, match="implausible date_updated"):
        sweeper(stack, exotel).sweep("camp_1")

    # Then the real completion, when it comes, is stored and announced
    processors.process(campaign_status("Completed", 30))
    assert processors.campaign()["status"] == "Completed"


def test_a_call_sid_is_one_attempt_whichever_door_names_it(
    stack: Deployment, processors: Processors
) -> None:
    # Given a call whose callback named the number masked, and an API that names it in full
    masked = message(
        CallbackType.CALL_STATUS,
        {"campaign_sid": "camp_1", "call_sid": "call_1", "number": "0XXXXXX3210",
         "status": "busy", "date_updated": "2024-01-15T09:05:00+05:30"},
    )  # fmt: skip
    processors.process(masked)

    # When the final campaign is swept
    sweeper(stack, FakeCampaignApi(list(ROWS))).sweep("camp_1")

    # Then call_1 is one attempt (the callback's), and three calls are three attempts
    summary = processors.campaign()
    assert summary["attempts"] == {
        "total": 3,
        "by_status": {"busy": 1, "completed": 1, "no-answer": 1},
    }
    # ... and nothing kept under the mask holds the full number (an erasure could not find it)
    masked_items = [
        item for item in ledger_table(stack).campaign_numbers("camp_1") if "0XXXXXX" in item["PK"]
    ]
    assert masked_items
    assert not [item for item in masked_items if A_NUMBER in str(item)]


def two_quiet_campaigns(processors: Processors) -> None:
    """camp_1 and camp_2, InProgress since 10:00 and 10:01 on 2024-01-15."""
    processors.process(campaign_status("InProgress", 0))
    second = message(
        CallbackType.CAMPAIGN_STATUS,
        {"campaign_sid": "camp_2", "status": "InProgress", "date_updated": "2024-01-15T10:01:00"},
    )
    processors.process(second)


def test_one_campaign_whose_sweep_fails_never_stops_the_scheduled_run(
    stack: Deployment, processors: Processors
) -> None:
    # Given two quiet campaigns, the first of which the sweep cannot handle (a fault of ours)
    two_quiet_campaigns(processors)
    exotel = FakeCampaignApi(list(ROWS))
    sweep = sweeper(stack, exotel)
    original = sweep.api.call_page

    def failing(campaign_sid: str, *args: Any, **kwargs: Any) -> Any:
        if campaign_sid == "camp_1":
            raise RuntimeError("a fault nobody foresaw")
        return original(campaign_sid, *args, **kwargs)

    sweep.api.call_page = failing  # type: ignore[method-assign]
    table = ledger_table(stack)
    now = datetime.now(UTC)
    assert campaigns_to_sweep(table, now, timedelta(hours=1)) == ["camp_1", "camp_2"]

    # When the scheduled sweep runs
    handler = sweep_handler(table, sweep.api, timedelta(hours=1))
    result = handler({}, LocalLambdaContext("sweep", timeout_seconds=900))  # type: ignore[arg-type]

    # Then the second campaign is swept, the first is noted and waits a quiet period
    assert result["failed"] == ["camp_1: RuntimeError"]
    assert [line.split(":")[0] for line in result["swept"]] == ["camp_2"]
    assert "RuntimeError" in processors.campaign()["sweep"]["refused"]
    assert campaigns_to_sweep(table, now, timedelta(hours=1)) == []


# ------------------------------------------------------------ 2. a sweep always ends
@pytest.mark.parametrize("shuffles", [False, True], ids=["same order", "rows shuffled"])
def test_an_api_that_ignores_offset_is_refused_instead_of_paged_for_ever(
    stack: Deployment, processors: Processors, shuffles: bool
) -> None:
    # Given an API that answers the first page at every offset, with no total, perhaps in
    # another order each time (rows created in the same second)
    exotel = FakeCampaignApi(list(ROWS))
    exotel.ignores_offset = True
    exotel.no_total = True
    exotel.shuffles = shuffles

    # When it is swept a page of 2 at a time
    with pytest.raises(CampaignApiRefused, match="ignores offset"):
        sweeper(stack, exotel, page_size=2).sweep("camp_1")

    # Then it stopped at the second page, and the rows it read are stored
    assert exotel.pages == 2
    assert processors.campaign()["attempts"]["total"] == 2


def test_a_total_that_keeps_growing_is_bounded_by_the_largest_campaign(
    stack: Deployment, processors: Processors, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an API that always has one more row (a bound of 5 rows stands in for 2 million)
    monkeypatch.setattr("exotel_webhooks.sweep.sweeper.MAX_ROWS", 5)
    exotel = FakeCampaignApi([row(f"call_{n}", "busy", n % 60) for n in range(50)])
    exotel.no_total = True

    # When it is swept a row a page
    with pytest.raises(CampaignApiRefused, match="past 5 rows"):
        sweeper(stack, exotel, page_size=1).sweep("camp_1")

    # Then it read no more than the bound
    assert exotel.pages == 5


def test_a_campaign_cut_short_twice_without_reading_a_row_waits_a_quiet_period(
    stack: Deployment, processors: Processors
) -> None:
    # Given a quiet campaign whose sweeps run out of time before their first page
    processors.process(campaign_status("InProgress", 0))
    table = ledger_table(stack)
    now = datetime.now(UTC)
    quiet = timedelta(hours=1)
    exotel = FakeCampaignApi(list(ROWS), status="InProgress")

    # When it is swept that way once, it is due again at once; twice, it waits
    sweeper(stack, exotel, seconds_left=lambda: 0.0).sweep("camp_1")
    assert campaigns_to_sweep(table, now, quiet) == ["camp_1"]
    sweeper(stack, exotel, seconds_left=lambda: 0.0).sweep("camp_1")
    assert campaigns_to_sweep(table, now, quiet) == []
    assert campaigns_to_sweep(table, now + 2 * quiet, quiet) == ["camp_1"]

    # ... and a sweep that reads rows starts the count again
    sweeper(stack, exotel).sweep("camp_1")
    summary = table.get(campaign_pk("camp_1"), SUMMARY_SK) or {}
    assert summary["sweep"]["short_runs"] == 0


# ------------------------------------------------------------ 3. final stays final
@pytest.mark.parametrize("after", ["InProgress", "Archived"])
def test_once_final_the_api_never_moves_a_campaign_back(
    stack: Deployment, processors: Processors, aws_calls: AwsCalls, after: str
) -> None:
    # Given a campaign the API said was Completed
    exotel = FakeCampaignApi(list(ROWS), status="Completed")
    sweeper(stack, exotel).sweep("camp_1")

    # When the API later says a newer non-final status, then Completed again
    exotel.status, exotel.campaign_date = after, "2024-01-15T19:00:00+05:30"
    sweeper(stack, exotel).sweep("camp_1")
    between = processors.campaign()["status"]
    exotel.status, exotel.campaign_date = "Completed", "2024-01-15T20:00:00+05:30"
    sweeper(stack, exotel).sweep("camp_1")

    # Then it stayed Completed, and its completion was announced once
    assert between == "Completed"
    assert processors.campaign()["status"] == "Completed"
    assert len(published(aws_calls, "CampaignCompleted")) == 1


def test_once_final_a_callback_moves_a_campaign_only_to_another_final_status(
    processors: Processors, aws_calls: AwsCalls
) -> None:
    # Given a campaign completed by its callback
    processors.process(campaign_status("Completed", 10))

    # When a later callback says Archived, then another says Failed
    processors.process(campaign_status("Archived", 20))
    archived = processors.campaign()["status"]
    processors.process(campaign_status("Failed", 30))

    # Then Archived left it final; Failed replaced Completed, announcing nothing more
    assert archived == "Completed"
    assert processors.campaign()["status"] == "Failed"
    assert len(published(aws_calls, "CampaignCompleted")) == 1


# ------------------------------------------------ 4. (in part) every ops command reads as the stack
def stack_target(**parameters: str) -> Target:
    """The emulated stack as the operations commands see it, deployed with `parameters`."""
    target = Target(STACK_NAME, REGION)
    target.__dict__["parameters"] = {**target.parameters, **parameters}
    return target


def test_erase_reads_a_number_with_the_stacks_phone_region(stack: Deployment) -> None:
    # Given a Singapore stack (DefaultPhoneRegion SG) holding an attempt of +65 9123 4567
    table = ledger_table(stack)
    sent = {"call_sid": "call_sg", "number": "91234567", "status": "completed"}
    api_call = ApiCall("call_sg", "+6591234567", sent["number"], "completed", None, None)
    CampaignLedger(table).record_api_call("camp_sg", api_call, outcome_of=None, now=NOW)

    # When the operator erases the number as Singapore writes it
    erasure = erase_number(stack_target(DefaultPhoneRegion="SG"), "91234567")

    # Then the Singaporean subscriber is erased (not +91 9123 4567, who is nobody here)
    assert (erasure.number, erasure.attempts) == ("+6591234567", 1)
    assert table.number_items("+6591234567") == []


def test_make_sweep_reads_with_the_stacks_settings(stack: Deployment) -> None:
    # Given a Singapore stack whose zone-less times are Singapore's
    target = stack_target(DefaultPhoneRegion="SG", LocalTimezone="Asia/Singapore")
    environ = {"EXOTEL_API_KEY": "k", "EXOTEL_API_TOKEN": "t", "EXOTEL_ACCOUNT_SID": "a"}

    # When make sweep builds its client
    sweeper = _sweeper(target, environ)

    # Then it reads numbers and times as the stack's sweep function does
    assert sweeper.api.rules.default_phone_region == "SG"
    assert str(sweeper.api.rules.local_timezone) == "Asia/Singapore"
    assert sweeper.seconds_left() <= 900


# ------------------------------------------------ 6. make sweep sends credentials to Exotel only
@pytest.mark.parametrize(
    "environ",
    [
        {"EXOTEL_API_URL": "https://collector.example.com"},
        {"EXOTEL_API_URL": "http://127.0.0.1:8080"},  # loopback, but no local stack
        {"EXOTEL_API_HOST": "api.exotel.com.attacker.example"},
    ],
    ids=["https elsewhere", "loopback outside the local stack", "a host not Exotel's"],
)
def test_make_sweep_sends_the_account_key_to_exotel_only(
    stack: Deployment, environ: dict[str, str]
) -> None:
    credentials = {"EXOTEL_API_KEY": "k", "EXOTEL_API_TOKEN": "t", "EXOTEL_ACCOUNT_SID": "a"}
    with pytest.raises(SweepNotConfigured, match="Exotel"):
        api_access(stack_target(), {**credentials, **environ})


def test_make_sweep_uses_the_stacks_exotel_cluster(stack: Deployment) -> None:
    credentials = {"EXOTEL_API_KEY": "k", "EXOTEL_API_TOKEN": "t", "EXOTEL_ACCOUNT_SID": "a"}
    access = api_access(stack_target(ExotelApiHost="api.in.exotel.com"), credentials)
    assert (access.host, access.allow_loopback) == ("api.in.exotel.com", False)


# ---------------------------------------- 5. counters equal the items, whatever removes them
DAY = timedelta(days=1)


class Ledger:
    """The processors of a stack keeping data `days` days, the stream read on a shard the test
    chooses (DynamoDB rolls a stream's shards over about every 4 hours), and TTL played by
    hand: `expire(at)` deletes what DynamoDB's TTL would by then, counters included."""

    def __init__(self, load_function: LoadFunction, stack: Deployment, days: int = 30) -> None:
        self.processors = Processors(load_function, stack)
        self.processors.handlers = {
            kind: load_function(name, DATA_RETENTION_DAYS=str(days))
            for kind, name in PROCESSORS.items()
        }
        counting = load_function("LedgerStreamFunction")
        self.shard = "shardId-00000001"
        self.processors.stream = LedgerStream(
            stack, lambda event: counting({**event, "shardId": self.shard})
        )
        self.table = ledger_table(stack)
        self.client = self.table.client

    def roll_over(self) -> None:
        self.shard = f"shardId-{int(self.shard.split('-')[1]) + 1:08d}"

    def expire(self, at: datetime) -> None:
        for item in list(self.table.every_item()):
            if "expires_at" in item and int(item["expires_at"]) <= at.timestamp():
                self.client.delete_item(
                    TableName=self.table.name, Key=to_item({"PK": item["PK"], "SK": item["SK"]})
                )
        self.processors.stream.settle()

    def counts(self, sid: str) -> dict[str, Any] | None:
        """The read API's counts of the campaign (None: 404)."""
        status, body = self.processors.get(f"/campaigns/{sid}")
        if status == 404:
            return None
        return {"attempts": body["attempts"], "numbers": body["numbers"]}

    def truth(self, sid: str) -> dict[str, Any] | None:
        """The same counts, from the items stored."""
        items = list(self.table.campaign_numbers(sid))
        summary = self.table.get(campaign_pk(sid), SUMMARY_SK, consistent=True)
        if not items and summary is None:
            return None
        counted = {}
        for family, sk in (("attempts", "ATTEMPT#"), ("numbers", "OUTCOME")):
            statuses = Counter(i["status"] for i in items if str(i["SK"]).startswith(sk))
            counted[family] = {
                "total": sum(statuses.values()),
                "by_status": dict(sorted(statuses.items())),
            }
        return counted


def call(sid: str, call_sid: str, status: str, minute: int, received: datetime) -> Message:
    fields = {"campaign_sid": sid, "call_sid": call_sid, "number": f"+9198000{call_sid[-5:]}",
              "status": status, "date_updated": f"2024-01-15T09:{minute:02d}:00+05:30"}  # fmt: skip
    return message(CallbackType.CALL_STATUS, fields, received)


@pytest.fixture
def ledger(load_function: LoadFunction, stack: Deployment) -> Ledger:
    return Ledger(load_function, stack)


def test_an_erasure_never_shortens_the_life_of_a_counter(ledger: Ledger) -> None:
    # Given an attempt kept until day 40, and another, received earlier, until day 31
    ledger.processors.process(call("camp_e", "call_00001", "completed", 5, START + 10 * DAY))
    ledger.processors.process(call("camp_e", "call_00002", "busy", 6, START + DAY))

    # When the second is erased, and day 35 comes
    for item in ledger.table.number_items("+919800000002", "camp_e"):
        ledger.table.erase(item)
    ledger.processors.stream.settle()
    ledger.expire(START + 35 * DAY)

    # Then the live attempt is still counted
    assert ledger.counts("camp_e") == ledger.truth("camp_e")
    assert ledger.counts("camp_e")["attempts"]["total"] == 1  # type: ignore[index]


def test_an_attempt_counted_on_two_shards_is_counted_exactly_until_it_expires(
    ledger: Ledger,
) -> None:
    # Given an attempt stored ringing on one stream shard, and completed on the next
    ledger.processors.process(call("camp_r", "call_00001", "ringing", 5, START + DAY))
    ledger.roll_over()
    ledger.processors.process(call("camp_r", "call_00001", "completed", 9, START + 10 * DAY))

    # When the day the ringing version would have expired comes, then the completed one's
    ledger.expire(START + 35 * DAY)
    between = ledger.counts("camp_r")
    ledger.expire(START + 45 * DAY)

    # Then it was counted once, completed, and then not at all: no count ever negative
    assert between == {"attempts": {"total": 1, "by_status": {"completed": 1}},
                       "numbers": {"total": 0, "by_status": {}}}  # fmt: skip
    assert ledger.truth("camp_r") is None
    assert ledger.counts("camp_r") is None


def test_recounted_counters_leave_with_the_items_they_count(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a campaign whose counters were lost and rebuilt by make recount
    ledger.processors.process(call("camp_c", "call_00001", "failed", 5, START + DAY))
    for item in ledger.table.campaign_items("camp_c"):
        if is_counter(item):
            ledger.client.delete_item(
                TableName=ledger.table.name, Key=to_item({"PK": item["PK"], "SK": item["SK"]})
            )
    assert ops_main(["--stack", STACK_NAME, "recount", "camp_c"]) == 0

    # When every item of it has expired, and the reset counters' own time has passed
    ledger.expire(START + 40 * DAY)
    ledger.expire(datetime.now(UTC) + 3 * DAY)

    # Then the campaign is gone, not answered with its old counts
    assert ledger.counts("camp_c") is None
    assert ledger.table.campaign_items("camp_c") == []


# ---------------------------------------- 4. an erasure is complete, and it stays erased
def a_numbers_outcome() -> Message:
    """Number A's outcome callback: busy after call_1."""
    return message(CallbackType.CALL_SCHEDULE, {
        "campaign_sid": "camp_1", "to": A_NUMBER, "status": "busy", "call_sids": ["call_1"],
        "date_updated": "2024-01-15T09:30:00+05:30"})  # fmt: skip


def masked_call(call_sid: str, status: str, minute: int) -> Message:
    fields = {"campaign_sid": "camp_1", "call_sid": call_sid, "number": "0XXXXXX4890",
              "status": status, "date_updated": f"2024-01-15T09:{minute:02d}:00+05:30"}  # fmt: skip
    return message(CallbackType.CALL_STATUS, fields)


@pytest.mark.parametrize("key", ["0XXXXXX4890@call_1", "0XXXXXX4890@call_2"])
def test_erasing_a_masked_subscriber_erases_every_retry_its_outcome_names(
    processors: Processors, stack: Deployment, key: str
) -> None:
    # Given a masked subscriber called three times, and its outcome naming the three calls
    outcome = message(CallbackType.CALL_SCHEDULE, {
        "campaign_sid": "camp_1", "to": "0XXXXXX4890", "status": "completed",
        "call_sids": ["call_1", "call_2", "call_3"],
        "date_updated": "2024-01-15T10:00:00+05:30"})  # fmt: skip
    processors.process(
        campaign_status("InProgress", 0),
        masked_call("call_1", "busy", 1),
        masked_call("call_2", "no-answer", 20),
        masked_call("call_3", "completed", 40),
        outcome,
    )

    # When the operator erases it by the key the read API shows (its outcome's, or a retry's)
    erasure = erase_number(stack_target(), key, "camp_1")

    # Then every attempt and the outcome are gone, and nothing of it is counted
    assert (erasure.attempts, erasure.outcomes) == (3, 1)
    summary = processors.campaign()
    assert (summary["attempts"]["total"], summary["numbers"]["total"]) == (0, 0)


def test_an_erasure_cleans_every_stored_report_of_the_campaign(
    processors: Processors, stack: Deployment
) -> None:
    # Given two stored reports naming the number: an earlier one, and the one the summary names
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.physical_id("ReportBucket")
    csv = f"Number,Status\n{A_NUMBER},completed\n{B_NUMBER},busy\n".encode()
    for key in ("reports/camp_1/earlier.csv", "reports/camp_1/current.csv"):
        s3.put_object(Bucket=bucket, Key=key, Body=csv)
    processors.process(campaign_status("Completed", 5))
    ledger_table(stack).set(campaign_pk("camp_1"), SUMMARY_SK, {"report": {
        "status": "stored", "s3_uri": f"s3://{bucket}/reports/camp_1/current.csv"}})  # fmt: skip

    # When the number is erased
    erase_number(stack_target(), A_NUMBER, "camp_1")

    # Then neither report names it, in any version
    for key in ("reports/camp_1/earlier.csv", "reports/camp_1/current.csv"):
        versions = s3.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        assert len(versions) == 1
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
        assert A_NUMBER not in text
        assert B_NUMBER in text


def test_an_erased_number_is_never_written_back_by_any_door(
    processors: Processors, stack: Deployment, aws_calls: AwsCalls
) -> None:
    # Given a number whose outcome callback was stored, then erased
    first = a_numbers_outcome()
    processors.process(first)
    erase_number(stack_target(), A_NUMBER, "camp_1")
    announced = len(published(aws_calls, "CallScheduleCompleted"))

    # When the callback is redelivered, the final campaign is swept, and a report backfills
    processors.process(first)
    sweeper(stack, FakeCampaignApi(list(ROWS))).sweep("camp_1")
    table = ledger_table(stack)
    backfill = {
        **outcome_keys("camp_1", A_NUMBER),
        "campaign_sid": "camp_1", "number": A_NUMBER, "status": "completed",
        "report_status": "completed", "source": "report", "version": "0#0#report",
    }  # fmt: skip
    assert table.report_number(backfill, None) is None

    # Then the number is nowhere in the ledger, counted nowhere, announced no more; the other
    # number is recovered as before
    assert table.number_items(A_NUMBER) == []
    summary = processors.campaign()
    assert summary["numbers"] == {"total": 1, "by_status": {"no-answer": 1}}
    assert summary["attempts"]["total"] == 1
    numbers = [e["number"] for e in published(aws_calls, "CallScheduleCompleted")[announced:]]
    assert numbers == [B_NUMBER]


def test_an_erasure_in_every_campaign_blocks_every_campaign(
    processors: Processors, stack: Deployment
) -> None:
    # Given a number erased account-wide (no CAMPAIGN)
    erase_number(stack_target(), A_NUMBER)

    # When a campaign it was never in is swept
    sweeper(stack, FakeCampaignApi(list(ROWS))).sweep("camp_1")

    # Then it is not written there either
    assert ledger_table(stack).number_items(A_NUMBER) == []


def test_a_report_backfill_racing_an_erasure_does_not_write_the_number_back(
    processors: Processors, stack: Deployment
) -> None:
    # Given the reconciliation read a number's outcome, and then the number was erased
    first = a_numbers_outcome()
    processors.process(first)
    table = ledger_table(stack)
    [stale] = table.outcomes("camp_1", [A_NUMBER])
    erase_number(stack_target(), A_NUMBER, "camp_1")

    # When the reconciliation records what the report says of it, from what it read
    backfill = {**stale, "status": "completed", "report_status": "completed",
                "source": "report", "version": "0#0#report"}  # fmt: skip

    # Then nothing is written back
    assert table.report_number(backfill, stale) is None
    assert table.number_items(A_NUMBER) == []


def test_a_write_that_missed_the_tombstone_is_erased_too(
    processors: Processors, stack: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a number's attempt, and a door whose read of the tombstone is stale: while the
    # erasure waits for its tombstone to be seen everywhere, that door writes the number again
    processors.process(call("camp_1", "call_00001", "busy", 5, START + DAY))
    number = "+919800000001"
    raced: list[bool] = []

    def a_door_writes_meanwhile(_: float) -> None:
        if not raced:
            raced.append(True)
            with monkeypatch.context() as stale:
                stale.setattr(CampaignTable, "erased", lambda *_: False)
                processors.process(call("camp_1", "call_00001", "completed", 9, START + DAY))

    monkeypatch.setattr("ops.erase.time.sleep", a_door_writes_meanwhile)

    # When it is erased
    erasure = erase_number(stack_target(), number, "camp_1")

    # Then what the racing door wrote is gone too
    assert raced
    assert erasure.attempts == 2
    assert ledger_table(stack).number_items(number, "camp_1") == []


def test_a_throttled_table_stops_the_scheduled_run_without_blaming_the_campaign(
    stack: Deployment, processors: Processors
) -> None:
    # Given two quiet campaigns, and DynamoDB throttling while the first is swept
    two_quiet_campaigns(processors)
    sweep = sweeper(stack, FakeCampaignApi(list(ROWS), status="InProgress"))
    throttled = ClientError(
        {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
        "UpdateItem",
    )

    def throttling(campaign_sid: str, *args: Any, **kwargs: Any) -> Any:
        raise throttled

    sweep.api.call_page = throttling  # type: ignore[method-assign]
    table = ledger_table(stack)
    now = datetime.now(UTC)

    # When the scheduled sweep runs
    handler = sweep_handler(table, sweep.api, timedelta(hours=1))
    result = handler({}, LocalLambdaContext("sweep", timeout_seconds=900))  # type: ignore[arg-type]

    # Then the run stops at the first, which is not marked refused and is due again at once
    assert result == {"swept": [], "failed": ["camp_1: ClientError"]}
    assert processors.campaign()["sweep"]["refused"] is None
    assert campaigns_to_sweep(table, now, timedelta(hours=1)) == ["camp_1", "camp_2"]


@pytest.mark.enable_socket
def test_a_report_fetched_after_an_erasure_does_not_keep_the_number(
    stack: Deployment, load_function: LoadFunction, report_server: ReportServer
) -> None:
    # Given a number erased while its campaign ran
    erase_number(stack_target(), A_NUMBER, "camp_1")

    # When the campaign's report, which names it, is fetched
    report_server.routes["/r.csv"] = Route(
        body=f"number,status\n{A_NUMBER},completed\n{B_NUMBER},busy\n".encode()
    )
    fetcher = Fetcher(load_function, report_server, stack)
    assert fetcher.fetch("/r.csv") == {"batchItemFailures": []}

    # Then neither the ledger nor the stored report holds it; the other number is backfilled
    bucket = stack.physical_id("ReportBucket")
    s3 = boto3.client("s3", region_name=REGION)
    stored = s3.get_object(Bucket=bucket, Key="reports/camp_1/evt-1.csv")["Body"].read()
    assert stored == f"number,status\r\n{B_NUMBER},busy\r\n".encode()
    versions = s3.list_object_versions(Bucket=bucket, Prefix="reports/camp_1/evt-1.csv")
    assert len(versions.get("Versions", [])) == 1
    assert ledger_table(stack).number_items(A_NUMBER) == []
    campaign = fetcher.campaign()
    assert campaign["numbers"] == {"total": 1, "by_status": {"busy": 1}}
    assert campaign["report"]["rows"] == 1


def test_a_masked_callback_after_a_sweep_replaces_the_apis_attempt_of_its_call(
    stack: Deployment, processors: Processors
) -> None:
    # Given a final campaign swept while its callbacks were late: call_1 stored in full
    sweeper(stack, FakeCampaignApi(list(ROWS))).sweep("camp_1")

    # When call_1's callback arrives at last, naming the number masked
    masked = message(
        CallbackType.CALL_STATUS,
        {"campaign_sid": "camp_1", "call_sid": "call_1", "number": "0XXXXXX3210",
         "status": "busy", "date_updated": "2024-01-15T09:05:00+05:30"},
    )  # fmt: skip
    processors.process(masked)

    # Then call_1 is still one attempt: the callback's
    summary = processors.campaign()
    assert summary["attempts"] == {
        "total": 3,
        "by_status": {"busy": 1, "completed": 1, "no-answer": 1},
    }
    [stored] = ledger_table(stack).stored_calls("camp_1", "call_1")
    assert "0XXXXXX3210" in stored["PK"]


def test_recount_keeps_counters_an_earlier_version_let_expire(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a live attempt counted on a counter item that an earlier version gave an expiry
    ledger.processors.process(call("camp_u", "call_00001", "completed", 5, START + 10 * DAY))
    [counter] = [i for i in ledger.table.campaign_items("camp_u") if is_counter(i)]
    ledger.table.set(counter["PK"], counter["SK"], {"expires_at": int((START + DAY).timestamp())})

    # When make recount runs, and the old expiry passes
    assert ops_main(["--stack", STACK_NAME, "recount", "camp_u"]) == 0
    ledger.expire(START + 5 * DAY)

    # Then the attempt is still counted
    assert ledger.counts("camp_u") == ledger.truth("camp_u")
    assert ledger.counts("camp_u")["attempts"]["total"] == 1  # type: ignore[index]


def test_counters_on_more_shards_than_a_transaction_takes_still_leave_with_their_items(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a campaign counted on 16 stream shards, when a transaction takes 3 items (100 in
    # AWS): more folds than a conflict is retried
    monkeypatch.setattr("exotel_webhooks.ledger.table.MAX_TRANSACTION_ITEMS", 3)
    for n in range(10, 26):
        ledger.processors.process(call("camp_s", f"call_000{n}", "busy", n, START + DAY))
        ledger.roll_over()

    # When every item is erased
    for n in range(10, 26):
        for item in ledger.table.number_items(f"+9198000000{n}", "camp_s"):
            ledger.table.erase(item)
    ledger.processors.stream.settle()

    # Then the counters were reset (folded first), and leave once their own time has passed
    counters = [i for i in ledger.table.campaign_items("camp_s") if is_counter(i)]
    assert counters
    assert all("expires_at" in item for item in counters)
    assert ledger.counts("camp_s") is None
    ledger.expire(datetime.now(UTC) + 3 * DAY)
    assert ledger.table.campaign_items("camp_s") == []


def test_an_erasure_cleans_a_report_without_a_status_column_and_one_stored_meanwhile(
    processors: Processors, stack: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stored report the reconciliation could not read (no status column)
    s3 = boto3.client("s3", region_name=REGION)
    bucket = stack.physical_id("ReportBucket")
    s3.put_object(Bucket=bucket, Key="reports/camp_1/odd.csv",
                  Body=f"Mobile,Name\n{A_NUMBER},Asha\n{B_NUMBER},Ravi\n".encode())  # fmt: skip
    # ... and a report the fetcher stores while the erasure runs
    stored_meanwhile: list[bool] = []

    def a_report_arrives(_: float) -> None:
        if not stored_meanwhile:
            stored_meanwhile.append(True)
            s3.put_object(Bucket=bucket, Key="reports/camp_1/late.csv",
                          Body=f"number,status\n{A_NUMBER},busy\n".encode())  # fmt: skip

    monkeypatch.setattr("ops.erase.time.sleep", a_report_arrives)

    # When the number is erased
    erase_number(stack_target(), A_NUMBER, "camp_1")

    # Then neither report names it; the other subscriber's row stays
    odd = s3.get_object(Bucket=bucket, Key="reports/camp_1/odd.csv")["Body"].read().decode()
    late = s3.get_object(Bucket=bucket, Key="reports/camp_1/late.csv")["Body"].read().decode()
    assert A_NUMBER not in odd + late
    assert B_NUMBER in odd


def test_a_write_that_read_the_item_before_its_erasure_does_not_recreate_it(
    processors: Processors, stack: Deployment
) -> None:
    # Given a door that read a number's outcome, and then the number was erased
    first = a_numbers_outcome()
    processors.process(first)
    table = ledger_table(stack)
    [read] = table.outcomes("camp_1", [A_NUMBER])
    erase_number(stack_target(), A_NUMBER, "camp_1")

    # When it writes a newer version on what it read
    newer = {**read, "status": "completed", "version": "9999#9#newer", "event_id": "newer"}
    result = table.write_versioned(newer, read)

    # Then nothing is recreated
    assert (result.applied, result.erased) == (False, True)
    assert table.number_items(A_NUMBER) == []
