"""Counter and reconciliation arithmetic: pure functions of items and counters, no I/O
(docs/architecture.md, "Derived from the stream" and "Reconciliation")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from exotel_webhooks.ledger.keys import COUNTER_BOOKKEEPING

RECONCILED_PREFIX = "reconciled#"
DETAILS_PREFIX = "details#"
RECONCILED_CLASSES = ("matched", "backfilled", "mismatched")


def counts_of(item: Mapping[str, Any]) -> list[str]:
    """A counter item's counts (its attributes but the bookkeeping)."""
    return [name for name in item if name not in COUNTER_BOOKKEEPING]


def status_deltas(
    family: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> dict[str, int]:
    """How an item's change moves its family's counters: its status out of `before`'s count and
    into `after`'s, the total with its creation or deletion, and the reconciliation class."""
    deltas: Counter[str] = Counter()
    if before is not None:
        deltas[f"{family}_status#{before['status']}"] -= 1
        if reconciled := reconciliation_class(before):
            deltas[f"{RECONCILED_PREFIX}{reconciled}"] -= 1
    if after is not None:
        deltas[f"{family}_status#{after['status']}"] += 1
        if reconciled := reconciliation_class(after):
            deltas[f"{RECONCILED_PREFIX}{reconciled}"] += 1
    deltas[f"{family}_total"] += (after is not None) - (before is not None)
    if family == "attempts":
        deltas.subtract(details_counts(before))
        deltas.update(details_counts(after))
    return {name: delta for name, delta in deltas.items() if delta}


def details_counts(item: Mapping[str, Any] | None) -> Counter[str]:
    """What an attempt's call details add to its campaign's totals (priced attempts, cost in
    thousandths of the currency, seconds, recorded attempts): counters are whole numbers."""
    details = (item or {}).get("details")
    if not details:
        return Counter()
    counts = Counter(
        {
            f"{DETAILS_PREFIX}attempts": 1,
            f"{DETAILS_PREFIX}price_milli": round(Decimal(details["price"]) * 1000),
            f"{DETAILS_PREFIX}duration_seconds": int(details["duration_seconds"]),
            f"{DETAILS_PREFIX}recorded": int(bool(details.get("recorded"))),
        }
    )
    if details.get("talk_seconds") is not None:
        counts[f"{DETAILS_PREFIX}talked"] = 1
        counts[f"{DETAILS_PREFIX}talk_seconds"] = int(details["talk_seconds"])
    return counts


def cost_view(counters: Mapping[str, int], currency: str) -> dict[str, Any] | None:
    """The read API's `cost`: totals and averages over the attempts with call details (None
    before any has them)."""
    priced = counters.get(f"{DETAILS_PREFIX}attempts", 0)
    if priced <= 0:
        return None
    talked = counters.get(f"{DETAILS_PREFIX}talked", 0)
    total = Decimal(counters.get(f"{DETAILS_PREFIX}price_milli", 0)) / 1000
    talk = counters.get(f"{DETAILS_PREFIX}talk_seconds", 0)
    return {
        "currency": currency,
        "attempts_with_details": priced,
        "total": str(total.quantize(Decimal("0.001"))),
        "average_per_attempt": str((total / priced).quantize(Decimal("0.001"))),
        "duration_seconds": counters.get(f"{DETAILS_PREFIX}duration_seconds", 0),
        "talk_seconds": talk,
        "average_talk_seconds": round(talk / talked, 1) if talked else None,
        "recorded_attempts": counters.get(f"{DETAILS_PREFIX}recorded", 0),
    }


def reconciliation_view(scan: Mapping[str, Any], counters: Mapping[str, int]) -> dict[str, int]:
    """The read API's `reconciliation`: what it was reconciled against (the report, or without
    one the Campaign API's rows), that source's scan (rows, unparseable) and the counts its
    numbers moved in the counters (`counters`: summed, as sum_counters gives them)."""
    return {
        "source": scan.get("source", "report"),
        "report_rows": int(scan.get("report_rows", 0)),
        **{name: counters.get(f"{RECONCILED_PREFIX}{name}", 0) for name in RECONCILED_CLASSES},
        "unparseable": int(scan.get("unparseable", 0)),
    }


def report_reconciled(summary: Mapping[str, Any]) -> bool:
    """A campaign report's reconciliation is stored (the Campaign API's rows are reconciled
    against only without one, and a report's replaces theirs)."""
    reconciliation = summary.get("reconciliation")
    return reconciliation is not None and reconciliation.get("source", "report") == "report"


def sum_counters(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Every counter of a campaign, summed over its counter items."""
    totals: Counter[str] = Counter()
    for item in items:
        for name, value in item.items():
            if name not in COUNTER_BOOKKEEPING:
                totals[name] += int(value)
    return dict(totals)


def reconciliation_class(item: Mapping[str, Any]) -> str | None:
    """How an outcome compares with the campaign's report, or without one with the Campaign
    API's rows: backfilled (no callback told it: the report or the API wrote it), matched or
    mismatched (a callback's status against the report's, else the API's), or None (neither
    has said anything of the number)."""
    said = item.get("report_status") or item.get("api_status")
    if said is None:
        return None
    if item.get("source") in ("report", "api"):
        return "backfilled"
    return "matched" if item["status"] == said else "mismatched"
