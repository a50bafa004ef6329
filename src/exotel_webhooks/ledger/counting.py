"""Counter and reconciliation arithmetic: pure functions of items and counters, no I/O
(docs/architecture.md, "Derived from the stream" and "Reconciliation")."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from exotel_webhooks.ledger.keys import COUNTER_BOOKKEEPING

RECONCILED_PREFIX = "reconciled#"
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
    return {name: delta for name, delta in deltas.items() if delta}


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
