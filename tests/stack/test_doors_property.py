"""The counters as a property (docs/architecture.md, "Derived from the stream"): whatever
callbacks arrive, whatever is erased or expires, and however the stream's shards roll over, the
read API's counts equal a count of the items stored, at every step, and never go negative."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exotel_webhooks.vocabulary import CallbackType
from tests.stack.test_doors import DAY, Ledger, call
from tests.stack.test_doors import ledger as ledger  # noqa: PLC0414 - the fixture, by name
from tests.support.campaigns import START, message

campaign_ids = itertools.count()
STATUSES = ["ringing", "in-progress", "busy", "no-answer", "completed", "failed"]

deliveries = st.tuples(
    st.just("deliver"),
    st.sampled_from(["call_00001", "call_00002", "call_00003"]),
    st.sampled_from(STATUSES),
    st.integers(0, 59),  # minute of date_updated: a later one wins
    st.integers(0, 20),  # day received: when it expires (30 days on)
)
outcomes = st.tuples(
    st.just("outcome"), st.sampled_from(["+919800000001", "+919800000002"]),
    st.sampled_from(STATUSES[2:]), st.integers(0, 59), st.integers(0, 20),
)  # fmt: skip
steps = st.lists(
    st.one_of(
        deliveries,
        outcomes,
        st.tuples(st.just("erase"), st.sampled_from(["+919800000001", "+919800000002"])),
        st.tuples(st.just("expire"), st.integers(25, 60)),  # TTL up to this day
        st.tuples(st.just("roll over")),
        st.tuples(st.just("recount")),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=steps)
def test_the_counts_equal_the_items_at_every_step(
    ledger: Ledger, history: list[tuple[Any, ...]]
) -> None:
    sid = f"camp_k{next(campaign_ids)}"
    for step in history:
        # Given what happened so far
        kind = step[0]
        if kind == "deliver":
            _, call_sid, status, minute, day = step
            ledger.processors.process(call(sid, call_sid, status, minute, START + day * DAY))
        elif kind == "outcome":
            _, number, status, minute, day = step
            fields = {"campaign_sid": sid, "to": number, "status": status,
                      "date_updated": f"2024-01-15T10:{minute:02d}:00+05:30"}  # fmt: skip
            sent = message(CallbackType.CALL_SCHEDULE, fields, START + day * DAY)
            ledger.processors.process(sent)
        elif kind == "erase":
            for item in ledger.table.number_items(step[1], sid):
                ledger.table.erase(item)
        elif kind == "expire":
            ledger.expire(START + step[1] * DAY)
        elif kind == "roll over":
            ledger.roll_over()
        else:
            ledger.processors.stream.settle()
            ledger.table.recount(sid)
        ledger.processors.stream.settle()

        # When the read API is asked, Then its counts are the items'
        assert ledger.counts(sid) == ledger.truth(sid), step

    # ... and once everything has expired, the campaign is gone
    ledger.expire(START + 100 * DAY)
    ledger.expire(START.now() + timedelta(days=3))
    assert ledger.counts(sid) is None
