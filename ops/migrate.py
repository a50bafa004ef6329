"""Moving a stack's data from the single-partition layout (every item of a campaign under
`CAMPAIGN#<sid>`, counters in ten shards, no stream) into this version's table
(docs/architecture.md, "Migration from the single-partition layout").

Each item of the old table is read by `keys.read_old_layout` (the table's keys have one owner)
and written through the processors' conditional writes: whatever the new table already holds
from newer callbacks wins, and a second run changes nothing. Counters are not copied: the new
table's stream counts every item written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from exotel_webhooks.ledger.keys import SUMMARY_SK, attempt_keys, outcome_keys, read_old_layout
from exotel_webhooks.ledger.table import CampaignTable
from ops.target import Target

# A summary's attributes that a version does not order: kept as they are.
_SUMMARY_KEPT = ("report", "reconciliation")


def migrate(target: Target, old_table: str) -> Counter[str]:
    """What was written (`summaries`, `attempts`, `outcomes`) and what the new table already
    held as new or newer (`kept`)."""
    client = target.client("dynamodb")
    table = target.campaign_table()
    moved: Counter[str] = Counter()
    for item in CampaignTable(client, old_table).every_item():
        moved[migrate_item(table, item)] += 1
    return moved


def migrate_item(table: CampaignTable, item: Mapping[str, Any]) -> str:
    """Write one item of the single-partition layout as the processors would. Returns what it
    was: `summaries`, `attempts`, `outcomes`, `kept` (this table's was as new or newer) or
    `counters skipped` (the stream counts the items as they are written)."""
    old = read_old_layout(item)
    values = dict(old.values)
    if old.kind == "summary":
        keep = {name: values.pop(name) for name in _SUMMARY_KEPT if name in values}
        version = values.pop("version", None)
        if version is None:  # a summary the report fetcher created before any status
            table.set(old.pk, SUMMARY_SK, keep)
            return "summaries"
        values |= old.status_index_keys
        written = table.update_if_newer(
            old.pk, SUMMARY_SK, version, {k: v for k, v in values.items() if v}, keep
        )
        return "summaries" if written.applied else "kept"
    if old.kind == "attempt":
        keys = attempt_keys(values["campaign_sid"], values["number"], values["call_sid"])
        family = "attempts"
    elif old.kind == "outcome" and old.subscriber is not None:
        keys = outcome_keys(values["campaign_sid"], old.subscriber)
        family = "outcomes"
    else:
        return "counters skipped"
    return family if table.write_versioned({**values, **keys}).applied else "kept"
