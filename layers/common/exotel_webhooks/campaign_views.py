"""The read API's answers (README.md, "The read API"; openapi.yaml): each one Query, no Scan."""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from exotel_webhooks.campaign_table import (
    ATTEMPT_SK_PREFIX,
    CAMPAIGN_ITEMS_PREFIX,
    COUNTER_SK_PREFIX,
    SUMMARY_SK,
    CampaignTable,
    attempts_by_status_pk,
    campaign_number_prefix,
    campaign_pk,
    from_item,
    number_pk,
    reconciliation_view,
    sum_shards,
    to_item,
)
from exotel_webhooks.normalise import normalise_call_status, normalise_phone
from exotel_webhooks.settings import NormalisationRules

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
CALL_FIELDS = ("call_sid", "number", "status", "date_created", "date_updated")
ATTEMPT_FIELDS = ("call_sid", "status", "date_created", "date_updated")


class CampaignNotFound(Exception):
    pass


class BadRequest(Exception):
    pass


class CampaignViews:
    def __init__(self, table: CampaignTable, rules: NormalisationRules) -> None:
        self.table = table
        self.rules = rules

    def campaign(self, campaign_sid: str) -> dict[str, Any]:
        """The summary and the counter shards, in one Query."""
        items = self._campaign_items(campaign_sid)
        if not items:
            raise CampaignNotFound(f"no campaign {campaign_sid}")
        summary = next((item for item in items if item["SK"] == SUMMARY_SK), {})
        counters = sum_shards([item for item in items if item["SK"].startswith(COUNTER_SK_PREFIX)])
        scan = summary.get("reconciliation")
        return {
            "campaign_sid": campaign_sid,
            "status": summary.get("status"),
            "date_created": summary.get("date_created"),
            "date_updated": summary.get("date_updated"),
            "attempts": _counted(counters, "attempts"),
            "numbers": _counted(counters, "numbers"),
            "report": _plain(summary.get("report")),
            "reconciliation": reconciliation_view(scan, counters) if scan is not None else None,
        }

    def number(self, campaign_sid: str, number: str) -> dict[str, Any]:
        """The number's outcome and all its attempts in this campaign, in one Query (GSI2)."""
        # `0XXXXXX4890@<call SID>`: a masked number's own key (campaign_table.subscriber_key)
        key = (
            number
            if "@" in number
            else normalise_phone(number, self.rules.default_phone_region).key
        )
        items = self._query(
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND begins_with(GSI2SK, :prefix)",
            ExpressionAttributeValues=to_item(
                {":pk": number_pk(key), ":prefix": campaign_number_prefix(campaign_sid)}
            ),
        )["items"]
        if not items:
            if not self._campaign_items(campaign_sid):
                raise CampaignNotFound(f"no campaign {campaign_sid}")
            raise CampaignNotFound(f"no number {key} in campaign {campaign_sid}")
        outcome: dict[str, Any] = next(
            (item for item in items if item["GSI2SK"].endswith("#OUTCOME")), {}
        )
        attempts = [item for item in items if "call_sid" in item]
        if "@" in key:  # a masked subscriber's retries are keyed by their own call SIDs
            known = {attempt["call_sid"] for attempt in attempts}
            missing = [sid for sid in outcome.get("call_sids") or [] if sid not in known]
            attempts += self.table.attempts(campaign_sid, missing)
        attempts.sort(key=lambda item: (item.get("date_created") or "", item["call_sid"]))
        return {
            "campaign_sid": campaign_sid,
            "number": key,
            "status": outcome.get("status"),
            "from": outcome.get("from"),
            "call_sids": list(outcome.get("call_sids") or [a["call_sid"] for a in attempts]),
            "attempts": [
                {name: attempt.get(name) for name in ATTEMPT_FIELDS} for attempt in attempts
            ],
            "source": outcome.get("source", "callback"),
        }

    def calls(
        self,
        campaign_sid: str,
        status: str | None = None,
        limit: str | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """A page of the campaign's attempts, all of them (table) or one status (GSI1)."""
        page_size = _page_size(limit)
        if status:
            partition = {"GSI1PK": attempts_by_status_pk(campaign_sid, _call_status(status))}
            query: dict[str, Any] = {
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": to_item({":pk": partition["GSI1PK"]}),
            }
        else:
            partition = {"PK": campaign_pk(campaign_sid)}
            query = {
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
                "ExpressionAttributeValues": to_item(
                    {":pk": partition["PK"], ":prefix": ATTEMPT_SK_PREFIX}
                ),
            }
        if next_token:
            query["ExclusiveStartKey"] = _start_key(next_token, partition)
        page = self._query(Limit=page_size, **query)
        if not page["items"] and not next_token and not self._campaign_items(campaign_sid):
            raise CampaignNotFound(f"no campaign {campaign_sid}")
        last_key = page["last_key"]
        return {
            "items": [{name: item.get(name) for name in CALL_FIELDS} for item in page["items"]],
            "next_token": _token(last_key) if last_key else None,
        }

    def _campaign_items(self, campaign_sid: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
            ExpressionAttributeValues=to_item(
                {":pk": campaign_pk(campaign_sid), ":prefix": CAMPAIGN_ITEMS_PREFIX}
            ),
        )["items"]
        return items

    def _query(self, **query: Any) -> dict[str, Any]:  # noqa: ANN401
        response = self.table.client.query(TableName=self.table.name, **query)
        return {
            "items": [from_item(item) for item in response.get("Items", [])],
            "last_key": response.get("LastEvaluatedKey"),
        }


def _counted(counters: dict[str, int], family: str) -> dict[str, Any]:
    prefix = f"{family}_status#"
    by_status = {
        name.removeprefix(prefix): value
        for name, value in sorted(counters.items())
        if name.startswith(prefix) and value
    }
    return {"total": counters.get(f"{family}_total", 0), "by_status": by_status}


def _plain(value: Any) -> Any:  # noqa: ANN401
    """DynamoDB numbers (Decimal) back to JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _call_status(status: str) -> str:
    try:
        return normalise_call_status(status)
    except ValueError as error:  # nothing left of it: blank, punctuation, control characters
        raise BadRequest(f"status {status!r} is not a call status") from error


def _page_size(limit: str | None) -> int:
    if limit is None or limit == "":
        return DEFAULT_PAGE_SIZE
    if not (limit.isascii() and limit.isdigit()) or not 1 <= int(limit) <= MAX_PAGE_SIZE:
        raise BadRequest(f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}")
    return int(limit)


def _token(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key).encode()).decode().rstrip("=")


def _start_key(token: str, partition: dict[str, str]) -> dict[str, Any]:
    """A token only continues the query it came from: it must hold exactly that query's key
    attributes, as text, in this query's partition and among attempts, so an edited token can
    neither read another campaign nor reach DynamoDB as a malformed key."""
    try:
        key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as error:
        raise BadRequest("next_token is not a token this API issued") from error
    names = {"PK", "SK", *partition, *(("GSI1SK",) if "GSI1PK" in partition else ())}
    if (
        not isinstance(key, dict)
        or set(key) != names
        or not all(isinstance(value, dict) and set(value) == {"S"} for value in key.values())
        or not all(isinstance(value["S"], str) for value in key.values())
    ):
        raise BadRequest("next_token is not a token this API issued")
    plain = {name: value["S"] for name, value in key.items()}
    if any(plain[name] != value for name, value in partition.items()):
        raise BadRequest("next_token belongs to another query")
    if not plain["SK"].startswith(ATTEMPT_SK_PREFIX):
        raise BadRequest("next_token is not a token this API issued")
    return key
