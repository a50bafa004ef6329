"""Moving a stack's data from the single-partition layout (every item of a campaign under
`CAMPAIGN#<sid>`, counters in ten shards, no stream) into this version's table
(docs/architecture.md, "Migration from the single-partition layout").

Each item of the old table is written by `CampaignTable.migrate_item` (the table's keys have one
owner) through the processors' conditional writes: whatever the new table already holds from
newer callbacks wins, and a second run changes nothing. Counters are not copied: the new
table's stream counts every item written.
"""

from __future__ import annotations

from collections import Counter

from exotel_webhooks.ledger.table import CampaignTable
from ops.target import Target


def migrate(target: Target, old_table: str) -> Counter[str]:
    """What was written (`summaries`, `attempts`, `outcomes`) and what the new table already
    held as new or newer (`kept`)."""
    client = target.client("dynamodb")
    table = target.campaign_table()
    moved: Counter[str] = Counter()
    for item in CampaignTable(client, old_table).every_item():
        moved[table.migrate_item(item)] += 1
    return moved
