"""Whom to call again: a campaign's numbers whose final outcome is in the asked statuses, as
Exotel's contact-list CSV (a `number` column in E.164), what was left out and why, and the
hours of the day the campaign connected best (docs/architecture.md, "Redial lists").

Pure: it reads the campaign's attempts (the calls index) and the numbers' outcomes as the
ledger stores them; views/campaigns.py fetches them.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from exotel_webhooks.ledger.keys import is_e164
from exotel_webhooks.ledger.precedence import CALL_STATUS_RANKS
from exotel_webhooks.normalise import normalise_call_status, parse_timestamp
from exotel_webhooks.observability import scrub_phone_numbers

# A number's outcome is final once Exotel stops retrying it: these are the statuses it can end
# in (precedence.py ranks them above the progress states).
FINAL_CALL_STATUSES = frozenset(s for s, rank in CALL_STATUS_RANKS.items() if rank >= 5)
DEFAULT_REDIAL_STATUSES = ("busy", "no-answer", "failed")
CONNECTED = "completed"
BEST_HOURS = 3
# An hour needs this many attempts before its connect rate is worth suggesting.
MIN_ATTEMPTS_FOR_AN_HOUR = 5


class UnknownStatus(ValueError):
    pass


def redial_statuses(text: str | None) -> tuple[str, ...]:
    """`busy,No Answer` -> ("busy", "no-answer"); an empty or absent list is the default.
    Raises UnknownStatus naming what is not a final call status."""
    if text is None or not text.strip():
        return DEFAULT_REDIAL_STATUSES
    wanted: list[str] = []
    for word in text.split(","):
        try:
            status = normalise_call_status(word)
        except ValueError:
            status = word.strip()
        if status not in FINAL_CALL_STATUSES:
            known = ", ".join(sorted(FINAL_CALL_STATUSES))
            # echoed shortened and scrubbed: a caller may paste anything, a number included
            shown = scrub_phone_numbers(word.strip()[:24])
            raise UnknownStatus(f"{shown!r} is not a final call status ({known})")
        if status not in wanted:
            wanted.append(status)
    return tuple(wanted)


@dataclass(frozen=True)
class HourRate:
    hour: int  # of the day, in the campaign's zone
    attempts: int
    connected: int

    @property
    def rate(self) -> float:
        return self.connected / self.attempts


@dataclass(frozen=True)
class RedialList:
    numbers: list[str]
    left_out: dict[str, int] = field(default_factory=dict)  # reason -> numbers
    best_hours: list[HourRate] = field(default_factory=list)

    def csv(self) -> str:
        """Exotel's contact-list upload: a header row, then one E.164 number a row."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["number"])
        writer.writerows([number] for number in self.numbers)
        return out.getvalue()


def redial_list(
    attempts: Iterable[Mapping[str, Any]],
    outcomes: Mapping[str, Mapping[str, Any]],
    statuses: tuple[str, ...],
    zone: ZoneInfo,
    not_found: int = 0,
) -> RedialList:
    """`attempts`: the campaign's attempts (`number`: the subscriber key, `call_sid`, `status`,
    `date_created`, `date_updated`); `outcomes`: the stored outcomes by subscriber key;
    `not_found`: numbers with an outcome stored that no attempt names (counted, not listed)."""
    attempts = list(attempts)
    # a masked subscriber's retries are keyed by their own call SIDs; its outcome by the first
    covered = {sid for outcome in outcomes.values() for sid in outcome.get("call_sids") or []}
    numbers = {
        str(a["number"])
        for a in attempts
        if str(a["number"]) in outcomes or a.get("call_sid") not in covered
    }
    chosen: list[str] = []
    left_out: Counter[str] = Counter()
    for number in sorted(numbers):
        outcome = outcomes.get(number)
        if outcome is None or outcome.get("status") not in FINAL_CALL_STATUSES:
            left_out["no final outcome yet"] += 1
        elif outcome.get("status") not in statuses:
            continue  # not asked for
        elif not is_e164(number):
            left_out["number masked or partial (not dialable)"] += 1
        else:
            chosen.append(number)
    if not_found:
        left_out["outcome stored without an attempt (not found; make sweep recovers them)"] = (
            not_found
        )
    return RedialList(chosen, dict(left_out), best_hours(attempts, zone))


def best_hours(attempts: Iterable[Mapping[str, Any]], zone: ZoneInfo) -> list[HourRate]:
    """Connect rate by the hour each final attempt was dialled (`date_created`, else
    `date_updated`), in the campaign's zone; unreadable times are skipped."""
    by_hour: dict[int, Counter[str]] = defaultdict(Counter)
    for attempt in attempts:
        moment = attempt.get("date_created") or attempt.get("date_updated")
        if attempt.get("status") not in FINAL_CALL_STATUSES or not moment:
            continue
        try:
            dialled = parse_timestamp(str(moment), zone)
        except ValueError:
            continue
        hour = dialled.astimezone(zone).hour
        by_hour[hour]["attempts"] += 1
        by_hour[hour]["connected"] += attempt.get("status") == CONNECTED
    rates = [
        HourRate(hour, counts["attempts"], counts["connected"])
        for hour, counts in by_hour.items()
        if counts["attempts"] >= MIN_ATTEMPTS_FOR_AN_HOUR and counts["connected"]
    ]
    rates.sort(key=lambda r: (-r.rate, -r.attempts, r.hour))
    return rates[:BEST_HOURS]
