"""Erasing a subscriber (India's DPDP Act): a number's attempts and outcomes, its rows in the
campaigns' stored reports and in the analytics dataset, with every earlier version of those
objects.

A tombstone first (the subscriber's keyed hash, in the campaign or in all, kept as long as
anything could bring the number back): no door into the ledger writes it again. Then every
stored report of each campaign, then the items: a run cut short is finished by running it
again (the items still name the campaigns whose reports to clean), and a finished run changes
nothing the second time. The dataset is cleaned last, once the rows saying the items were
removed have landed (rows written before them land no later; Firehose gathers
AnalyticsBufferSeconds of them): its rows name the subscriber by its keyed hash, and the
removals name nothing. A masked subscriber
(`0XXXXXX4890@call_1`) is erased with every retry its outcome names. The campaign counters lose
what is erased through the table's stream, as they gained it.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from exotel_webhooks.analytics.rows import item_id
from exotel_webhooks.ledger.keys import (
    SUMMARY_SK,
    campaign_pk,
    is_outcome,
    masked_part,
    subscriber_key,
)
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.normalise import normalise_phone
from exotel_webhooks.reports.fetcher import reports_prefix
from exotel_webhooks.reports.scrub import delete_earlier_versions, remove_numbers
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.sweep.recordings import RECORDINGS_PREFIX
from ops.target import Target

DATASET_PREFIX = "analytics/"  # the dataset's objects
QUERY_RESULTS_PREFIX = "athena-results/"  # the answers of the stack's Athena workgroup
DATASET_LAG_SECONDS = 30.0  # the ledger stream's 5 s batching window, its invocation, margin
REMOVALS_POLL_SECONDS = 2.0
CLOCK_SKEW = timedelta(minutes=1)  # S3's clock against this machine's
GZIP_MAGIC = b"\x1f\x8b"
DEAD_LETTER_DAYS = 14  # how long a dead-letter queue keeps a callback (template.yaml)
SETTLE_SECONDS = 2.0  # a tombstone is visible to every door's (eventually consistent) read
MAX_ROUNDS = 5


@dataclass
class Erasure:
    number: str
    attempts: int = 0
    outcomes: int = 0
    campaigns: set[str] = field(default_factory=set)
    report_rows: dict[str, int] = field(default_factory=dict)  # s3 uri -> rows removed
    dataset_rows: dict[str, int] = field(default_factory=dict)  # object key -> rows removed
    recordings: int = 0  # kept recordings' objects (every version) deleted
    removals_unseen: int = 0  # items whose removal the dataset did not show in time

    def summary(self) -> str:
        rows = sum(self.report_rows.values())
        return (
            f"erased {self.number}: {self.attempts} attempt(s) and {self.outcomes} outcome(s) "
            f"in {len(self.campaigns)} campaign(s); {rows} row(s) from "
            f"{sum(1 for n in self.report_rows.values() if n)} stored report(s); "
            f"{sum(self.dataset_rows.values())} row(s) from {len(self.dataset_rows)} "
            f"analytics object(s); {self.recordings} recording(s)"
            + (
                f" ({self.removals_unseen} removal(s) not in the dataset yet: run it again in "
                "a few minutes for rows still on their way)"
                if self.removals_unseen
                else ""
            )
        )


def erase_number(
    target: Target,
    number: str,
    campaign_sid: str | None = None,
    *,
    rules: NormalisationRules | None = None,
    now: float | None = None,
) -> Erasure:
    rules = rules or target.rules
    # `0XXXXXX4890@<call SID>` names one masked subscriber as the read API shows it
    key = number if "@" in number else normalise_phone(number, rules.default_phone_region).key
    table = target.campaign_table()
    # The tombstone first: from now on no door (a redelivery, a replay, a sweep, a report)
    # writes the subscriber back, in this campaign or, without one, in any
    expires_at = _tombstone_expiry(target, now or time.time())
    buried: set[str] = set()

    def bury(subscriber: str) -> None:
        if subscriber not in buried:
            table.bury(subscriber, campaign_sid, expires_at)
            buried.add(subscriber)

    bury(key)
    erasure = Erasure(key)
    reports: set[str] = set()
    started = datetime.now(UTC)
    deleted: list[dict[str, Any]] = []

    def clean_reports() -> None:  # only a phone number can be found in a report's rows
        if key.startswith("+"):
            for sid in sorted(reports):
                _erase_from_reports(target, table, sid=sid, key=key, rules=rules, erasure=erasure)

    for round_ in range(MAX_ROUNDS):
        items = _subscriber_items(table, key, campaign_sid, bury)
        if round_ == 0:
            erasure.campaigns = {item["campaign_sid"] for item in items}
            if campaign_sid:
                erasure.campaigns.add(campaign_sid)
            reports = _campaigns_with_reports(target, erasure.campaigns, campaign_sid)
            clean_reports()
        elif not items:
            break
        for item in items:
            if table.erase(item) is not None:
                deleted.append(item)
                if "call_sid" in item:
                    erasure.attempts += 1
                else:
                    erasure.outcomes += 1
        # a door that read no tombstone yet (its read is eventually consistent) may still
        # write: look again once that has settled, until nothing comes back
        time.sleep(SETTLE_SECONDS)
    else:
        raise ErasureUnfinished(f"{key} was still being written after {MAX_ROUNDS} looks")
    erasure.recordings = _erase_recordings(
        target, {table.subscriber_hash(subscriber) for subscriber in buried}, campaign_sid
    )
    # a report fetched while the items still stood kept its rows (its backfill had no reason
    # to look at the tombstone): clean them once more, now that no item is left
    clean_reports()
    # rows written before the items went may still be on their way to the dataset: they land
    # no later than the rows saying the items were removed, so wait for those
    gone = {item_id(item, table.hash_key) for item in deleted}
    erasure.removals_unseen = _await_removals(target, set(gone), started)
    hashes = {table.subscriber_hash(subscriber) for subscriber in buried}
    erasure.dataset_rows = _erase_from_dataset(target, hashes, gone, campaign_sid)
    return erasure


def dataset_catch_up_seconds(target: Target) -> float:
    """The longest a row can take to land in the dataset: the ledger stream's batching and
    Firehose's buffer (template.yaml)."""
    return float(target.parameter("AnalyticsBufferSeconds") or 0) + DATASET_LAG_SECONDS


