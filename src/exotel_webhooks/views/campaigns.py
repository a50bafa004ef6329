"""The read API's answers (openapi.yaml; docs/architecture.md, "Read API"): one Query each."""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from exotel_webhooks.ledger.counting import cost_view, reconciliation_view, sum_counters
from exotel_webhooks.ledger.keys import (
    CALL_SHARDS,
    ForeignStartKey,
    calls_start_key,
    is_attempt,
    is_counter,
    is_outcome,
    is_summary,
    masked_part,
    subscriber_of,
)
from exotel_webhooks.ledger.silence import last_heard, silent_since
from exotel_webhooks.ledger.table import CampaignTable
from exotel_webhooks.normalise import normalise_call_status, normalise_phone
from exotel_webhooks.settings import NormalisationRules
from exotel_webhooks.views.redial import RedialList, UnknownStatus, redial_list, redial_statuses
from exotel_webhooks.views.summary import CampaignFigures, campaign_figures

DEFAULT_PAGE_SIZE = 50
MAX_QUERIES = 20  # index pages one calls request may read
MAX_PAGE_SIZE = 100
CALL_FIELDS = ("call_sid", "number", "status", "date_created", "date_updated")
ATTEMPT_FIELDS = ("call_sid", "status", "date_created", "date_updated")
SWEEP_FIELDS = ("last_run", "attempts_recovered", "numbers_recovered", "refused", "rows_refused")


class CampaignNotFound(Exception):
    pass


class BadRequest(Exception):
    pass


class TooLargeForTheApi(Exception):
    """An answer the API cannot give within its time: the command can."""


