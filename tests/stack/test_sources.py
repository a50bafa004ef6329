"""Which source of a record wins (docs/architecture.md, "Precedence"): a callback beats a row of
Exotel's Campaign API, which beats the report's backfill, whatever their dates; within one
source the newer version wins. Checked on the table's conditional write itself (the pre-read
made stale, as in a race) as well as through the pre-read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from exotel_webhooks.ledger.keys import attempt_keys, outcome_keys
from exotel_webhooks.ledger.precedence import version_text
from exotel_webhooks.ledger.table import CampaignTable
from localaws.emulation import REGION, Deployment

CAMPAIGN, NUMBER, CALL = "camp_sources", "+919876543210", "call_1"


def record(
    source: str | None, minute: int, status: str, *, outcome: bool = False
) -> dict[str, Any]:
    keys = outcome_keys(CAMPAIGN, NUMBER) if outcome else attempt_keys(CAMPAIGN, NUMBER, CALL)
    item: dict[str, Any] = {
        **keys,
        "campaign_sid": CAMPAIGN,
        "number": NUMBER,
        "status": status,
        "version": version_text(datetime(2024, 1, 15, 9, minute, tzinfo=UTC), 5, f"e{minute}"),
    }
    if not outcome:
        item["call_sid"] = CALL
    if source:
        item["source"] = source
    return item


@pytest.fixture(params=["through the pre-read", "on the write's condition"])
def table(stack: Deployment, request: pytest.FixtureRequest) -> CampaignTable:
    client = boto3.client("dynamodb", region_name=REGION)
    table = CampaignTable(client, stack.physical_id("CampaignTable"))
    if request.param == "on the write's condition":
        table.get = lambda *args, **kwargs: None  # type: ignore[method-assign]  # a stale read
    return table


def stored_status(stack: Deployment, item: dict[str, Any]) -> tuple[str, str | None]:
    table = CampaignTable(
        boto3.client("dynamodb", region_name=REGION), stack.physical_id("CampaignTable")
    )
    stored = table.get(item["PK"], item["SK"], consistent=True) or {}
    return stored["status"], stored.get("source")


@pytest.mark.parametrize(
    ("first", "then", "winner"),
    [
        # a callback beats an API row, older or newer
        (("api", 30, "completed"), (None, 10, "busy"), ("busy", None)),
        (("api", 10, "busy"), ("callback", 30, "completed"), ("completed", "callback")),
        # an API row never replaces a callback, however new
        ((None, 10, "busy"), ("api", 50, "completed"), ("busy", None)),
        # within the API's rows, the newer wins
        (("api", 10, "busy"), ("api", 30, "completed"), ("completed", "api")),
        (("api", 30, "completed"), ("api", 10, "busy"), ("completed", "api")),
    ],
)
def test_attempts_keep_the_best_source(
    stack: Deployment, table: CampaignTable, first: tuple[Any, ...], then: tuple[Any, ...],
    winner: tuple[str, str | None],
) -> None:  # fmt: skip
    # Given an attempt stored from one source
    stored = record(*first)
    assert table.write_versioned(stored).applied

    # When the same attempt arrives from another (or the same) source
    table.write_versioned(record(*then))

    # Then the better source, else the newer version, is what stays
    assert stored_status(stack, stored) == winner


def test_an_api_row_replaces_a_report_backfill_and_a_callback_replaces_both(
    stack: Deployment, table: CampaignTable
) -> None:
    # Given a number's outcome backfilled from the report, dated late
    backfill = record("report", 59, "completed", outcome=True)
    assert table.write_versioned(backfill).applied

    # When the API's row for it arrives, dated earlier, then a callback, dated earlier still
    assert table.write_versioned(record("api", 20, "failed", outcome=True)).applied
    assert stored_status(stack, backfill) == ("failed", "api")
    assert table.write_versioned(record("callback", 5, "busy", outcome=True)).applied

    # Then the callback's outcome stays, and neither lesser source can take it back
    assert not table.write_versioned(record("api", 58, "completed", outcome=True)).applied
    assert not table.write_versioned(record("report", 59, "completed", outcome=True)).applied
    assert stored_status(stack, backfill) == ("busy", "callback")