def _await_removals(target: Target, items: set[str], since: datetime) -> int:
    """Wait (at most dataset_catch_up_seconds) until the dataset holds a removal row of each
    of these items. Returns how many it did not see."""
    s3 = target.client("s3")
    bucket = target.physical_id("ReportBucket")
    deadline = time.monotonic() + dataset_catch_up_seconds(target)
    read: set[str] = set()
    while items:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=DATASET_PREFIX)
        for stored in [stored for page in pages for stored in page.get("Contents", [])]:
            if stored["Key"] in read or stored["LastModified"] < since - CLOCK_SKEW:
                continue
            read.add(stored["Key"])
            for row in _rows(s3.get_object(Bucket=bucket, Key=stored["Key"])["Body"].read()):
                if row.get("removed"):
                    items.discard(str(row.get("item")))
        if not items or time.monotonic() > deadline:
            break
        time.sleep(REMOVALS_POLL_SECONDS)
    return len(items)


def _erase_from_dataset(
    target: Target, hashes: set[str], items: set[str], campaign_sid: str | None
) -> dict[str, int]:
    """Every version of every dataset object holding a row of these subscribers (in the
    campaign, or in any) or a row of these items (the removals, whose item hashes are keyed
    with the number): the current one rewritten without them, earlier ones deleted; and every
    Athena answer naming a subscriber's hash deleted. Returns rows removed by key."""
    s3 = target.client("s3")
    bucket = target.physical_id("ReportBucket")
    removed: dict[str, int] = {}

    def erased(row: dict[str, Any]) -> bool:
        return _of_subscriber(row, hashes, campaign_sid) or row.get("item") in items

    for version in _versions(s3, bucket, DATASET_PREFIX):
        key = version["Key"]
        body = s3.get_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])["Body"].read()
        zipped = body[:2] == GZIP_MAGIC
        lines = (gzip.decompress(body) if zipped else body).splitlines(keepends=True)
        kept = [line for line in lines if not erased(_row(line))]
        if len(kept) == len(lines):
            continue
        removed[key] = removed.get(key, 0) + len(lines) - len(kept)
        if version["IsLatest"]:
            text = b"".join(kept)
            s3.put_object(Bucket=bucket, Key=key, Body=gzip.compress(text) if zipped else text)
            delete_earlier_versions(s3, bucket, key)
        else:
            s3.delete_object(Bucket=bucket, Key=key, VersionId=version["VersionId"])
    for version in _versions(s3, bucket, QUERY_RESULTS_PREFIX):
        body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])[
            "Body"
        ].read()
        if any(hashed.encode() in body for hashed in hashes):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    return removed


