"""Which update of a record wins (docs/architecture.md, "Precedence"), as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from exotel_webhooks.ledger.counting import reconciliation_class, report_reconciled
from exotel_webhooks.ledger.precedence import (
    CALL_STATUS_RANKS,
    CAMPAIGN_STATUS_RANKS,
    call_status_rank,
    campaign_status_rank,
    outranked_sources,
    supersedes,
    version_text,
)

instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)


@given(first=instants, second=instants)
def test_versions_sort_in_time_order_for_every_year(first: datetime, second: datetime) -> None:
    # Years below 1000 once printed unpadded ("999-..."), and sorted after "2024-..."
    if first < second:
        assert version_text(first, 0, "f" * 32) < version_text(second, 0, "0" * 32)


def test_in_the_same_instant_a_final_status_beats_a_non_final_one() -> None:
    moment = datetime(2024, 1, 15, 9, 5, tzinfo=UTC)
    finals = ("canceled", "no-answer", "busy", "failed", "completed")
    for progress in ("queued", "ringing", "in-progress", "some-new-status"):
        for final in finals:
            assert version_text(moment, call_status_rank(final), "0" * 32) > version_text(
                moment, call_status_rank(progress), "f" * 32
            )
    ranks = [CALL_STATUS_RANKS[status] for status in finals]
    assert ranks == sorted(ranks)  # completed > failed > busy > no-answer > canceled
    assert campaign_status_rank("Completed") > campaign_status_rank("Failed")
    assert campaign_status_rank("Failed") > campaign_status_rank("Canceled")
    assert max(CAMPAIGN_STATUS_RANKS.values()) == campaign_status_rank("Completed")


def test_a_callback_replaces_a_backfill_whatever_their_dates() -> None:
    backfill = {
        "version": version_text(datetime(2030, 1, 1, tzinfo=UTC), 9, "report"),
        "source": "report",
    }
    undated_callback = {"version": version_text(None, 4, "0" * 32)}
    assert supersedes(undated_callback, backfill)
    assert not supersedes(backfill, undated_callback)
    assert not supersedes(undated_callback, undated_callback)


def test_an_api_row_sits_between_a_callback_and_a_backfill() -> None:
    # Given one record from each source, the callback's dated earliest and the backfill latest
    callback = {"version": version_text(datetime(2024, 1, 1, tzinfo=UTC), 4, "c")}
    api = {"version": version_text(datetime(2025, 1, 1, tzinfo=UTC), 4, "a"), "source": "api"}
    backfill = {
        "version": version_text(datetime(2030, 1, 1, tzinfo=UTC), 9, "r"),
        "source": "report",
    }

    # Then the source decides, whatever the dates
    assert supersedes(callback, api)
    assert supersedes(api, backfill)
    assert not supersedes(api, callback)
    assert not supersedes(backfill, api)
    assert outranked_sources("callback") == ("report", "api")
    assert outranked_sources("api") == ("report",)
    assert outranked_sources("report") == ()


def test_a_report_is_reconciled_against_before_the_campaign_api() -> None:
    # Given outcomes as a callback, the report and a sweep leave them
    callback = {"status": "completed", "source": "callback"}

    # Then a callback's outcome compares with the report, else with the API's rows
    assert reconciliation_class(callback) is None
    assert reconciliation_class(callback | {"api_status": "failed"}) == "mismatched"
    assert reconciliation_class(callback | {"api_status": "completed"}) == "matched"
    both = callback | {"api_status": "failed", "report_status": "completed"}
    assert reconciliation_class(both) == "matched"
    # ... and what only the report or the API told is backfilled
    recovered = {"status": "busy", "source": "api", "api_status": "busy"}
    assert reconciliation_class(recovered) == "backfilled"
    assert reconciliation_class(recovered | {"report_status": "failed"}) == "backfilled"
    assert reconciliation_class(
        {"status": "busy", "source": "report", "report_status": "busy"}
    ) == ("backfilled")
    # ... and only a report's reconciliation keeps the API's rows from being reconciled against
    assert not report_reconciled({})
    assert not report_reconciled({"reconciliation": {"source": "api"}})
    assert report_reconciled({"reconciliation": {"report_rows": 3}})
