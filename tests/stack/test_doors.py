"""The promise through every door into the ledger other than a webhook: a Campaign API sweep,
an erasure, an expiry, a recount (docs/architecture.md, "Guarantees"). Each case is a way one
of them once broke the promise, found by attacking it as a hostile API, sender or operator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from exotel_webhooks.intake.callbacks import CallbackType
from exotel_webhooks.ledger.recording import CampaignLedger
from exotel_webhooks.ledger.table import SUMMARY_SK, CampaignTable, campaign_pk
from exotel_webhooks.sweep.campaign_api import ApiCall, CampaignApiRefused
from exotel_webhooks.sweep.due import campaigns_to_sweep
from exotel_webhooks.sweep.scheduled import sweep_handler
from localaws.emulation import REGION, STACK_NAME, Deployment
from localaws.runtime import LocalLambdaContext
from ops.erase import erase_number
from ops.sweep import SweepNotConfigured, _sweeper, api_access
from ops.target import Target
from tests.stack.test_processors import Processors, campaign_status, published
from tests.stack.test_sweep import ROWS, FakeCampaignApi, sweeper
from tests.support.campaigns import message
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


def test_one_campaign_whose_sweep_fails_never_stops_the_scheduled_run(
    stack: Deployment, processors: Processors
) -> None:
    # Given two quiet campaigns, the first of which the sweep cannot handle (a fault of ours)
    processors.process(campaign_status("InProgress", 0))
    second = message(
        CallbackType.CAMPAIGN_STATUS,
        {"campaign_sid": "camp_2", "status": "InProgress", "date_updated": "2024-01-15T10:01:00"},
    )
    processors.process(second)
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
def test_an_api_that_ignores_offset_is_refused_instead_of_paged_for_ever(
    stack: Deployment, processors: Processors
) -> None:
    # Given an API that answers the first page at every offset, with no total
    exotel = FakeCampaignApi(list(ROWS))
    exotel.ignores_offset = True
    exotel.no_total = True

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