def _erase_recordings(target: Target, hashes: set[str], campaign_sid: str | None) -> int:
    """Every version of every kept recording of the erased subscribers (KeepRecordings), found
    by their hashes in the keys (recordings/<campaign>/<hash>/<call>): also those whose attempts
    are gone already (an erasure stopped half-way, an attempt expired first). One copied while
    the attempt was being erased is deleted by the recording function itself."""
    s3, bucket = target.client("s3"), target.physical_id("ReportBucket")
    prefix = (
        f"{RECORDINGS_PREFIX}{quote(campaign_sid, safe='')}/" if campaign_sid else RECORDINGS_PREFIX
    )
    removed = 0
    for version in [*_versions(s3, bucket, prefix), *_delete_markers(s3, bucket, prefix)]:
        if version["Key"].split("/")[2:3] and version["Key"].split("/")[2] in hashes:
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
            removed += 1
    return removed


def _delete_markers(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:  # noqa: ANN401
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    return [marker for page in pages for marker in page.get("DeleteMarkers", [])]


def _versions(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:  # noqa: ANN401
    """Every stored version under the prefix, current ones last (so a rewrite's earlier
    versions are read before they are deleted)."""
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    versions = [version for page in pages for version in page.get("Versions", [])]
    return sorted(versions, key=lambda version: bool(version["IsLatest"]))


def _rows(body: bytes) -> list[dict[str, Any]]:
    text = gzip.decompress(body) if body[:2] == GZIP_MAGIC else body
    return [row for line in text.splitlines() if (row := _row(line))]


def _row(line: bytes) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except ValueError:
        return {}  # not a row this stack wrote: left as it is
    return row if isinstance(row, dict) else {}


def _of_subscriber(row: dict[str, Any], hashes: set[str], campaign_sid: str | None) -> bool:
    return row.get("number_hash") in hashes and (
        campaign_sid is None or row.get("campaign_sid") == campaign_sid
    )


class ErasureUnfinished(Exception):
    """Items kept coming back: run the erase again (the tombstone stands meanwhile)."""


def _subscriber_items(
    table: CampaignTable, key: str, campaign_sid: str | None, bury: Callable[[str], None]
) -> list[dict[str, Any]]:
    """The subscriber's attempts and outcomes. A masked subscriber's retries are keyed by their
    own call SIDs (`<mask>@<call SID>`): its outcome's call SIDs name them all (each buried
    too), and a retry's key leads to that outcome (a Scan of the campaign: erasures are rare)."""
    items = table.number_items(key, campaign_sid)
    seen = {key}
    if "@" not in key:
        return items
    if not any(is_outcome(item) for item in items):
        call_sid = key.rsplit("@", 1)[1]
        campaigns = {item["campaign_sid"] for item in items} | ({campaign_sid} - {None})
        for sid in sorted(str(campaign) for campaign in campaigns):
            for item in table.campaign_numbers(sid):
                owner = str(item.get("number"))
                if (
                    is_outcome(item)
                    and call_sid in (item.get("call_sids") or [])
                    and owner not in seen
                    and masked_part(owner) == masked_part(key)
                ):
                    seen.add(owner)
                    bury(owner)
                    items += table.number_items(owner, sid)
    for outcome in [item for item in items if is_outcome(item)]:
        for sid in outcome.get("call_sids") or []:
            sibling = subscriber_key(masked_part(key), [sid])
            if sibling not in seen:
                seen.add(sibling)
                bury(sibling)
                items += table.number_items(sibling, outcome["campaign_sid"])
    return items


def _campaigns_with_reports(
    target: Target, campaigns: set[str], campaign_sid: str | None
) -> set[str]:
    """The campaigns whose stored reports to clean: those the subscriber has items in and, for
    an erasure in every campaign, every campaign with a stored report (its items may have
    expired before its report, or named the number only masked)."""
    if campaign_sid:
        return campaigns
    s3 = target.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=target.physical_id("ReportBucket"), Prefix=reports_prefix(""), Delimiter="/"
    )
    stored = {
        prefix["Prefix"].removeprefix(reports_prefix("")).rstrip("/")
        for page in pages
        for prefix in page.get("CommonPrefixes", [])
    }
    return campaigns | stored


def _tombstone_expiry(target: Target, now: float) -> int | None:
    """A tombstone outlives whatever could bring the number back: the ledger's own items (a
    sweep re-reads the campaigns it knows), quarantined requests (a replay) and dead letters
    (a redrive, 14 days). With DataRetentionDays 0 the ledger keeps everything, and so it."""
    days = int(target.parameter("DataRetentionDays") or 0)
    if not days:
        return None
    quarantine = int(target.parameter("QuarantineRetentionDays") or 0)
    return int(now) + (max(days, quarantine) + DEAD_LETTER_DAYS) * 86_400


def _erase_from_reports(
    target: Target,
    table: CampaignTable,
    *,
    sid: str,
    key: str,
    rules: NormalisationRules,
    erasure: Erasure,
) -> None:
    """Every stored report of the campaign: the one its summary names, and each earlier one
    (a refetch, or a second final status, stored its own object beside it)."""
    summary = table.get(campaign_pk(sid), SUMMARY_SK, consistent=True) or {}
    report: dict[str, Any] = summary.get("report") or {}
    current = report.get("s3_uri") if report.get("status") == "stored" else None
    s3 = target.client("s3")
    bucket = target.physical_id("ReportBucket")
    uris = {
        f"s3://{bucket}/{stored['Key']}"
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=reports_prefix(sid)
        )
        for stored in page.get("Contents", [])
    }
    if current:
        uris.add(current)  # a migrated campaign's report stays in the old stack's bucket
    for uri in sorted(uris):
        scrubbed = remove_numbers(s3, uri, {key}, rules)
        erasure.report_rows[uri] = erasure.report_rows.get(uri, 0) + scrubbed.removed
        if not scrubbed.removed or uri != current:
            continue
        values: dict[str, Any] = {
            "report": {
                **report,
                "bytes": scrubbed.bytes,
                "sha256": scrubbed.sha256,
                "rows": scrubbed.kept,
            }
        }
        reconciliation = summary.get("reconciliation")
        if reconciliation is not None:
            rows_before = int(reconciliation.get("report_rows", 0))
            values["reconciliation"] = {
                **reconciliation,
                "report_rows": max(rows_before - scrubbed.removed, 0),
            }
        table.set(campaign_pk(sid), SUMMARY_SK, values)
