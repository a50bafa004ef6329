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
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from exotel_webhooks.ledger.keys import is_e164
from exotel_webhooks.ledger.precedence import CALL_STATUS_RANKS
from exotel_webhooks.normalise import normalise_call_status

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
            raise UnknownStatus(f"{word.strip()!r} is not a final call status ({known})")
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
    only_in_report: int = 0,
) -> RedialList:
    """`attempts`: the campaign's attempts (`number`, `status`, `date_updated` or
    `date_created`); `outcomes`: each number's stored outcome by number; `only_in_report`:
    numbers the report backfilled that have no attempt to find them by."""
    numbers: set[str] = set()
    by_hour: dict[int, Counter[str]] = defaultdict(Counter)
    for attempt in attempts:
        numbers.add(str(attempt["number"]))
        moment = attempt.get("date_updated") or attempt.get("date_created")
        if moment:
            hour = datetime.fromisoformat(str(moment)).astimezone(zone).hour
            by_hour[hour]["attempts"] += 1
            by_hour[hour]["connected"] += attempt.get("status") == CONNECTED
    chosen: list[str] = []
    left_out: Counter[str] = Counter()
    for number in sorted(numbers):
        outcome = outcomes.get(number)
        if outcome is None:
            left_out["no final outcome yet"] += 1
        elif outcome.get("status") not in statuses:
            continue  # not asked for
        elif not is_e164(number):
            left_out["number masked or partial (not dialable)"] += 1
        else:
            chosen.append(number)
    if only_in_report:
        left_out["known only from the report (no attempt stored)"] = only_in_report
    rates = [
        HourRate(hour, counts["attempts"], counts["connected"])
        for hour, counts in by_hour.items()
        if counts["attempts"] >= MIN_ATTEMPTS_FOR_AN_HOUR and counts["connected"]
    ]
    rates.sort(key=lambda r: (-r.rate, -r.attempts, r.hour))
    return RedialList(chosen, dict(left_out), rates[:BEST_HOURS])
