"""The counters' arithmetic (ledger/counting.py): how an item's change moves its campaign's
counters, and how counter items add up into the read API's counts."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from exotel_webhooks.ledger.counting import (
    counts_of,
    reconciliation_class,
    reconciliation_view,
    status_deltas,
    sum_counters,
)

STATUSES = ("completed", "busy", "no-answer", "failed")
SOURCES = ("callback", "report", "api")


def outcome(status: str, **said: str) -> dict[str, Any]:
    return {"status": status, "source": "callback", **said}


def test_a_new_item_counts_its_status_and_the_total() -> None:
    # Given an attempt that did not exist, When it is created as busy
    deltas = status_deltas("attempts", None, {"status": "busy"})

    # Then one more busy attempt and one more attempt
    assert deltas == {"attempts_status#busy": 1, "attempts_total": 1}


def test_a_status_change_moves_one_count_and_leaves_the_total() -> None:
    # Given a number stored as busy, When its outcome becomes completed
    deltas = status_deltas("numbers", outcome("busy"), outcome("completed"))

    # Then busy loses one, completed gains one, and the total is unchanged
    assert deltas == {"numbers_status#busy": -1, "numbers_status#completed": 1}


def test_a_removed_item_takes_its_counts_with_it() -> None:
    # Given an outcome the report matched, When it is erased
    before = outcome("completed", report_status="completed")
    deltas = status_deltas("numbers", before, None)

    # Then its status, its reconciliation class and the total each lose one
    assert deltas == {
        "numbers_status#completed": -1,
        "reconciled#matched": -1,
        "numbers_total": -1,
    }


def test_an_unchanged_item_moves_nothing() -> None:
    same = outcome("failed", report_status="busy")
    assert status_deltas("numbers", same, same) == {}


def test_counter_items_sum_without_their_bookkeeping() -> None:
    # Given two counter items of a campaign (one per stream shard) and their bookkeeping
    items = [
        {"PK": "p", "SK": "s1", "last_sequence": "0042", "attempts_total": 3, "revision": 7},
        {"PK": "p", "SK": "s2", "attempts_total": 2, "attempts_status#busy": 1},
    ]

    # When they are summed, Then the counts add up and the bookkeeping is left out
    assert sum_counters(items) == {"attempts_total": 5, "attempts_status#busy": 1}
    assert counts_of(items[0]) == ["attempts_total"]


def test_the_read_apis_reconciliation_names_its_source_and_classes() -> None:
    # Given a report's scan and the counters its numbers moved
    scan = {"report_rows": 10, "unparseable": 1}
    counters = {"reconciled#matched": 7, "reconciled#backfilled": 2}

    # When the read API's view is made, Then every class is there, zero when none moved
    assert reconciliation_view(scan, counters) == {
        "source": "report",
        "report_rows": 10,
        "matched": 7,
        "backfilled": 2,
        "mismatched": 0,
        "unparseable": 1,
    }


# An outcome in any state the ledger can hold (its status, its source, what the report and the
# Campaign API said of it), or None: absent.
OUTCOMES = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {"status": st.sampled_from(STATUSES), "source": st.sampled_from(SOURCES)},
        optional={
            "report_status": st.sampled_from(STATUSES),
            "api_status": st.sampled_from(STATUSES),
        },
    ),
)


@given(st.lists(OUTCOMES, min_size=1, max_size=12))
def test_the_deltas_of_any_history_sum_to_its_last_state(
    history: list[dict[str, Any] | None],
) -> None:
    # Given any sequence of states of one outcome (None: absent; statuses, the report's and the
    # API's word, its source), starting absent
    states: list[dict[str, Any] | None] = [None, *history]

    # When every change's deltas are added up
    total: dict[str, int] = {}
    for before, after in pairwise(states):
        for name, delta in status_deltas("numbers", before, after).items():
            total[name] = total.get(name, 0) + delta

    # Then what is left counts exactly the last state: its status, its reconciliation class
    last = states[-1]
    expected = {}
    if last is not None:
        expected = {"numbers_total": 1, f"numbers_status#{last['status']}": 1}
        if reconciled := reconciliation_class(last):
            expected[f"reconciled#{reconciled}"] = 1
    assert {name: n for name, n in total.items() if n} == expected
