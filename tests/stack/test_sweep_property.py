"""The three sources as a property (docs/architecture.md, "Precedence" and "Sweeps"): whatever
Exotel's callbacks were lost, duplicated or late, and wherever sweeps fall among them, once a
sweep has seen the campaign final the ledger holds the truth: every attempt, each number's
outcome from its callback where one came (else from the API's latest row), the final status
announced once, each number's last announcement its outcome, and the reconciliation against the
API's rows exact."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exotel_webhooks.vocabulary import CallbackType
from localaws.emulation import REGION, STACK_NAME, Deployment
from ops.erase import erase_number
from ops.target import Target
from tests.stack.test_processors import Processors, published
from tests.stack.test_sweep import FakeCampaignApi, sweeper
from tests.support.analytics import dataset_answers
from tests.support.campaigns import Message, message
from tests.support.stack import AwsCalls, LoadFunction

FINAL_CALL_STATUSES = ["completed", "failed", "busy", "no-answer"]
campaign_ids = itertools.count()


@dataclass(frozen=True)
class Truth:
    """One campaign as Exotel ran it: its call rows (the API's) and its numbers' outcomes
    (their call schedule callbacks')."""

    sid: str
    rows: list[dict[str, Any]]
    outcomes: dict[str, str]

    def latest(self, number: str) -> str:
        """What the API says of the number: its latest attempt's status."""
        rows = [row for row in self.rows if row["number"] == number]
        return str(max(rows, key=lambda row: row["date_created"])["status"])


@st.composite
def truths(draw: st.DrawFn) -> Truth:
    sid = f"camp_p{next(campaign_ids)}"
    rows, outcomes = [], {}
    for n in range(draw(st.integers(1, 3))):
        number = f"+9198000000{n:02d}"
        tries = draw(st.lists(st.sampled_from(FINAL_CALL_STATUSES), min_size=1, max_size=3))
        for attempt, status in enumerate(tries):
            minute = 10 * attempt + n  # a number's retries minutes apart, numbers interleaved
            rows.append({"call_sid": f"{sid}_{n}_{attempt}", "number": number, "status": status,
                         "date_created": f"2024-01-15T09:{minute:02d}:00+05:30",
                         "end_time": f"2024-01-15T09:{minute:02d}:30+05:30"})  # fmt: skip
        # Exotel's outcome is the last attempt's status, or "failed" where it says so
        outcomes[number] = draw(st.sampled_from([tries[-1], "failed"]))
    return Truth(sid, rows, outcomes)


def outcome_callbacks(truth: Truth) -> dict[str, Message]:
    return {
        number: message(CallbackType.CALL_SCHEDULE, {
            "campaign_sid": truth.sid, "to": number, "from": "08047104890", "status": status,
            "call_sids": [r["call_sid"] for r in truth.rows if r["number"] == number],
            "date_updated": "2024-01-15T10:00:00+05:30"})
        for number, status in truth.outcomes.items()
    }  # fmt: skip


def callbacks(truth: Truth) -> list[Message]:
    """Every callback Exotel sent: each attempt's, each number's outcome, the final status."""
    sent = [
        message(CallbackType.CALL_STATUS, {
            "campaign_sid": truth.sid, "call_sid": row["call_sid"], "number": row["number"],
            "status": row["status"], "date_created": row["date_created"],
            "date_updated": row["end_time"]})
        for row in truth.rows
    ]  # fmt: skip
    sent += outcome_callbacks(truth).values()
    final = {"campaign_sid": truth.sid, "status": "Completed",
             "date_updated": "2024-01-15T11:00:00+05:30"}  # fmt: skip
    return [*sent, message(CallbackType.CAMPAIGN_STATUS, final)]


SWEEP, FINAL_SWEEP, ERASE = "sweep while it runs", "sweep once final", "erase a number"


@pytest.fixture
def processors(load_function: LoadFunction, stack: Deployment) -> Processors:
    return Processors(load_function, stack)


@st.composite
def histories(draw: st.DrawFn) -> tuple[Truth, list[Message | str], int, bool]:
    """A campaign, what arrived of it in what order (some callbacks lost for good, some twice)
    with sweeps among them, at least one once final, and perhaps an erasure of its first number
    anywhere among them; the API's page size and whether it ignores the order it is asked for."""
    truth = draw(truths())
    every = callbacks(truth)
    arrived = [m for m in every if draw(st.booleans())]
    arrived += draw(st.lists(st.sampled_from(every), max_size=2))  # duplicates
    events: list[Message | str] = [*arrived, FINAL_SWEEP]
    events += draw(st.lists(st.sampled_from([SWEEP, FINAL_SWEEP, ERASE]), max_size=2))
    order = draw(st.permutations(events))
    return truth, list(order), draw(st.sampled_from([1, 2, 100])), draw(st.booleans())


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_the_ledger_ends_equal_to_the_truth_whatever_was_lost_and_whenever_sweeps_ran(
    stack: Deployment,
    processors: Processors,
    aws_calls: AwsCalls,
    history: tuple[Truth, list[Message | str], int, bool],
) -> None:
    truth, events, page_size, ignores_sort = history
    exotel = FakeCampaignApi(truth.rows)
    exotel.ignores_sort = ignores_sort

    # Given what arrived of a campaign, in that order, with sweeps and erasures among it
    erased = next(iter(truth.outcomes)) if ERASE in events else None
    announced_before_erasure = 0
    for happened in events:
        if isinstance(happened, Message):
            assert processors.process(happened) == []
        elif happened == ERASE:
            assert erased is not None
            erase_number(Target(STACK_NAME, REGION), erased, truth.sid)
            processors.stream.settle()
            announced_before_erasure = len(published(aws_calls, "CallScheduleCompleted"))
        else:
            exotel.status = "Completed" if happened == FINAL_SWEEP else "InProgress"
            sweeper(stack, exotel, page_size=page_size).sweep(truth.sid)

    # When the ledger is read
    status, summary = processors.get(f"/campaigns/{truth.sid}")
    assert status == 200

    # Then it holds every attempt, and each number's outcome from its callback, else the API's,
    # and nothing of an erased number
    arrived = [m for m in events if isinstance(m, Message)]
    delivered = {
        number: truth.outcomes[number]
        for number, sent in outcome_callbacks(truth).items()
        if sent in arrived and number != erased
    }
    outcomes = {n: delivered.get(n) or truth.latest(n) for n in truth.outcomes if n != erased}
    kept_rows = [row for row in truth.rows if row["number"] != erased]
    assert summary["status"] == "Completed"
    assert summary["attempts"] == {
        "total": len(kept_rows),
        "by_status": dict(sorted(Counter(r["status"] for r in kept_rows).items())),
    }
    assert summary["numbers"] == {
        "total": len(outcomes),
        "by_status": dict(sorted(Counter(outcomes.values()).items())),
    }
    # ... reconciled against the API's rows (no report came), exactly
    matched = sum(status == truth.latest(n) for n, status in delivered.items())
    assert summary["reconciliation"] == {
        "source": "api",
        "report_rows": len(truth.rows),
        "matched": matched,
        "backfilled": len(outcomes) - len(delivered),
        "mismatched": len(delivered) - matched,
        "unparseable": 0,
    }

    # ... and the analytics dataset's queries answer the same, whatever the sources and erasures
    processors.dataset.settle()
    asked = dataset_answers(
        stack,
        truth.sid,
        asked=("outcome_mix", "connect_rate_by_hour", "connect_rate_by_attempt"),
    )
    assert {r["status"]: r["numbers"] for r in asked["outcome_mix"]} == Counter(outcomes.values())
    assert sum(r["attempts"] for r in asked["connect_rate_by_hour"]) == len(kept_rows)
    assert sum(r["connected"] for r in asked["connect_rate_by_attempt"]) == sum(
        r["status"] == "completed" for r in kept_rows
    )

    # ... the completion announced once, and each number's last announcement its outcome
    def of_this(detail_type: str) -> list[dict[str, Any]]:
        return [e for e in published(aws_calls, detail_type) if e["campaign_sid"] == truth.sid]

    assert len(of_this("CampaignCompleted")) == 1
    last = {event["number"]: event["status"] for event in of_this("CallScheduleCompleted")}
    assert {number: status for number, status in last.items() if number != erased} == outcomes
    later = published(aws_calls, "CallScheduleCompleted")[announced_before_erasure:]
    assert erased not in {event["number"] for event in later}
