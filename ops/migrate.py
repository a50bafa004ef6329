"""Moving a stack's data from the single-partition layout (every item of a campaign under
`CAMPAIGN#<sid>`, counters in ten shards, no stream) into this version's table
(docs/architecture.md, "Migration from the single-partition layout").

Each summary, attempt and outcome of the old table is written through the same conditional
writes the processors use, so whatever the new table already holds from newer callbacks wins,
and a second run changes nothing. Counters are not copied: the new table's stream counts every
item written.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from exotel_webhooks.campaign_table import (
    SUMMARY_SK,
    CampaignTable,
    attempt_keys,
    from_item,
    outcome_keys,
)

from ops.target import Target

_OLD_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "notify_pending")
_KEPT_ON_SUMMARY = ("report", "reconciliation")


def migrate(target: Target, old_table: str) -> Counter[str]:
    """What was written (`summaries`, `attempts`, `outcomes`) and what the new table already
    held as new or newer (`kept`)."""
    client = target.client("dynamodb")
    table = CampaignTable(client, target.physical_id("CampaignTable"))
    moved: Counter[str] = Counter()
    for item in _old_items(client, old_table):
        moved[_move(table, item)] += 1
    return moved


def _move(table: CampaignTable, old: dict[str, Any]) -> str:
    sk: str = old["SK"]
    values = {name: value for name, value in old.items() if name not in _OLD_KEYS}
    if sk == SUMMARY_SK:
        keep = {name: values.pop(name) for name in _KEPT_ON_SUMMARY if name in values}
        version = values.pop("version", None)
        if version is None:  # a summary the report fetcher created before any status
            table.set(old["PK"], SUMMARY_SK, keep)
            return "summaries"
        values |= {"GSI1PK": old.get("GSI1PK"), "GSI1SK": old.get("GSI1SK")}
        written = table.update_if_newer(
            old["PK"], SUMMARY_SK, version, {k: v for k, v in values.items() if v}, keep
        )
        return "summaries" if written.applied else "kept"
    if sk.startswith("ATTEMPT#"):
        keys = attempt_keys(old["campaign_sid"], old["number"], old["call_sid"])
        family = "attempts"
    elif sk.startswith("NUMBER#"):
        keys = outcome_keys(old["campaign_sid"], sk.removeprefix("NUMBER#"))
        family = "outcomes"
    else:
        return "counters skipped"  # the stream counts the items as they are written
    return family if table.write_versioned({**values, **keys}).applied else "kept"


def _old_items(client: Any, table_name: str) -> Iterator[dict[str, Any]]:  # noqa: ANN401
    scan: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
    while True:
        response = client.scan(**scan)
        yield from (from_item(item) for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return
        scan["ExclusiveStartKey"] = response["LastEvaluatedKey"]