class CampaignViews:
    def __init__(
        self,
        table: CampaignTable,
        rules: NormalisationRules,
        clock: Callable[[], float] = time.time,
        recording_url: Callable[[str], str] | None = None,
    ) -> None:
        self.table = table
        self.rules = rules
        self.clock = clock
        self.recording_url = recording_url  # a kept recording's object -> a short-lived URL

    def campaign(self, campaign_sid: str) -> dict[str, Any]:
        """The summary and the counter items, in one Query."""
        items = self.table.campaign_items(campaign_sid)
        summary = next((item for item in items if is_summary(item)), None)
        counters = sum_counters([item for item in items if is_counter(item)])
        if summary is None and not any(counters.values()):
            # nothing stored, or everything expired (reset counters linger, counting nothing)
            raise CampaignNotFound(f"no campaign {campaign_sid}")
        summary = summary or {}
        scan = summary.get("reconciliation")
        return {
            "campaign_sid": campaign_sid,
            "status": summary.get("status"),
            "date_created": summary.get("date_created"),
            "date_updated": summary.get("date_updated"),
            "attempts": _counted(counters, "attempts"),
            "numbers": _counted(counters, "numbers"),
            "report": _report(summary.get("report")),
            "reconciliation": reconciliation_view(scan, counters) if scan is not None else None,
            "sweep": _sweep(summary.get("sweep")),
            "cost": cost_view(counters, self.rules.currency),
            # when the last callback was stored; set while the silence after it is announced
            "last_callback_at": last_heard(items),
            "silent_since": silent_since(items),
        }

    def number(self, campaign_sid: str, number: str) -> dict[str, Any]:
        """The number's outcome and all its attempts in this campaign: one item collection."""
        # `0XXXXXX4890@<call SID>`: a masked number's own key (campaign_table.subscriber_key)
        key = (
            number
            if "@" in number
            else normalise_phone(number, self.rules.default_phone_region).key
        )
        items = self.table.number_collection(campaign_sid, key)
        if not items:
            if not self.table.campaign_items(campaign_sid):
                raise CampaignNotFound(f"no campaign {campaign_sid}")
            raise CampaignNotFound(f"no number {key} in campaign {campaign_sid}")
        outcome: dict[str, Any] = next((item for item in items if is_outcome(item)), {})
        attempts = [item for item in items if is_attempt(item)]
        if "@" in key:  # a masked subscriber's retries are keyed by their own call SIDs
            known = {attempt["call_sid"] for attempt in attempts}
            missing = [sid for sid in outcome.get("call_sids") or [] if sid not in known]
            attempts += self.table.attempts(campaign_sid, masked_part(key), missing)
        attempts.sort(key=lambda item: (item.get("date_created") or "", item["call_sid"]))
        return {
            "campaign_sid": campaign_sid,
            "number": key,
            "status": outcome.get("status"),
            "from": outcome.get("from"),
            "call_sids": list(outcome.get("call_sids") or [a["call_sid"] for a in attempts]),
            "attempts": [
                {name: attempt.get(name) for name in ATTEMPT_FIELDS}
                | {"source": attempt.get("source", "callback")}
                | {"details": _details(attempt.get("details"))}
                | {"recording_url": self._recording_url(attempt)}
                for attempt in attempts
            ],
            "source": outcome.get("source", "callback"),
        }

    def _recording_url(self, attempt: dict[str, Any]) -> str | None:
        kept = attempt.get("recording") or {}
        if not kept.get("key") or not self.recording_url:
            return None
        return self.recording_url(str(kept["key"]))

    def calls(
        self,
        campaign_sid: str,
        status: str | None = None,
        limit: str | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """A page of the campaign's attempts, all of them or one status, read from the calls
        index shard by shard. With a status a page may hold fewer than `limit` (the index is
        filtered, and one request reads at most MAX_QUERIES pages of it): follow next_token
        until it is null."""
        page_size = _page_size(limit)
        wanted = _call_status(status) if status else None
        shard, start = _position(next_token, campaign_sid) if next_token else (0, None)
        items: list[dict[str, Any]] = []
        for _ in range(MAX_QUERIES):
            if shard >= CALL_SHARDS or len(items) >= page_size:
                break
            page = self.table.calls_page(campaign_sid, shard, page_size - len(items), wanted, start)
            items += page.items
            shard, start = (shard, page.last_key) if page.last_key else (shard + 1, None)
        if not items and not next_token and not self.table.campaign_items(campaign_sid):
            raise CampaignNotFound(f"no campaign {campaign_sid}")
        return {
            "items": [{name: item.get(name) for name in CALL_FIELDS} for item in items],
            "next_token": _token(shard, start) if shard < CALL_SHARDS else None,
        }

    def _attempts(
        self, campaign_sid: str, max_attempts: int | None, what_lists_it: str
    ) -> list[dict[str, Any]]:
        """Every attempt of the campaign from the calls index, each with its subscriber as
        `number`. With `max_attempts` (the read API's), a larger campaign is refused."""
        attempts: list[dict[str, Any]] = []
        for shard in range(CALL_SHARDS):
            start = None
            while True:
                page = self.table.calls_page(campaign_sid, shard, 1000, None, start)
                attempts += [a | {"number": subscriber_of(a)} for a in page.items]
                if max_attempts is not None and len(attempts) > max_attempts:
                    raise TooLargeForTheApi(
                        f"campaign {campaign_sid} has more than {max_attempts:,} attempts: "
                        f"{what_lists_it}"
                    )
                if not (start := page.last_key):
                    break
        return attempts

    def _outcomes(
        self, campaign_sid: str, attempts: list[dict[str, Any]]
    ) -> tuple[dict[str, dict[str, Any]], set[str]]:
        """The outcomes of the numbers the attempts name, by subscriber, and the subscribers
        whose outcome is past DataRetentionDays (not yet removed by DynamoDB's TTL: gone)."""
        subscribers = sorted({a["number"] for a in attempts})
        now = self.clock()
        outcomes, expired = {}, set()
        for outcome in self.table.outcomes(campaign_sid, subscribers):
            key = subscriber_of(outcome)
            if outcome.get("expires_at") and int(outcome["expires_at"]) <= now:
                expired.add(key)
            else:
                outcomes[key] = outcome
        return outcomes, expired

    def summary_figures(
        self, campaign_sid: str, max_attempts: int | None = None
    ) -> CampaignFigures:
        """The summary page's figures (views/summary.py): the campaign's counters, report,
        reconciliation and sweeps, and every attempt and outcome still kept."""
        view = self.campaign(campaign_sid)
        attempts = self._attempts(campaign_sid, max_attempts, "make summary writes it")
        outcomes, expired = self._outcomes(campaign_sid, attempts)
        attempts = [a for a in attempts if a["number"] not in expired]
        return campaign_figures(view, attempts, outcomes, self.rules.local_timezone)

    def redial(
        self, campaign_sid: str, statuses: str | None = None, max_attempts: int | None = None
    ) -> RedialList:
        """The numbers to call again (views/redial.py): every attempt of the campaign from the
        calls index, then the outcomes and the tombstones of the numbers they name. With
        `max_attempts` (the read API's), a larger campaign is refused: TooLargeForTheApi."""
        try:
            wanted = redial_statuses(statuses)
        except UnknownStatus as error:
            raise BadRequest(str(error)) from error
        attempts = self._attempts(campaign_sid, max_attempts, "make redial lists it")
        try:
            counted = self.campaign(campaign_sid)["numbers"]["total"]
        except CampaignNotFound:
            if not attempts:
                raise
            counted = 0  # attempts stored, not yet counted (the stream trails)
        outcomes, expired = self._outcomes(campaign_sid, attempts)
        attempts = [a for a in attempts if a["number"] not in expired]
        not_found = max(0, int(counted) - len(outcomes) - len(expired))
        listed = redial_list(attempts, outcomes, wanted, self.rules.local_timezone, not_found)
        erased = self.table.erased_among(campaign_sid, listed.numbers)
        if not erased:
            return listed
        left_out = listed.left_out | {"erased (make erase)": len(erased)}
        kept = [number for number in listed.numbers if number not in erased]
        return RedialList(kept, left_out, listed.best_hours)


def _counted(counters: dict[str, int], family: str) -> dict[str, Any]:
    prefix = f"{family}_status#"
    by_status = {
        name.removeprefix(prefix): value
        for name, value in sorted(counters.items())
        if name.startswith(prefix) and value
    }
    return {"total": counters.get(f"{family}_total", 0), "by_status": by_status}


def _report(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """The summary's report, without the processor's note that its request went out."""
    if report is None:
        return None
    return {name: _plain(value) for name, value in report.items() if name != "requested"}


def _plain(value: Any) -> Any:  # noqa: ANN401
    """DynamoDB numbers (Decimal) back to JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {name: _plain(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """An attempt's call details: its price as text (exact), the rest as JSON numbers."""
    if not details:
        return None
    return {name: str(v) if name == "price" else _plain(v) for name, v in details.items()}


def _sweep(progress: dict[str, Any] | None) -> dict[str, Any] | None:
    if not progress or not progress.get("last_run"):
        return None
    return {name: _plain(progress.get(name)) for name in SWEEP_FIELDS}


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


def _token(shard: int, start_key: dict[str, Any] | None) -> str:
    text = json.dumps({"shard": shard, "key": start_key})
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _position(token: str, campaign_sid: str) -> tuple[int, dict[str, Any] | None]:
    """A token only continues the query it came from: a call shard of this campaign and, if
    any, a paging key the table accepts for that shard (`calls_start_key`)."""
    try:
        position = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError) as error:
        raise BadRequest("next_token is not a token this API issued") from error
    if not isinstance(position, dict) or set(position) != {"shard", "key"}:
        raise BadRequest("next_token is not a token this API issued")
    shard, key = position["shard"], position["key"]
    if type(shard) is not int or not 0 <= shard < CALL_SHARDS:
        raise BadRequest("next_token is not a token this API issued")
    if key is None:
        return shard, None
    try:
        return shard, calls_start_key(campaign_sid, shard, key)
    except ForeignStartKey as error:
        raise BadRequest("next_token belongs to another query") from error
    except ValueError as error:
        raise BadRequest("next_token is not a token this API issued") from error
